"""Guarantees that named mutations (mutants/catalog.toml) broke with every test passing.

Each test here closes one such hole; its mutation's name is in the test's docstring.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from aiohttp import web

from stampsync import StampsClient
from stampsync._local_throttle import OverBudget
from stampsync.cli._report import ReportFile
from stampsync.errors import AmbiguousWriteError, ValidationError
from stampsync.testing import no_backoff
from stampsync.throttle import LocalThrottle
from tests._server import RecordingServer

TOKEN = "tok-" + "Str4ddl3S3cr3t" * 3
ADD_OK = {
    "customer": {"id": 1, "stamps": 10, "status": "Blue"},
    "award": {"id": 77, "number_of_stamps": 10},
}


def pieces(secret: str, size: int = 8) -> list[str]:
    """Every ``size``-character piece of ``secret``."""
    return [secret[i : i + size] for i in range(len(secret) - size + 1)]


async def add(client: StampsClient) -> object:
    return await client.stamps.add(user="a@b.co", number_of_stamps=10)


async def test_an_answered_request_keeps_its_start_in_the_window(
    server: RecordingServer,
) -> None:
    """http-answered-start-given-back: a start given back once its answer came would let
    a third request into a window of two."""

    async def answer(request: web.Request, n: int) -> web.StreamResponse:
        return web.json_response(ADD_OK)

    server.responder = answer
    throttle = LocalThrottle(2, 60, burst=2)  # no pacing: the window alone decides
    async with StampsClient(
        "tok-SECRET-abcdef", api_url=server.url, store=2, throttle=throttle
    ) as c:
        for _ in range(3):
            await add(c)
    gaps = [b.at - a.at for a, b in zip(server.arrivals, server.arrivals[2:], strict=False)]
    assert len(server.arrivals) == 3
    assert gaps[0] >= 60


async def test_a_write_that_timed_out_after_sending_keeps_its_start(
    server: RecordingServer,
) -> None:
    """http-failed-after-send-start-given-back: the server counted the timed-out write, so
    the next request waits for the window, not only for the answer."""

    async def answer(request: web.Request, n: int) -> web.StreamResponse:
        if n == 0:
            await asyncio.sleep(5)  # past the client's timeout: it gives up, already sent
        return web.json_response(ADD_OK)

    server.responder = answer
    throttle = LocalThrottle(1, 60, burst=1)
    async with StampsClient(
        "tok-SECRET-abcdef",
        api_url=server.url,
        store=2,
        throttle=throttle,
        timeout=0.5,
        max_retries=0,
    ) as c:
        with no_backoff(), pytest.raises(AmbiguousWriteError):
            await add(c)
        await add(c)
    first, second = server.arrivals
    assert second.at - first.at >= 60


async def test_a_deduction_that_timed_out_after_sending_is_ambiguous_and_sent_once(
    server: RecordingServer,
) -> None:
    """deduct-stamps-declared-idempotent: repeated after a timeout, one deduction could
    take the stamps twice."""

    async def answer(request: web.Request, n: int) -> web.StreamResponse:
        await asyncio.sleep(5)  # past the client's timeout, after the server has it
        return web.json_response({}, status=500)

    server.responder = answer
    async with StampsClient(
        "tok-SECRET-abcdef", api_url=server.url, store=2, timeout=0.5, max_retries=3
    ) as c:
        with no_backoff(), pytest.raises(AmbiguousWriteError):
            await c.stamps.deduct(user=1865, stamps=1, notes="refund")
    assert [a.path for a in server.arrivals] == ["/api/memberships/deduct-stamps"]


async def test_a_secret_straddling_the_error_body_cut_leaves_no_piece(
    server: RecordingServer,
) -> None:
    """error-body-cut-before-scrub: cut at 4 KiB first, the token's head would survive."""

    async def answer(request: web.Request, n: int) -> web.StreamResponse:
        page = "x" * (4096 - 20) + TOKEN + "y" * 200  # the token crosses the 4 KiB cut
        return web.Response(text=page, status=400, content_type="text/plain")

    server.responder = answer
    async with StampsClient(TOKEN, api_url=server.url) as c:
        with pytest.raises(ValidationError) as caught:
            await c.auth.ping()
    kept = caught.value.body.decode("utf-8", "replace")
    assert kept.startswith("x" * 100)
    assert not [p for p in pieces(TOKEN) if p in kept]


async def test_a_server_whose_window_runs_a_little_long_never_sees_more_than_the_limit() -> None:
    """local-no-margin: with no margin the sixth start lands exactly one window after the
    first, inside the window of a server that counts it closed or ticks coarsely."""
    throttle = LocalThrottle(5, 1.0, burst=5)
    loop = asyncio.get_running_loop()
    starts: list[float] = []

    async def start() -> None:
        await throttle.acquire()
        starts.append(loop.time())

    await asyncio.gather(*(start() for _ in range(20)))
    starts.sort()
    # A server window 0.5 ms longer than it says (or a clock ticking in half-milliseconds).
    seen = max(sum(1 for t in starts if s <= t <= s + 1.0005) for s in starts)
    assert len(starts) == 20
    assert seen == 5


async def test_a_start_beyond_the_callers_budget_is_refused_at_once() -> None:
    """local-wait-past-the-budget: the caller would wait a whole window past its budget."""
    throttle = LocalThrottle(1, 60, burst=1)
    loop = asyncio.get_running_loop()
    await throttle.acquire()
    asked = loop.time()
    with pytest.raises(OverBudget) as refused:
        await throttle.reserve(within=5)
    assert loop.time() - asked < 1
    assert refused.value.wait > 5
    ticket = await throttle.reserve(within=120)  # a budget the window fits in: it waits
    assert loop.time() - asked >= 60
    ticket.release()


def test_the_last_report_stays_whole_until_the_new_one_is_complete(tmp_path: Path) -> None:
    """report-written-in-place: writing the report in place empties the last one first."""
    path = tmp_path / "report.jsonl"
    path.write_text('{"key": "old"}\n')
    with ReportFile(path) as report:
        report.write({"key": "new"})
        assert path.read_text() == '{"key": "old"}\n'  # a reader still sees the last one
    assert [json.loads(line) for line in path.read_text().splitlines()] == [{"key": "new"}]


def test_a_run_refused_before_any_row_leaves_the_last_report(tmp_path: Path) -> None:
    """report-written-in-place: a refusal after the report was opened keeps the last one."""
    path = tmp_path / "report.jsonl"
    path.write_text('{"key": "old"}\n')
    with pytest.raises(RuntimeError, match="refused"), ReportFile(path):
        raise RuntimeError("refused")
    assert path.read_text() == '{"key": "old"}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.jsonl"]
