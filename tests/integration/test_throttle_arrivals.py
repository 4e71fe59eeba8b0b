"""The local throttle against a strict server in another process, on real time."""

from __future__ import annotations

import asyncio

from stampsync import StampedClient
from stampsync.testing import max_in_window
from tests._arrival_server import arrival_server, arrivals


async def test_server_never_sees_more_than_limit_in_a_window() -> None:
    """Bursty, steady and bursty again through the real transport, counted at arrival
    by a server in another process."""
    limit, seconds = 20, 0.5
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
    assert max_in_window(times, seconds) <= limit
    # 140 starts at 20 per 0.515 s: six full windows after the first, and not much more.
    span = max(times) - min(times)
    assert 6 * seconds <= span <= 8 * seconds
