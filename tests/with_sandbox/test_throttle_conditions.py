"""The window holds where users meet it: reconnects over a slow network, a busy event loop.

The sandbox runs in its own process with a strict quota (a 429 for any arrival that would
put more than L into an S-second window) and counts arrivals on its own clock.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from stampsync.sandbox import Fault, RequestRecord, Sandbox
from stampsync.testing import max_in_window
from stampsync.throttle import LocalThrottle

#: Share of L/S an export must sustain under reconnects, after the first window.
RECONNECT_RATE = 0.95


def sustained(arrivals: list[float], seconds: float) -> float:
    """Arrivals per second after the first window (whose allowance may go at once)."""
    steady = [a for a in arrivals if a >= arrivals[0] + seconds]
    return (len(steady) - 1) / (steady[-1] - steady[0])


async def export_with_reconnects(limit: int, seconds: float, pages: int) -> float:
    """One export; asserts the window held; returns the sustained rate after the first."""
    # Every 5th answer closes its connection; each new connection's first request arrives
    # 120 ms late (a TLS handshake at ~60 ms round trip). Stamping a start when its token
    # was granted let 31-32 arrivals into a window of 30 here, with 429s.
    faults = [Fault("close", probability=0.2), Fault("slow_connect", seconds=0.12)]
    async with Sandbox(
        process=True,
        customers=pages * 100,
        limit=limit,
        seconds=seconds,
        faults=faults,
        fault_seed=1,
    ) as sb:
        # Enough requests in flight to cover the slow ones (rate x round trip): with 4
        # connections and 4 pages ahead, a page stuck behind a 120 ms reconnect stalls the
        # in-order window, and the rate measured 0.946-0.960 of L/S.
        # No reserve: an export runs in the bulk lane, which leaves the reserve (a tenth
        # by default) to interactive calls; what is measured here is the throttle's own
        # rate under reconnects, against the whole limit.
        async with sb.stamped_client(
            throttle_limit=limit,
            throttle_seconds=seconds,
            concurrent_connections=8,
            throttle_reserve=0,
        ) as client:
            exported = [c async for c in client.customers.export(page_size=100)]
        arrivals = sorted(await sb.arrivals())
        counters = await sb.counters()
    assert len(exported) == pages * 100
    assert counters["fault:slow_connect"] >= pages // 10  # the network was really slow
    assert counters.get("rate_limited", 0) == 0
    assert max_in_window(arrivals, seconds) <= limit
    return sustained(arrivals, seconds)


RECONNECTS = pytest.mark.parametrize(
    ("limit", "seconds", "pages"), [(30, 1.0, 300), (100, 2.0, 400)]
)


@RECONNECTS
async def test_reconnects_over_a_slow_network_never_crowd_a_window(
    limit: int, seconds: float, pages: int
) -> None:
    # The window must hold in every run (the rate is asserted apart: timing).
    await export_with_reconnects(limit, seconds, pages)


@pytest.mark.timing
@RECONNECTS
async def test_reconnects_over_a_slow_network_keep_the_rate(
    limit: int, seconds: float, pages: int
) -> None:
    # The rate is a throughput figure: each start holds its slot until its answer, so a
    # fifth of the requests arriving 120 ms late costs about 3 % at S = 1 s (L / (S +
    # margin + mean delay) = 0.97 at best), and a busy spell of a shared 2-core machine
    # lengthens every round trip: asserted in one of two runs.
    rates = [await export_with_reconnects(limit, seconds, pages)]
    if rates[0] < RECONNECT_RATE * limit / seconds:
        rates.append(await export_with_reconnects(limit, seconds, pages))
    assert max(rates) >= RECONNECT_RATE * limit / seconds, rates


async def test_a_busy_event_loop_never_crowds_a_window() -> None:
    # A web service under a burst: 120 handlers each parse a little JSON (~0.5 ms of CPU)
    # before awarding stamps through a 40-per-2-s client. The loop delays each send after
    # its token is granted; stamping at the grant let 41-44 into a window of 40.
    limit, seconds = 40, 2.0
    async with Sandbox(process=True, members=200, limit=limit, seconds=seconds) as sb:
        async with sb.stamps_client(
            throttle_limit=limit, throttle_seconds=seconds, concurrent_connections=8
        ) as client:

            async def handler(i: int) -> None:
                started = time.perf_counter()
                while time.perf_counter() - started < 0.0005:
                    json.loads('{"order": [1, 2, 3], "total": "50000"}')
                await client.stamps.add(user=f"member{1 + i % 100}@example.com", number_of_stamps=1)

            await asyncio.gather(*(handler(i) for i in range(120)))
        arrivals = sorted(await sb.arrivals())
        counters = await sb.counters()
    assert len(arrivals) == 120  # no 429 had to be retried
    assert counters.get("rate_limited", 0) == 0
    assert max_in_window(arrivals, seconds) <= limit


async def export_above_the_servers_limit(
    configured: int, allowed: int, seconds: float, pages: int
) -> tuple[list[RequestRecord], list[float], LocalThrottle]:
    """One export configured above the server's limit: its requests, their arrivals, and
    the client's throttle after it."""
    # Vendors do not publish quotas: a user configures 2x what the server allows. Before
    # the throttle learned, this sent 15 429s in 95 requests, returning to 40/s after each.
    # No reserve: the export runs in the bulk lane, and what is measured is the rate the
    # learned limit allows, not the bulk lane's share of it.
    async with Sandbox(process=True, customers=pages * 100, limit=allowed, seconds=seconds) as sb:
        async with sb.stamped_client(
            throttle_limit=configured,
            throttle_seconds=seconds,
            concurrent_connections=4,
            concurrent_batch_executions=4,
            throttle_reserve=0,
        ) as client:
            exported = [c async for c in client.customers.export(page_size=100)]
            throttle = client.throttle
        requests = await sb.requests()
        arrivals = await sb.arrivals()
    assert len(exported) == pages * 100
    assert isinstance(throttle, LocalThrottle)
    return requests, arrivals, throttle


LEARNED = pytest.mark.parametrize(
    ("configured", "allowed", "seconds", "pages"), [(40, 20, 1.0, 200), (200, 100, 2.0, 600)]
)


@LEARNED
async def test_a_limit_set_above_the_servers_is_learned(
    configured: int, allowed: int, seconds: float, pages: int, caplog: pytest.LogCaptureFixture
) -> None:
    requests, _, throttle = await export_above_the_servers_limit(
        configured, allowed, seconds, pages
    )
    refused = [r for r in requests if r["status"] == 429]
    assert 1 <= len(refused) <= 0.05 * len(requests)
    assert throttle.effective_limit <= allowed + configured // 20  # learned, probing up
    assert throttle.adjustments
    warnings = [r for r in caplog.records if "server allows fewer" in r.getMessage()]
    assert len(warnings) == 1
    assert f"throttle_limit {configured}" in warnings[0].getMessage()


@pytest.mark.timing
@LEARNED
async def test_a_limit_learned_from_the_server_is_sustained_after_the_first_429(
    configured: int, allowed: int, seconds: float, pages: int
) -> None:
    requests, arrivals, _ = await export_above_the_servers_limit(
        configured, allowed, seconds, pages
    )
    admitted = sorted(a for a, r in zip(arrivals, requests, strict=True) if r["status"] != 429)
    first_429 = min(a for a, r in zip(arrivals, requests, strict=True) if r["status"] == 429)
    after = [a for a in admitted if a >= first_429]
    assert (len(after) - 1) / (after[-1] - after[0]) >= 0.9 * allowed / seconds
