"""Every item of a V3 ``page``/``limit``/``morePages`` listing, in order, pages fetched ahead.

V3 pages announce no total, only whether more follow. So the pages after the first are
fetched speculatively: at most ``prefetch`` in flight (all through the client's throttle),
yielded strictly in page order. The page that says ``morePages: false`` ends the
listing; fetches already started past it are cancelled (at most ``prefetch - 1``
requests wasted at the end, the price of not waiting a round trip per page).

The page numbering is taken from the server: the reference gives ``page`` a default of
0 while its conventions call it 1-based. The first request names no page (the server's
first), and the next asks for the page after the one the answer says it is.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from ..._engine.export import Items, OrderedPages
from ..._paging import LoopGuard

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

log = logging.getLogger("stampsync")


class V3Page(Items[T_co], Protocol[T_co]):
    """What a listing needs of a page: its items, its number, whether more follow."""

    @property
    def page(self) -> int | None: ...  # pragma: no cover

    @property
    def more_pages(self) -> bool | None: ...  # pragma: no cover


@dataclass
class ListingStats:
    """What a listing saw."""

    pages: int = 0
    items: int = 0
    duplicates: int = 0
    """Items seen twice (a page shifted by an insert) and yielded once."""
    speculative: int = 0
    """Fetches started past the last page and cancelled or discarded."""
    next_page: int | None = None
    """The first page not yet fully yielded: pass it as ``start_page`` to resume."""
    looped: bool = False
    """True if the listing stopped because the server went round in circles: a page
    sent twice, or one that brought nothing not seen before (logged as a warning)."""


class Listing(OrderedPages[T]):
    """An async iterator over every item of a V3 listing.

    ``async for item in listing:``; wrap it in ``async with`` to stop in-flight fetches
    the moment you leave the loop early. ``stats`` says what was seen. A page the
    server already sent, or one whose items were all seen before, ends the listing with
    a warning: a server that repeats itself is not read forever.
    """

    stats: ListingStats

    def __init__(
        self,
        fetch: Callable[[int | None], Awaitable[V3Page[T]]],
        *,
        start_page: int | None,
        limit: int,
        prefetch: int,
        key: Callable[[T], Hashable | None],
        what: str,
    ) -> None:
        super().__init__(fetch, prefetch=prefetch, key=key, what=what)
        self._start = start_page
        self._limit = limit
        self.stats = ListingStats(next_page=start_page)
        self._iterator = self._run()

    def _more(self, page: V3Page[T]) -> bool:
        if not page.items:
            if page.more_pages:
                log.warning(
                    "%s listing: an empty page says more pages follow; stopping", self._what
                )
            return False
        if page.more_pages is not None:
            return page.more_pages
        return len(page.items) >= self._limit  # no flag: a short page is the last

    async def _run(self) -> AsyncGenerator[T, None]:
        stats = self.stats
        guard = LoopGuard(self._what)
        first = await self._fetch(self._start)
        stats.pages += 1
        guard.page_repeated(first.items, stats.pages)  # remembered, never repeated yet
        number = first.page if first.page is not None else (self._start or 0)
        fresh = self._fresh(first.items)
        for item in fresh:
            stats.items += 1
            yield item
        stats.next_page = number + 1
        if not self._more(first):
            return
        pending: collections.deque[tuple[int, asyncio.Task[V3Page[T]]]] = collections.deque()
        next_to_fetch = number + 1
        try:
            while True:
                while len(pending) < self._prefetch:
                    pending.append(
                        (next_to_fetch, asyncio.ensure_future(self._fetch(next_to_fetch)))
                    )
                    next_to_fetch += 1
                number, task = pending.popleft()
                page = await task
                stats.pages += 1
                if guard.page_repeated(page.items, stats.pages):
                    stats.looped = True
                    return
                fresh = self._fresh(page.items)
                for item in fresh:
                    stats.items += 1
                    yield item
                stats.next_page = number + 1
                if guard.nothing_new(page.items, len(fresh), stats.pages):
                    stats.looped = True
                    return
                if not self._more(page):
                    return
        finally:
            stats.speculative += len(pending)
            await self._cancel(pending)
