"""A server in its own process that answers ``{"ok": true}`` and logs arrival times.

Run as ``python -m tests._arrival_server PORT [LIMIT SECONDS]``. ``GET /__arrivals``
returns the log (``time.monotonic()`` values, comparable across processes on one
machine). With LIMIT and SECONDS it is strict: a request that would make any window
hold more than LIMIT admitted requests is answered 429; every arrival is logged,
admitted or not, and ``GET /__rejected`` counts the 429s. It stands
apart from the client's process so that arrival times are the server's, not delayed
by the client's event loop or the GIL.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import socket
import sys
import time
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web


def main(port: int, limit: int | None = None, seconds: float = 1.0) -> None:
    arrivals: list[float] = []
    window: collections.deque[float] = collections.deque()
    rejected = [0]

    async def handle(request: web.Request) -> web.StreamResponse:
        now = time.monotonic()
        arrivals.append(now)
        await request.read()
        if limit is not None:
            while window and window[0] <= now - seconds:
                window.popleft()
            if len(window) >= limit:
                rejected[0] += 1
                return web.json_response({"message": "Too many requests"}, status=429)
            window.append(now)
        return web.json_response({"ok": True})

    async def dump(request: web.Request) -> web.StreamResponse:
        return web.json_response(arrivals)

    async def count_rejected(request: web.Request) -> web.StreamResponse:
        return web.json_response(rejected[0])

    app = web.Application()
    app.router.add_get("/__arrivals", dump)
    app.router.add_get("/__rejected", count_rejected)
    app.router.add_route("*", "/{tail:.*}", handle)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def arrival_server(
    limit: int | None = None, seconds: float = 1.0
) -> AsyncIterator[tuple[str, aiohttp.ClientSession]]:
    """Start the server process; yield its URL and a session for reading the log."""
    port = free_port()
    strict = [] if limit is None else [str(limit), str(seconds)]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests._arrival_server", str(port), *strict
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(200):
                try:
                    async with session.get(url + "/__arrivals") as response:
                        await response.read()
                    break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.05)
            else:
                raise RuntimeError("arrival server did not start")
            yield url, session
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 10)


async def arrivals(session: aiohttp.ClientSession, url: str) -> list[float]:
    async with session.get(url + "/__arrivals") as response:
        times: list[float] = await response.json()
    return times


async def rejected(session: aiohttp.ClientSession, url: str) -> int:
    async with session.get(url + "/__rejected") as response:
        count: int = await response.json()
    return count


if __name__ == "__main__":
    main(int(sys.argv[1]), *((int(sys.argv[2]), float(sys.argv[3])) if len(sys.argv) > 3 else ()))
