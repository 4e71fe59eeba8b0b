"""KeysetPages: every item in order, at most ``prefetch`` pages ahead, stopped cleanly."""

from __future__ import annotations

import asyncio

import pytest

from stampsync.batch.keyset import KeysetPages
from stampsync.errors import ConfigurationError, TransportError
from tests._server import RecordingServer

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


# -- issue 26, item 7: a listing that goes round in circles ends -------------------------


async def test_cycling_cursors_end_the_listing_with_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A -> B -> A: each page is new, but the cursors go round.
    answers: dict[str | None, tuple[list[str], str]] = {
        None: (["a@x.co", "b@x.co"], "A"),
        "A": (["c@x.co", "d@x.co"], "B"),
        "B": (["e@x.co", "f@x.co"], "A"),
    }
    fetched: list[str | None] = []

    async def fetch(cursor: str | None) -> tuple[list[str], str]:
        fetched.append(cursor)
        if len(fetched) > 50:  # a listing that would never end fails instead
            raise TransportError("read forever", method="GET", path="/", sent=True)
        return answers[cursor]

    pages = KeysetPages(fetch, prefetch=2, what="activities")
    got = [item async for item in pages]
    assert got == ["a@x.co", "b@x.co", "c@x.co", "d@x.co", "e@x.co", "f@x.co"]
    assert fetched == [None, "A", "B"]
    assert pages.looped
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1
    assert "activities listing" in warnings[0].getMessage()
    assert "@x.co" not in caplog.text  # no personal data in the warning


async def test_a_page_sent_again_under_a_new_cursor_ends_the_listing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fetched: list[int | None] = []

    async def fetch(cursor: int | None) -> tuple[list[int], int]:
        fetched.append(cursor)
        if len(fetched) > 50:  # a listing that would never end fails instead
            raise TransportError("read forever", method="GET", path="/", sent=True)
        return [1, 2, 3], (cursor or 0) + 1  # the cursor ignored: the same page again

    pages = KeysetPages(fetch, prefetch=3)
    assert [item async for item in pages] == [1, 2, 3]
    assert len(fetched) == 2
    assert pages.looped
    assert "a page it had already sent" in caplog.text


async def test_transactions_by_user_end_when_the_server_repeats_its_page(
    server: RecordingServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The issue's case: a server answering the same two transactions with has_next
    true read 12,000 items; now they are read once."""
    from aiohttp import web

    from stampsync import StampsClient

    page = {
        "transactions": [
            {"id": 78, "invoice_number": "INV-9", "created": 1700000000},
            {"id": 77, "invoice_number": "INV-1", "created": 1700000000},
        ],
        "has_next": True,
    }

    async def same_page(request: web.Request, n: int) -> web.StreamResponse:
        if n > 50:  # a listing that would never end fails instead
            return web.json_response({"detail": "read forever"}, status=400)
        return web.json_response(page)

    server.responder = same_page
    async with StampsClient("tok-123456", api_url=server.url) as stamps:
        got = [t.id async for t in stamps.transactions.all_by_user(user="a@b.co")]
    assert got == [78, 77]
    assert len(server.arrivals) <= 3  # the repeat, and at most one fetched ahead of it
    assert "transactions by user listing: the server sent a page it had already sent" in (
        caplog.text
    )
    assert "a@b.co" not in caplog.text
