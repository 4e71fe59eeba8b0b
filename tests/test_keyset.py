"""KeysetPages: every item in order, at most ``prefetch`` pages ahead, stopped cleanly."""

from __future__ import annotations

import asyncio

import pytest

from stampsync.batch.keyset import KeysetPages
from stampsync.errors import ConfigurationError, TransportError

PAGE = 5
TOTAL = 42


class Listing:
    """A keyset listing of 0..TOTAL-1 that records how far ahead it was read."""

    def __init__(self) -> None:
        self.fetched: list[int | None] = []
        self.in_flight = 0
        self.gate = asyncio.Event()
        self.gate.set()

    async def fetch(self, cursor: int | None) -> tuple[list[int], int | None]:
        self.fetched.append(cursor)
        self.in_flight += 1
        try:
            await self.gate.wait()
            await asyncio.sleep(0)
        finally:
            self.in_flight -= 1
        start = 0 if cursor is None else cursor + 1
        items = list(range(start, min(start + PAGE, TOTAL)))
        return items, (items[-1] if items and items[-1] < TOTAL - 1 else None)


async def test_every_item_in_order() -> None:
    listing = Listing()
    pages = KeysetPages(listing.fetch, prefetch=3)
    assert [i async for i in pages] == list(range(TOTAL))
    assert pages.pages == 9
    assert listing.fetched == [None, *range(4, TOTAL - 2, PAGE)]


async def test_prefetch_is_bounded_while_the_reader_is_slow() -> None:
    listing = Listing()
    async with KeysetPages(listing.fetch, prefetch=2) as pages:
        first = await anext(pages)
        assert first == 0
        for _ in range(20):
            await asyncio.sleep(0)
        # One page being read, two queued; the producer waits for room before a fourth.
        assert len(listing.fetched) == 4  # unbounded, it would have read all 9
        rest = [i async for i in pages]
    assert rest == list(range(1, TOTAL))


async def test_leaving_early_cancels_the_fetch_in_flight() -> None:
    listing = Listing()
    pages = KeysetPages(listing.fetch, prefetch=1)
    assert await anext(pages) == 0
    listing.gate.clear()  # the next fetch hangs
    for _ in range(PAGE - 1):
        await anext(pages)
    await asyncio.sleep(0)
    await pages.aclose()
    assert listing.in_flight == 0


async def test_an_error_reaches_the_reader_after_the_good_pages() -> None:
    calls = 0

    async def fetch(cursor: int | None) -> tuple[list[int], int | None]:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise TransportError("reset", method="GET", path="/x", sent=True)
        return [1, 2], 2

    got: list[int] = []

    async def read() -> None:
        async for item in KeysetPages(fetch):
            got.append(item)

    with pytest.raises(TransportError):
        await read()
    assert got == [1, 2]


async def test_an_empty_page_ends_even_with_a_cursor() -> None:
    async def fetch(cursor: int | None) -> tuple[list[int], int | None]:
        return ([], 7) if cursor else ([1], 1)

    assert [i async for i in KeysetPages(fetch)] == [1]


def test_prefetch_must_be_positive() -> None:
    async def fetch(cursor: int | None) -> tuple[list[int], int | None]:
        return [], None

    with pytest.raises(ConfigurationError, match="prefetch"):
        KeysetPages(fetch, prefetch=0)
