"""Cancelling mid-request leaves no task, no connection slot taken, no open socket."""

from __future__ import annotations

import asyncio
import gc

import pytest
from aiohttp import web

from stampsync import StampedClient, StampsClient
from tests._server import RecordingServer, client_tasks


async def slow(request: web.Request, n: int) -> web.StreamResponse:
    await asyncio.sleep(0.5 if n < 2 else 0)
    return web.json_response({"id": n, "award": {"id": n}})


async def test_cancelled_requests_release_everything(server: RecordingServer) -> None:
    server.responder = slow
    async with StampedClient("pub", "key", "1", api_url=server.url, concurrent_connections=2) as st:
        tasks = [asyncio.create_task(st.customers.get(i)) for i in range(4)]
        await asyncio.sleep(0.1)
        for task in tasks:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert all(isinstance(r, asyncio.CancelledError) for r in results)
        assert len(server.arrivals) == 2  # the two waiting for a slot were never sent
        # The two connection slots are free again: new requests go through at once.
        done = await asyncio.wait_for(
            asyncio.gather(st.customers.get(10), st.customers.get(11)), timeout=0.4
        )
        assert sorted(c.id for c in done if isinstance(c.id, int)) == [2, 3]
    assert client_tasks() == []
    gc.collect()  # an unclosed session or socket would now raise a ResourceWarning


async def test_a_cancelled_write_is_not_retried(server: RecordingServer) -> None:
    server.responder = slow
    async with StampsClient("tok", api_url=server.url, store=1) as sp:
        task = asyncio.create_task(sp.stamps.add(user="a@b.co", number_of_stamps=1))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0.6)
    assert len(server.arrivals) == 1  # sent once; cancellation never triggers a resend
