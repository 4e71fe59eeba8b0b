"""Activities and expiration journals: a member's history and the stamps due to expire."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from .._endpoint import stamps
from .._paging import KeysetPages
from .._request import compact
from .._validate import iso_date, optional_id, user_ref
from ._resource import StampsResource
from .pos_models import Activity, ActivityPage, ExpirationJournal, ExpirationJournalPage

__all__ = ["Activities", "ExpirationJournals"]

ACTIVITIES_LIST = stamps("GET", "/api/v3/activities/", ActivityPage, idempotent=True)
ACTIVITIES_BY_MERCHANT_GROUP = stamps(
    "GET", "/api/v3/activities/by-merchant-group", ActivityPage, idempotent=True
)
EXPIRATION_JOURNALS_LIST = stamps(
    "GET", "/api/v2/expiration-journals/", ExpirationJournalPage, idempotent=True
)

#: Activities per page, as the documents fix it.
PAGE = 20


def _older(page: ActivityPage) -> int | None:
    """The cursor after ``page``: none once a page comes back short of 20."""
    if len(page.activities) < PAGE:
        return None
    return page.activities[-1].id


class Activities(StampsResource):
    """``stamps.activities``: a member's activity list, 20 at a time, newest first."""

    async def list(self, *, user: str | int, older_than: int | None = None) -> ActivityPage:
        """GET /api/v3/activities/: the 20 activities before ``older_than`` (an activity
        id; the latest 20 without it)."""
        query = compact(user=user_ref(user), older_than=optional_id(older_than, "older_than"))
        return await self._call(ACTIVITIES_LIST, query=query)

    def all(self, *, user: str | int, prefetch: int = 2) -> KeysetPages[Activity, int]:
        """GET /api/v3/activities/, every page: an async iterator over a member's
        activities, newest first, up to ``prefetch`` pages ahead."""
        ref = user_ref(user)

        async def fetch(cursor: int | None) -> tuple[list[Activity], int | None]:
            page = await self.list(user=ref, older_than=cursor)
            return page.activities, _older(page)

        return KeysetPages(fetch, prefetch=prefetch, what="activities")

    async def by_merchant_group(
        self,
        *,
        user: str | int,
        merchant_id: Sequence[int] | None = None,
        older_than: int | None = None,
    ) -> ActivityPage:
        """GET /api/v3/activities/by-merchant-group: 20 activities across the group."""
        query = compact(
            user=user_ref(user),
            merchant_id=None if merchant_id is None else [int(m) for m in merchant_id],
            older_than=optional_id(older_than, "older_than"),
        )
        return await self._call(ACTIVITIES_BY_MERCHANT_GROUP, query=query)

    def all_by_merchant_group(
        self, *, user: str | int, merchant_id: Sequence[int] | None = None, prefetch: int = 2
    ) -> KeysetPages[Activity, int]:
        """GET /api/v3/activities/by-merchant-group, every page (an async iterator)."""
        ref = user_ref(user)

        async def fetch(cursor: int | None) -> tuple[list[Activity], int | None]:
            page = await self.by_merchant_group(
                user=ref, merchant_id=merchant_id, older_than=cursor
            )
            return page.activities, _older(page)

        return KeysetPages(fetch, prefetch=prefetch, what="activities by merchant group")


class ExpirationJournals(StampsResource):
    """``stamps.expiration_journals``: the stamps of a member due to expire, and when."""

    async def list(
        self, *, user: str | int, minimum_expiration_date: dt.date | str | None = None
    ) -> list[ExpirationJournal]:
        """GET /api/v2/expiration-journals/: a member's expiration journals (from
        ``minimum_expiration_date`` on). The documents give this listing no pages."""
        query = compact(
            user=user_ref(user),
            minimum_expiration_date=iso_date(minimum_expiration_date, "minimum_expiration_date"),
        )
        return (await self._call(EXPIRATION_JOURNALS_LIST, query=query)).expiration_journals
