"""Webhook receivers over an inbox: an aiohttp application and an ASGI one.

Both answer a push only once the inbox has stored it, and run the handler for stored
events in a background loop that each stored push wakes (and that looks for retries
come due every ``poll_seconds``). What they answer: 204 stored (or stored already), 401
wrong secret, 400 not a JSON object, 413 over 1 MiB, 503 the inbox cannot store now (the
sender tries again later), 404/405 elsewhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import web

from .._validate import positive_seconds
from ..errors import StampsyncError, WebhookError
from ._inbox import Accepted, HandleReport

if TYPE_CHECKING:
    from ._inbox import Handler

log = logging.getLogger("stampsync.webhooks")

#: The largest push a receiver reads (aiohttp's own default cap, used by both).
MAX_BODY = 1024**2


class InboxLike(Protocol):
    """What a receiver needs of an inbox: :class:`Inbox`, :class:`PgInbox`, or yours."""

    async def accept(self, headers: Mapping[str, str], body: bytes) -> Accepted:
        """Verify, parse and store one push; say whether it was new."""
        ...

    async def handle(self, handler: Handler, *, limit: int | None = None) -> HandleReport:
        """Run ``handler`` for the events that are due."""
        ...


class _Receiver:
    """What both receivers share: storing a push, and the handler loop it wakes."""

    def __init__(self, inbox: InboxLike, handler: Handler, poll_seconds: float) -> None:
        self.inbox = inbox
        self.handler = handler
        self.poll = positive_seconds(poll_seconds, "poll_seconds")
        self.wake = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def store(self, headers: Mapping[str, str], body: bytes) -> int:
        """The status to answer a push with, once it is stored (or refused)."""
        try:
            await self.inbox.accept(headers, body)
        except WebhookError as exc:
            return exc.status
        except StampsyncError as exc:  # the database away, a full disk: Stamped retries
            log.warning("webhook inbox %r cannot store a push: %s", self.inbox, type(exc).__name__)
            return 503
        self.wake.set()
        return 204

    async def _handling(self) -> None:
        while True:
            self.wake.clear()
            try:
                await self.inbox.handle(self.handler)
            except StampsyncError as exc:  # the inbox unusable for now
                log.warning("webhook inbox %r: %s; trying again", self.inbox, type(exc).__name__)
            except Exception:  # a bug: said loudly, and the loop goes on (pushes still land)
                log.exception("webhook inbox %r: handling failed; trying again", self.inbox)
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancel
            # that lands as the wake does, and stop() then waits forever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll):
                    await self.wake.wait()

    def start(self) -> None:
        if self.task is None:
            self.task = asyncio.create_task(self._handling())

    async def stop(self) -> None:
        task, self.task = self.task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise  # the caller is being cancelled too: not ours to swallow


def app(
    inbox: InboxLike,
    handler: Handler,
    *,
    path: str = "/stamped/webhooks",
    poll_seconds: float = 1.0,
) -> web.Application:
    """An aiohttp application that receives Stamped.io pushes into ``inbox`` and runs
    ``handler`` for them in the background (run it with ``web.run_app``, or mount it).

    See the module for what it answers. The inbox stays open: close it after the
    application.
    """
    receiver = _Receiver(inbox, handler, poll_seconds)

    async def receive(request: web.Request) -> web.Response:
        return web.Response(status=await receiver.store(request.headers, await request.read()))

    async def background(_: web.Application) -> AsyncIterator[None]:
        receiver.start()
        yield
        await receiver.stop()

    application = web.Application(client_max_size=MAX_BODY)
    application.router.add_post(path, receive)
    application.cleanup_ctx.append(background)
    return application


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[
    [Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]],
    Awaitable[None],
]


def asgi_app(
    inbox: InboxLike,
    handler: Handler,
    *,
    path: str = "/stamped/webhooks",
    poll_seconds: float = 1.0,
) -> ASGIApp:
    """The same receiver as :func:`app`, as an ASGI application (uvicorn, hypercorn, or
    mounted in Starlette or FastAPI).

    The handler loop starts with the server's lifespan (or at the first push, for a
    server without one) and stops at its shutdown. The inbox stays open: open it before
    serving and close it after.
    """
    receiver = _Receiver(inbox, handler, poll_seconds)

    async def respond(send: Callable[[Message], Awaitable[None]], status: int) -> None:
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def lifespan(
        receive: Callable[[], Awaitable[Message]], send: Callable[[Message], Awaitable[None]]
    ) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                receiver.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await receiver.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def application(
        scope: Scope,
        receive: Callable[[], Awaitable[Message]],
        send: Callable[[Message], Awaitable[None]],
    ) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        # Mounted under a prefix (Starlette, FastAPI, --root-path), the path carries it.
        full = str(scope.get("path", ""))
        root = str(scope.get("root_path", ""))
        if (full.removeprefix(root) if root and full.startswith(root) else full) != path:
            await respond(send, 404)
            return
        if scope.get("method") != "POST":
            await respond(send, 405)
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > MAX_BODY:
                await respond(send, 413)
                return
            if not message.get("more_body", False):
                break
        # As aiohttp decodes them: a byte that is not UTF-8 survives, and compares unequal.
        headers: dict[str, str] = {}
        for name, value in scope.get("headers", []):
            headers[name.decode("latin-1").lower()] = value.decode("utf-8", "surrogateescape")
        receiver.start()
        await respond(send, await receiver.store(headers, bytes(body)))

    return application


__all__ = ["ASGIApp", "InboxLike", "app", "asgi_app"]
