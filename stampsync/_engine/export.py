"""Export every item of an offset-paged listing, fast and in order, without losing any.

Page 1 tells the total; the other pages are then fetched concurrently (at most
``prefetch`` ahead of the page being read, all through the client's throttle) and
yielded strictly in page order. Memory stays at ``prefetch`` pages whatever the total.

Offset pages shift when records change during an export: an insert pushes an item onto
the next page (seen twice: de-duplicated by key), a delete pulls one back (never seen:
detectable only as a changed total or a short page). Both are counted in
:class:`ExportStats` and logged as warnings, never silently ignored. A shift moves items
across a page boundary, so the keys of the last few pages are all that de-duplication
needs to remember: memory stays flat however many items are exported.

The announced total is a hint, not a promise: the first empty page before the page it
announces as last ends the export (one warning, ``complete`` false). So does a server
going round in circles: a page it already sent, or one whose items were all seen before
(``looped``), which would otherwise be read up to a lying total, or forever without one.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import math
from collections.abc import AsyncGenerator, Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from .._lanes import as_bulk
from .._paging import LoopGuard, PagedIterator
from .._validate import positive

if TYPE_CHECKING:
    from .._client import BaseClient

__all__ = ["Export", "ExportStats", "PageLike", "PagedIterator"]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

log = logging.getLogger("stampsync")

#: Pages whose keys are remembered for de-duplication (shifts cross one boundary).
RECENT_PAGES = 3


class Items(Protocol[T_co]):
    """What every paged listing needs of a page: its items."""

    @property
    def items(self) -> Sequence[T_co]: ...  # pragma: no cover


class PageLike(Items[T_co], Protocol[T_co]):
    """What an export needs of a page: its items and the listing's total."""

    @property
    def total(self) -> int | None: ...  # pragma: no cover


@dataclass
class ExportStats:
    """What an export saw. ``complete`` is False if anything suggests a lost item."""

    total_first: int | None = None
    """The total the first page announced."""
    total_last: int | None = None
    """The total the latest page announced."""
    pages: int = 0
    items: int = 0
    duplicates: int = 0
    """Items seen twice (a page shifted by an insert) and yielded once."""
    short_pages: list[int] = field(default_factory=list)
    """Pages, other than the last, that held fewer items than ``page_size``."""
    next_page: int = 1
    """The first page not yet fully yielded: pass it as ``start_page`` to resume."""
    looped: bool = False
    """True if the export stopped because the server went round in circles: a page
    sent twice, or one that brought nothing not seen before (logged as a warning)."""

    @property
    def total_changed(self) -> bool:
        """True if the total moved during the export (records were added or removed)."""
        return self.total_first is not None and self.total_last != self.total_first

    @property
    def complete(self) -> bool:
        """True when nothing suggests an item was missed."""
        return not self.total_changed and not self.short_pages and not self.looped


class _Counted(Protocol):
    duplicates: int


class OrderedPages(PagedIterator[T]):
    """What the offset export and the V3 listing share: pages fetched in the bulk lane
    at most ``prefetch`` ahead, items de-duplicated by ``key``.

    Subclasses set ``stats`` (with a ``duplicates`` count) and ``_iterator``.
    """

    stats: _Counted

    def __init__(
        self,
        fetch: Callable[[Any], Awaitable[Any]],
        *,
        prefetch: int,
        key: Callable[[T], Hashable | None],
        what: str,
    ) -> None:
        self._fetch = as_bulk(fetch)  # a listing read page after page is bulk work
        self._prefetch = prefetch
        self._key = key
        self._what = what
        self._recent: collections.deque[set[Hashable]] = collections.deque(maxlen=RECENT_PAGES)

    def _fresh(self, items: Sequence[T]) -> list[T]:
        """The items not seen before on this page or the few before it, where a page
        shifted by an insert repeats them."""
        out = []
        page_keys: set[Hashable] = set()
        recent = self._recent
        for item in items:
            key = self._key(item)
            if key is not None:
                if key in page_keys or any(key in keys for keys in recent):
                    self.stats.duplicates += 1
                    continue
                page_keys.add(key)
            out.append(item)
        recent.append(page_keys)
        return out

    @staticmethod
    async def _cancel(pending: collections.deque[tuple[int, asyncio.Task[Any]]]) -> None:
        """Cancel the page fetches still pending and wait until they have ended."""
        for _, task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*(t for _, t in pending), return_exceptions=True)


class Export(OrderedPages[T]):
    """An async iterator over every item of a paged listing.

    Use it as ``async for item in export:``; wrap it in ``async with`` (or
    ``contextlib.aclosing``) to stop in-flight page fetches the moment you leave the
    loop early. ``stats`` says what was seen, and where to resume.
    """

    stats: ExportStats

    def __init__(
        self,
        fetch: Callable[[int], Awaitable[PageLike[T]]],
        *,
        page_size: int,
        start_page: int,
        prefetch: int,
        key: Callable[[T], Hashable | None],
        what: str,
    ) -> None:
        super().__init__(fetch, prefetch=prefetch, key=key, what=what)
        self._page_size = page_size
        self._start_page = start_page
        self.stats = ExportStats(next_page=start_page)
        self._iterator = self._run()

    def _check_page(self, number: int, page: PageLike[T], last_page: int | None) -> None:
        stats = self.stats
        stats.pages += 1
        if page.total is not None:
            if stats.total_last is not None and page.total != stats.total_last:
                log.warning(
                    "%s export: total changed from %s to %s at page %d; records "
                    "changed during the export",
                    self._what,
                    stats.total_last,
                    page.total,
                    number,
                )
            stats.total_last = page.total
        if last_page is not None and number < last_page and len(page.items) < self._page_size:
            stats.short_pages.append(number)
            log.warning(
                "%s export: page %d held %d items, expected %d; items may have shifted",
                self._what,
                number,
                len(page.items),
                self._page_size,
            )

    def _past_the_data(self, number: int, page: PageLike[T], last_page: int | None) -> bool:
        """True (with one warning) if an empty page came before the announced last page.

        An announced total is a promise the server may not keep (records deleted, or a
        hostile answer of 10**9): the first empty page ends the export rather than a
        request per announced page. The export is then not ``complete``.
        """
        if page.items or last_page is None or number >= last_page:
            return False
        stats = self.stats
        stats.pages += 1
        stats.short_pages.append(number)
        stats.next_page = number + 1
        log.warning(
            "%s export: page %d is empty though the total (%s) announced %d pages; "
            "stopping here, the total was wrong or records were deleted",
            self._what,
            number,
            stats.total_last,
            last_page,
        )
        return True

    async def _run(self) -> AsyncGenerator[T, None]:
        stats = self.stats
        guard = LoopGuard(self._what)
        first = await self._fetch(self._start_page)
        stats.total_first = stats.total_last = first.total
        last_page = self._announced_last_page(first.total)
        if self._past_the_data(self._start_page, first, last_page):
            return
        self._check_page(self._start_page, first, last_page)
        guard.page_repeated(first.items, stats.pages)  # remembered, never repeated yet
        for item in self._fresh(first.items):
            stats.items += 1
            yield item
        stats.next_page = self._start_page + 1
        if self._short_end(first, last_page):
            return

        pending: collections.deque[tuple[int, asyncio.Task[PageLike[T]]]] = collections.deque()
        next_to_fetch = self._start_page + 1
        # The window grows as pages are read (2, 4, 8, ... up to prefetch): a consumer
        # that stops after a few items has cost a few pages, not a whole window.
        window = min(2, self._prefetch)
        try:
            while True:
                next_to_fetch = self._fetch_ahead(pending, next_to_fetch, window, last_page)
                if not pending:
                    return
                number, task = pending.popleft()
                page = await task
                if self._ends_here(number, page, last_page, guard):
                    return
                last_page = self._grown_last_page(last_page, page)
                fresh = self._fresh(page.items)
                for item in fresh:
                    stats.items += 1
                    yield item
                stats.next_page = number + 1
                if guard.nothing_new(page.items, len(fresh), stats.pages):
                    stats.looped = True
                    return
                window = min(window * 2, self._prefetch)
                if self._short_end(page, last_page):
                    return
        finally:
            await self._cancel(pending)

    def _announced_last_page(self, total: int | None) -> int | None:
        """The last page by the first page's total; None without a total (then the
        export reads on until a page comes back short)."""
        if total is None:
            return None
        return max(self._start_page, math.ceil(total / self._page_size))

    def _short_end(self, page: PageLike[T], last_page: int | None) -> bool:
        """True if, without a total, ``page`` came back short: it was the last."""
        return last_page is None and len(page.items) < self._page_size

    def _fetch_ahead(
        self,
        pending: collections.deque[tuple[int, asyncio.Task[PageLike[T]]]],
        next_to_fetch: int,
        window: int,
        last_page: int | None,
    ) -> int:
        """Start fetching pages until ``window`` are pending; the next page to fetch."""
        while len(pending) < window and (last_page is None or next_to_fetch <= last_page):
            task = asyncio.ensure_future(self._fetch(next_to_fetch))
            pending.append((next_to_fetch, task))
            next_to_fetch += 1
        return next_to_fetch

    def _ends_here(
        self, number: int, page: PageLike[T], last_page: int | None, guard: LoopGuard
    ) -> bool:
        """Check page ``number``; True if the export ends before its items: an empty
        page before the announced last, or a page the server already sent (``looped``)."""
        if self._past_the_data(number, page, last_page):
            return True
        self._check_page(number, page, last_page)
        if guard.page_repeated(page.items, self.stats.pages):
            self.stats.looped = True
            return True
        return False

    def _grown_last_page(self, last_page: int | None, page: PageLike[T]) -> int | None:
        """``last_page``, moved on if ``page``'s total grew."""
        if last_page is not None and page.total is not None:
            # Records added mid-export push items past the planned last page.
            return max(last_page, math.ceil(page.total / self._page_size))
        return last_page


def export_listing(
    client: BaseClient,
    fetch: Callable[[int], Awaitable[PageLike[T]]],
    *,
    page_size: int,
    start_page: int,
    prefetch: int | None,
    key: Callable[[T], Hashable | None],
    what: str,
) -> Export[T]:
    """The :class:`Export` behind a resource's ``export()``: ``fetch(number)`` reads page
    ``number``; at most ``prefetch`` pages ahead (default: the client's
    ``concurrent_batch_executions``)."""
    return Export(
        fetch,
        page_size=page_size,
        start_page=start_page,
        prefetch=prefetch_ahead(client, prefetch),
        key=key,
        what=what,
    )


def prefetch_ahead(client: BaseClient, prefetch: int | None) -> int:
    """How many pages a listing fetches ahead: ``prefetch`` checked, by default the
    client's ``concurrent_batch_executions``."""
    if prefetch is None:
        return client.concurrent_batch_executions
    return positive(prefetch, "prefetch")
