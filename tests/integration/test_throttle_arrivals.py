"""The local throttle against a strict server in another process, on real time."""

from __future__ import annotations

import asyncio

import pytest

from stampsync import StampedClient
from stampsync.testing import max_in_window
from tests._arrival_server import arrival_server, arrivals


async def bursty_steady_bursty(limit: int, seconds: float) -> list[float]:
    """Bursty, steady and bursty again through the real transport: 140 starts, counted at
    arrival by a server in another process. Returns the arrivals."""
    async with arrival_server() as (url, session):
        async with StampedClient(
            "pub",
            "secret",
            "store",
            api_url=url,
            throttle_limit=limit,
            throttle_seconds=seconds,
            concurrent_connections=8,
        ) as client:
            await asyncio.gather(*(client.customers.get(i) for i in range(100)))
            for i in range(10):
                await client.customers.get(i)
            await asyncio.gather(*(client.customers.get(i) for i in range(30)))
        times = await arrivals(session, url)
    assert len(times) == 140
    return times


async def test_server_never_sees_more_than_limit_in_a_window() -> None:
    limit, seconds = 20, 0.5
    times = await bursty_steady_bursty(limit, seconds)
    assert max_in_window(times, seconds) <= limit
    # 140 starts at 20 a window: six full windows after the first at least.
    assert max(times) - min(times) >= 6 * seconds


@pytest.mark.timing
async def test_the_throttle_spends_not_much_more_than_the_windows_it_needs() -> None:
    seconds = 0.5
    times = await bursty_steady_bursty(20, seconds)
    # 140 starts at 20 per 0.515 s: six full windows after the first, and not much more.
    assert max(times) - min(times) <= 8 * seconds
