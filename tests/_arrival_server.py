"""A server in its own process that answers ``{"ok": true}`` and logs arrival times.

Run as ``python -m tests._arrival_server PORT``. ``GET /__arrivals`` returns the log
(``time.monotonic()`` values, comparable across processes on one machine). It stands
apart from the client's process so that arrival times are the server's, not delayed
by the client's event loop or the GIL.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web


def main(port: int) -> None:
    arrivals: list[float] = []

    async def handle(request: web.Request) -> web.StreamResponse:
        arrivals.append(time.monotonic())
        await request.read()
        return web.json_response({"ok": True})

    async def dump(request: web.Request) -> web.StreamResponse:
        return web.json_response(arrivals)

    app = web.Application()
    app.router.add_get("/__arrivals", dump)
    app.router.add_route("*", "/{tail:.*}", handle)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def arrival_server() -> AsyncIterator[tuple[str, aiohttp.ClientSession]]:
    """Start the server process; yield its URL and a session for reading the log."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "tests._arrival_server", str(port)])
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
        proc.wait(10)


async def arrivals(session: aiohttp.ClientSession, url: str) -> list[float]:
    async with session.get(url + "/__arrivals") as response:
        times: list[float] = await response.json()
    return times


if __name__ == "__main__":
    main(int(sys.argv[1]))
