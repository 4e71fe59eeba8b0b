"""A tiny scriptable HTTP server on 127.0.0.1 that records every arrival.

Used where a test needs the real transport (sockets, timeouts, resets) rather than
aioresponses, which patches aiohttp above the connector.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

Responder = Callable[[web.Request, int], Awaitable[web.StreamResponse]]


@dataclass
class Arrival:
    """One request as the server saw it."""

    at: float
    method: str
    path: str
    raw_path: str
    headers: dict[str, str]
    body: bytes


async def ok_json(request: web.Request, n: int) -> web.StreamResponse:
    return web.json_response({"ok": True, "n": n})


@dataclass
class RecordingServer:
    """Answers every request with ``responder(request, n)``; ``n`` counts from 0.

    It runs its own event loop in a thread, as a real server would run apart from its
    clients: arrival times are taken when the request reaches it, not when the client's
    loop happens to let it run. With ``in_loop=True`` it serves in the test's own loop
    instead, its sleeps and arrival times on that loop's clock: what a test on the fake
    clock (``tests/_clock.py``) needs.
    """

    responder: Responder = ok_json
    in_loop: bool = False
    arrivals: list[Arrival] = field(default_factory=list)
    url: str = ""
    _runner: web.AppRunner | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        n = len(self.arrivals)
        self.arrivals.append(
            Arrival(
                asyncio.get_running_loop().time() if self.in_loop else time.monotonic(),
                request.method,
                request.path,
                request.raw_path,
                dict(request.headers),
                body,
            )
        )
        return await self.responder(request, n)

    async def start(self) -> None:
        """Start serving in a thread of its own; returns once the port is bound."""
        if self.in_loop:
            await self._serve()
            return
        started: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        caller = asyncio.get_running_loop()
        self._loop = asyncio.new_event_loop()

        def run() -> None:
            assert self._loop is not None
            asyncio.set_event_loop(self._loop)
            try:
                self._loop.run_until_complete(self._serve())
                caller.call_soon_threadsafe(started.set_result, None)
            except BaseException as exc:  # report a failed start to the test
                caller.call_soon_threadsafe(started.set_exception, exc)
                return
            self._loop.run_forever()
            self._loop.run_until_complete(self._cleanup())
            self._loop.close()

        self._thread = threading.Thread(target=run, name="recording-server", daemon=True)
        self._thread.start()
        await started

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_route("*", r"/{tail:[\s\S]*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    async def _cleanup(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def stop(self) -> None:
        """Stop the server and join its thread."""
        if self.in_loop:
            await self._cleanup()
            return
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            await asyncio.to_thread(self._thread.join, 10)


def client_tasks() -> list[asyncio.Task[object]]:
    """Every task but the caller's own and an in-loop server's (which shares the test's
    loop and ends its handlers when it stops)."""
    return [
        t
        for t in asyncio.all_tasks()
        if t is not asyncio.current_task()
        and "/aiohttp/web_" not in t.get_coro().cr_code.co_filename  # type: ignore[union-attr]
        and t.get_coro().__qualname__ != "BaseSelectorEventLoop._accept_connection2"  # type: ignore[union-attr]
    ]


async def drop_connection(request: web.Request, n: int) -> web.StreamResponse:
    """Read the request, then cut the connection without answering."""
    assert request.transport is not None
    request.transport.abort()
    await asyncio.sleep(0.05)
    return web.Response()
