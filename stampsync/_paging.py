"""Async iterators over paged listings that fetch pages ahead of the reader.

:class:`PagedIterator` is their common shape (``async for``, ``async with``,
``aclose``). :class:`KeysetPages` walks a keyset-paginated listing (``last_reward_id``,
``older_than``, ...): a keyset page names the next one only once it has arrived, so
what overlaps is reading and fetching, at most ``prefetch`` pages ahead. The offset-paged
export (:mod:`stampsync.batch.export`) and the Stamped V3 listing build on the same base.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from types import TracebackType
from typing import Generic, Self, TypeVar

from .errors import ConfigurationError

__all__ = ["KeysetPages", "PagedIterator"]

T = TypeVar("T")
K = TypeVar("K")


class PagedIterator(Generic[T]):
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

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class KeysetPages(PagedIterator[T], Generic[T, K]):
    """An async iterator over every item of a keyset-paginated listing.

    Use it as ``async for item in pages:``; wrap it in ``async with`` (or
    ``contextlib.aclosing``) so that leaving the loop early stops the fetch in flight at
    once. ``pages`` counts the pages fetched; ``cursor`` is where to resume after the
    last page whose items were all yielded.
    """

    def __init__(
        self,
        fetch: Callable[[K | None], Awaitable[tuple[Sequence[T], K | None]]],
        *,
        prefetch: int = 2,
        max_pages: int = 0,
    ) -> None:
        """``fetch(cursor)`` fetches the page after ``cursor`` (``None``: the first) and
        answers its items and the next page's cursor, ``None`` after the last page."""
        if isinstance(prefetch, bool) or not isinstance(prefetch, int) or prefetch < 1:
            raise ConfigurationError(f"prefetch must be an integer >= 1, got {prefetch!r}")
        self._fetch = fetch
        self._prefetch = prefetch
        self._max_pages = max_pages
        self.pages = 0
        self.cursor: K | None = None
        self._iterator = self._run()

    async def _produce(
        self, queue: asyncio.Queue[tuple[Sequence[T], K | None] | BaseException | None]
    ) -> None:
        cursor: K | None = None
        fetched = 0
        try:
            while True:
                items, following = await self._fetch(cursor)
                fetched += 1
                await queue.put((items, following))
                # An empty page ends the listing even if a cursor came back: a server
                # that keeps naming a next page would otherwise be read forever.
                if following is None or not items:
                    break
                if self._max_pages and fetched >= self._max_pages:
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
