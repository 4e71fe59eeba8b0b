"""Stamped.io reviews."""

from __future__ import annotations

from collections.abc import Hashable

from .._endpoint import stamped
from .._engine.export import Export, export_listing
from .._request import compact
from .._validate import email as check_email
from .._validate import positive
from ._resource import StampedResource
from .customers import MAX_PAGE_SIZE, check_paging
from .models import Review, ReviewPage

__all__ = ["Reviews"]

LIST_REVIEWS = stamped("GET", "/reviews", ReviewPage, idempotent=True)


def _review_key(review: Review) -> Hashable | None:
    return review.key


class Reviews(StampedResource):
    """``stamped.reviews``: list and export reviews, optionally by author email."""

    async def list(
        self, *, email: str | None = None, page: int = 1, limit: int = MAX_PAGE_SIZE
    ) -> ReviewPage:
        """GET /api/v2/{store_hash}/reviews: one page of reviews, optionally by one author."""
        page, limit = check_paging(page, limit)
        query = compact(
            email=None if email is None else check_email(email, "email"), page=page, limit=limit
        )
        return await self._call(LIST_REVIEWS, query=query)

    def export(
        self,
        *,
        email: str | None = None,
        page_size: int = MAX_PAGE_SIZE,
        start_page: int = 1,
        prefetch: int | None = None,
    ) -> Export[Review]:
        """Every review (of one author if ``email`` is given), page after page, in order.

        Same machinery as ``customers.export``: bounded prefetch through the throttle,
        de-duplication by review id, a resume point in ``stats.next_page``.
        """
        page_size = check_paging(1, page_size)[1]
        start_page = positive(start_page, "start_page")
        if email is not None:
            email = check_email(email, "email")

        async def fetch(number: int) -> ReviewPage:
            return await self.list(email=email, page=number, limit=page_size)

        return export_listing(
            self._client,
            fetch,
            page_size=page_size,
            start_page=start_page,
            prefetch=prefetch,
            key=_review_key,
            what="reviews",
        )
