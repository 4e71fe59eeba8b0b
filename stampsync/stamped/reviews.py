"""Stamped.io reviews."""

from __future__ import annotations

import functools
from collections.abc import Hashable

from .._endpoint import stamped
from .._engine.export import Export
from .._request import compact
from .._validate import email as check_email
from ._resource import StampedResource
from .customers import MAX_PAGE_SIZE, check_paging, export_pages
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
        if email is not None:
            email = check_email(email, "email")
        return export_pages(
            self,
            functools.partial(self.list, email=email),
            _review_key,
            "reviews",
            page_size,
            start_page,
            prefetch,
        )
