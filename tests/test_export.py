"""customers.export / reviews.export over a real paged server."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from aiohttp import web

from stampsync import StampedClient
from stampsync.cli._stamped import ExportWriter
from stampsync.errors import ConfigurationError, ServerError
from stampsync.testing import no_backoff
from tests._server import RecordingServer, client_tasks


class PagedCustomers:
    """Serves ``dashboard/customers`` pages from a list that tests may change mid-export."""

    def __init__(self, n: int, *, with_total: bool = True, delay: float = 0.0) -> None:
        self.rows = [{"id": i, "email": f"c{i}@x.co"} for i in range(1, n + 1)]
        self.with_total = with_total
        self.delay = delay
        self.requested: list[int] = []
        self.on_request: Callable[[int], None] | None = None
        self.fail_page: int | None = None

    async def __call__(self, request: web.Request, n: int) -> web.StreamResponse:
        page = int(request.query["page"])
        limit = int(request.query["limit"])
        self.requested.append(page)
        if self.on_request is not None:
            self.on_request(page)
        if self.delay:
            await asyncio.sleep(self.delay)
        if page == self.fail_page:
            return web.json_response({"message": "boom"}, status=500)
        body: dict[str, object] = {
            "data": self.rows[(page - 1) * limit : page * limit],
            "page": page,
        }
        if self.with_total:
            body["total"] = len(self.rows)
        return web.json_response(body)


def client_for(
    server: RecordingServer, *, max_retries: int = 3, concurrent_batch_executions: int = 10
) -> StampedClient:
    return StampedClient(
        "pub",
        "key",
        "1",
        api_url=server.url,
        throttle_limit=100_000,
        throttle_seconds=1,
        concurrent_connections=4,
        max_retries=max_retries,
        concurrent_batch_executions=concurrent_batch_executions,
    )


async def test_every_customer_in_page_order(server: RecordingServer) -> None:
    server.responder = PagedCustomers(1050)
    async with client_for(server) as c:
        export = c.customers.export(page_size=100)
        ids = [cust.id async for cust in export]
    assert ids == list(range(1, 1051))
    assert export.stats.pages == 11
    assert export.stats.complete
    assert export.stats.next_page == 12


async def test_an_insert_mid_export_is_deduplicated_and_reported(
    server: RecordingServer,
) -> None:
    pages = PagedCustomers(500)

    def insert_after_first(page: int) -> None:
        if page == 2 and len(pages.rows) == 500:
            pages.rows.insert(0, {"id": 9999, "email": "new@x.co"})

    pages.on_request = insert_after_first
    server.responder = pages
    async with client_for(server) as c:
        export = c.customers.export(page_size=100, prefetch=1)
        ids = [cust.id async for cust in export]
    assert sorted(int(i) for i in ids if i is not None and i != 9999) == list(range(1, 501))
    assert len(ids) == len(set(ids))  # nobody twice
    assert export.stats.duplicates >= 1
    assert export.stats.total_changed
    assert not export.stats.complete


async def test_a_delete_mid_export_is_reported(server: RecordingServer) -> None:
    pages = PagedCustomers(500)

    def delete_after_first(page: int) -> None:
        if page == 2 and pages.rows[0]["id"] == 1:
            del pages.rows[0]

    pages.on_request = delete_after_first
    server.responder = pages
    async with client_for(server) as c:
        export = c.customers.export(page_size=100, prefetch=1)
        ids = [cust.id async for cust in export]
    assert 101 not in ids  # shifted onto page 1 after it was read: lost...
    assert export.stats.total_changed  # ...but never silently
    assert not export.stats.complete


async def test_resume_from_a_page(server: RecordingServer) -> None:
    server.responder = PagedCustomers(1000)
    async with client_for(server) as c:
        ids = [cust.id async for cust in c.customers.export(page_size=100, start_page=5)]
    assert ids == list(range(401, 1001))


async def test_without_total_reads_until_a_short_page(server: RecordingServer) -> None:
    pages = PagedCustomers(250, with_total=False)
    server.responder = pages
    async with client_for(server) as c:
        export = c.customers.export(page_size=100, prefetch=2)
        ids = [cust.id async for cust in export]
    assert ids == list(range(1, 251))
    assert export.stats.short_pages == []


async def test_prefetch_never_runs_more_than_the_bound_ahead(server: RecordingServer) -> None:
    pages = PagedCustomers(2000)
    server.responder = pages
    consumed_page = 1
    worst = 0

    def track(page: int) -> None:
        nonlocal worst
        worst = max(worst, page - consumed_page)

    pages.on_request = track
    async with client_for(server, concurrent_batch_executions=3) as c:
        async for cust in c.customers.export(page_size=100):
            consumed_page = (int(cust.id) - 1) // 100 + 1  # type: ignore[arg-type]
            await asyncio.sleep(0.0005)  # a slow consumer
    assert worst <= 3
    assert sorted(pages.requested) == list(range(1, 21))


async def test_leaving_early_cancels_in_flight_fetches(server: RecordingServer) -> None:
    pages = PagedCustomers(5000, delay=0.05)
    server.responder = pages
    async with client_for(server) as c:
        async with c.customers.export(page_size=100) as export:
            async for cust in export:
                if cust.id == 150:
                    break
        others = client_tasks()
        assert others == []
        started = c.stats.attempts
        await asyncio.sleep(0.2)
        assert c.stats.attempts == started  # nothing more was sent
        assert started <= 2 + c.concurrent_batch_executions


async def test_a_plain_break_also_cleans_up(server: RecordingServer) -> None:
    server.responder = PagedCustomers(5000, delay=0.02)
    async with client_for(server) as c:
        async for cust in c.customers.export(page_size=100):
            if cust.id == 150:
                break
        for _ in range(20):  # the loop finalises the abandoned generator soon after
            await asyncio.sleep(0.01)
        assert client_tasks() == []


async def test_cancelling_the_consumer_task_leaves_nothing(server: RecordingServer) -> None:
    server.responder = PagedCustomers(5000, delay=0.02)
    async with client_for(server) as c:

        async def consume() -> None:
            async with c.customers.export(page_size=100) as export:
                async for _ in export:
                    await asyncio.sleep(0)

        task = asyncio.create_task(consume())
        await asyncio.sleep(0.15)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        assert client_tasks() == []


async def test_a_failing_page_stops_the_export_with_a_resume_point(
    server: RecordingServer,
) -> None:
    pages = PagedCustomers(1000)
    pages.fail_page = 4
    server.responder = pages
    async with client_for(server, max_retries=0) as c:
        export = c.customers.export(page_size=100)
        seen: list[object] = []

        async def drain() -> None:
            async for cust in export:
                seen.append(cust.id)

        with no_backoff(), pytest.raises(ServerError):
            await drain()
        await asyncio.sleep(0.05)
        assert client_tasks() == []
    assert seen == list(range(1, 301))
    assert export.stats.next_page == 4


async def test_reviews_export(server: RecordingServer) -> None:
    async def reviews(request: web.Request, n: int) -> web.StreamResponse:
        page = int(request.query["page"])
        assert request.query["email"] == "a@x.co"
        data = [{"reviewId": f"r{i}"} for i in range((page - 1) * 10, min(page * 10, 35))]
        return web.json_response({"data": data, "total": 35})

    server.responder = reviews
    async with client_for(server) as c:
        keys = [r.key async for r in c.reviews.export(email="a@x.co", page_size=10)]
    assert keys == [f"r{i}" for i in range(35)]


def test_an_export_checkpoint_cut_off_mid_write_leaves_the_previous_one_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "c.jsonl"
    writer = ExportWriter(out, resume=False)
    writer.open()  # as the export does once the API has answered
    writer.checkpoint(2)
    state = out.with_name("c.jsonl.state")
    before = state.read_text()

    def cut_off(*args: object, **kwargs: object) -> str:
        raise KeyboardInterrupt  # the process dies between opening and writing

    monkeypatch.setattr(json, "dumps", cut_off)
    with pytest.raises(KeyboardInterrupt):
        writer.checkpoint(3)
    monkeypatch.undo()
    writer.close(complete=False)
    assert state.read_text() == before  # not truncated: --resume still works
    resumed = ExportWriter(out, resume=True)
    assert resumed.start_page == 2
    resumed.close(complete=False)


def test_an_unreadable_export_checkpoint_is_a_clear_refusal(tmp_path: Path) -> None:
    out = tmp_path / "c.jsonl"
    out.with_name("c.jsonl.partial").write_text('{"id": 1}\n')
    out.with_name("c.jsonl.state").write_text("")
    with pytest.raises(ConfigurationError, match=r"cannot resume from .*without --resume"):
        ExportWriter(out, resume=True)
    ExportWriter(out, resume=False).close(complete=True)  # the lock was released


async def test_a_consumer_that_stops_early_costs_few_pages(server: RecordingServer) -> None:
    # Reported: breaking out after a few customers had fetched 11 pages (page 1 plus a whole
    # prefetch window of 10). The window now starts at 2 and doubles as pages are read.
    pages = PagedCustomers(500, delay=0.05)
    server.responder = pages
    wide = StampedClient("pub", "key", "1", api_url=server.url, concurrent_connections=10)
    async with wide as c, c.customers.export(page_size=5, prefetch=10) as export:
        seen = 0
        async for _ in export:
            seen += 1
            if seen == 6:  # the first item of page 2
                break
    assert len(pages.requested) <= 3, pages.requested


async def test_an_export_whose_server_repeats_a_page_ends_with_a_warning(
    server: RecordingServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The same page for every page number, and a total of a million: read once."""
    rows = [{"id": i, "email": f"c{i}@x.co"} for i in range(1, 101)]

    async def same_page(request: web.Request, n: int) -> web.StreamResponse:
        if n > 60:  # a listing that would never end fails instead
            return web.json_response({"message": "read forever"}, status=400)
        return web.json_response({"data": rows, "page": 1, "total": 10**6})

    server.responder = same_page
    async with client_for(server) as c:
        export = c.customers.export(page_size=100, prefetch=4)
        ids = [cust.id async for cust in export]
    assert ids == list(range(1, 101))
    assert export.stats.looped
    assert not export.stats.complete
    assert len(server.arrivals) <= 2 + 4
    assert "already sent" in caplog.text
    assert "@x.co" not in caplog.text
