"""Async iterators over paged listings that fetch pages ahead of the reader.

:class:`PagedIterator` is their common shape (``async for``, ``async with``,
``aclose``). :class:`KeysetPages` walks a keyset-paginated listing (``last_reward_id``,
``older_than``, ...): a keyset page names the next one only once it has arrived, so
what overlaps is reading and fetching, at most ``prefetch`` pages ahead. The offset-paged
export (:mod:`stampsync._engine.export`) and the Stamped V3 listing build on the same base.

Every listing ends: besides its last page, a server that goes round in circles (a
cursor it named before, a page it already sent) stops it with one warning
(:class:`LoopGuard`), rather than yielding the same items forever.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Hashable, Sequence
from typing import Generic, Self, TypeVar

import msgspec

from ._aclosing import AsyncClosing
from ._lanes import as_bulk
from .errors import ConfigurationError

__all__ = ["KeysetPages", "LoopGuard", "PagedIterator"]

log = logging.getLogger("stampsync")

T = TypeVar("T")
K = TypeVar("K")


class PagedIterator(AsyncClosing, Generic[T]):
    """An async iterator over a listing's items that fetches pages ahead of the reader.

    Subclasses set ``self._iterator`` (an async generator). Leaving ``async with`` (or
    calling :meth:`aclose`) cancels the fetches in flight and waits for them.
    """

    _iterator: AsyncGenerator[T, None]

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> T:
        return await self._iterator.__anext__()

    async def aclose(self) -> None:
        """Stop: cancel in-flight fetches and wait for them to end."""
        await self._iterator.aclose()


class LoopGuard:
    """Notices a listing that goes round in circles, and says so once, as a warning.

    A page is remembered by a 16-byte digest of its items (not the items), a cursor as
    itself: memory grows by a few dozen bytes a page. Warnings name the listing and the
    page count, never an item or a cursor (they may carry personal data).
    """

    __slots__ = ("_cursors", "_pages", "looped", "what")

    def __init__(self, what: str) -> None:
        self.what = what
        self._pages: set[bytes] = set()
        self._cursors: set[Hashable] = set()
        self.looped = False
        """True once the listing was stopped for going round in circles."""

    def _stop(self, pages: int, why: str) -> bool:
        self.looped = True
        log.warning("%s listing: %s after %d page(s); stopping here", self.what, why, pages)
        return True

    def page_repeated(self, items: Sequence[object], pages: int) -> bool:
        """True (with a warning) if a page with exactly these items came before."""
        if not items:
            return False
        try:
            encoded = msgspec.json.encode(items)
        except (TypeError, ValueError):  # items msgspec cannot encode: not comparable
            return False
        digest = hashlib.blake2b(encoded, digest_size=16).digest()
        if digest in self._pages:
            return self._stop(pages, "the server sent a page it had already sent")
        self._pages.add(digest)
        return False

    def cursor_repeated(self, cursor: object, pages: int) -> bool:
        """True (with a warning) if the server named ``cursor`` as the next page before."""
        if not isinstance(cursor, Hashable):
            return False
        if cursor in self._cursors:
            return self._stop(pages, "the server named a next page it had already named")
        self._cursors.add(cursor)
        return False

    def nothing_new(self, items: Sequence[object], fresh: int, pages: int) -> bool:
        """True (with a warning) if a page held items but none not yielded before."""
        if items and not fresh:
            return self._stop(pages, "a page brought no item not seen before")
        return False


class KeysetPages(PagedIterator[T], Generic[T, K]):
    """An async iterator over every item of a keyset-paginated listing.

    Use it as ``async for item in pages:``; wrap it in ``async with`` (or
    ``contextlib.aclosing``) so that leaving the loop early stops the fetch in flight at
    once. ``pages`` counts the pages fetched; ``cursor`` is where to resume after the
    last page whose items were all yielded. A server that names a cursor twice or sends
    a page twice ends the listing there, with a warning (``looped`` is then True).
    """

    def __init__(
        self,
        fetch: Callable[[K | None], Awaitable[tuple[Sequence[T], K | None]]],
        *,
        prefetch: int = 2,
        max_pages: int = 0,
        what: str = "keyset",
    ) -> None:
        """``fetch(cursor)`` fetches the page after ``cursor`` (``None``: the first) and
        answers its items and the next page's cursor, ``None`` after the last page.
        ``what`` names the listing in warnings."""
        if isinstance(prefetch, bool) or not isinstance(prefetch, int) or prefetch < 1:
            raise ConfigurationError(f"prefetch must be an integer >= 1, got {prefetch!r}")
        self._fetch = as_bulk(fetch)  # a listing read page after page is bulk work
        self._prefetch = prefetch
        self._max_pages = max_pages
        self.pages = 0
        self.cursor: K | None = None
        self._guard = LoopGuard(what)
        self._iterator = self._run()

    @property
    def looped(self) -> bool:
        """True if the listing was stopped for going round in circles (see LoopGuard)."""
        return self._guard.looped

    async def _produce(
        self, queue: asyncio.Queue[tuple[Sequence[T], K | None] | BaseException | None]
    ) -> None:
        cursor: K | None = None
        fetched = 0
        guard = self._guard
        try:
            while True:
                items, following = await self._fetch(cursor)
                fetched += 1
                if guard.page_repeated(items, fetched):
                    break  # its items were all yielded already
                await queue.put((items, following))
                # An empty page ends the listing even if a cursor came back: a server
                # that keeps naming a next page would otherwise be read forever.
                if following is None or not items:
                    break
                if self._max_pages and fetched >= self._max_pages:
                    break
                if guard.cursor_repeated(following, fetched):
                    break
                cursor = following
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # handed to the reader, raised there
            await queue.put(exc)
            return
        await queue.put(None)

    async def _run(self) -> AsyncGenerator[T, None]:
        # maxsize bounds the pages held: the producer waits once `prefetch` are unread.
        queue: asyncio.Queue[tuple[Sequence[T], K | None] | BaseException | None] = asyncio.Queue(
            maxsize=self._prefetch
        )
        producer = asyncio.ensure_future(self._produce(queue))
        try:
            while True:
                page = await queue.get()
                if page is None:
                    return
                if isinstance(page, BaseException):
                    raise page
                items, following = page
                self.pages += 1
                for item in items:
                    yield item
                self.cursor = following
        finally:
            producer.cancel()
            await asyncio.gather(producer, return_exceptions=True)
