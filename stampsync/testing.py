"""Helpers for testing code that uses stampsync.

``MockTransport(handler)`` answers a client's requests from a function, with no server
and no network: the client's own rules (errors by status, retries by idempotency,
decoding) still apply::

    from stampsync.testing import HTTPResponse, MockTransport

    def handler(request):
        assert request.method == "POST"
        return HTTPResponse.json({"status": "ok", "award": {"id": 7}})

    async with StampsClient("token", store=1, transport=MockTransport(handler)) as stamps:
        ...

``max_in_window(times, seconds)`` checks a quota against an arrival log.
``no_backoff()`` makes retries happen at once, so a test of retry behaviour does not
sleep; what is retried and how often stays exactly as in production::

    from stampsync.testing import no_backoff

    async def test_my_sync_survives_a_503(...):
        with no_backoff():
            await my_sync(client)
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable

import msgspec

from ._http import HTTPRequest, HTTPResponse
from ._retry import backoff_disabled as no_backoff
from .errors import ClientStateError

__all__ = ["HTTPRequest", "HTTPResponse", "MockTransport", "max_in_window", "no_backoff"]

Handler = Callable[[HTTPRequest], HTTPResponse | Awaitable[HTTPResponse]]


class MockTransport:
    """A network layer that answers each attempt with ``handler(request)``.

    The handler gets an :class:`HTTPRequest` (method, url, headers, body bytes) and
    returns an :class:`HTTPResponse`, or raises
    :class:`~stampsync.errors.TransportError` (say ``sent=True`` to play a connection
    reset after sending). It may be a coroutine function. Every attempt is kept in
    :attr:`requests`, retries included. The client's connection and quota limits still
    apply (they sit above this seam): no more than ``concurrent_connections`` attempts
    reach the handler at once, nor more than ``throttle_limit`` starts a window.
    """

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[HTTPRequest] = []
        self._closed = False

    async def handle(self, request: HTTPRequest) -> HTTPResponse:
        """Record ``request`` and return the handler's answer."""
        if self._closed:
            raise ClientStateError("the client is closed; create a new client")
        self.requests.append(request)
        answer = self.handler(request)
        if inspect.isawaitable(answer):
            answer = await answer
        return answer

    def json(self, index: int = -1) -> object:
        """The JSON body of a recorded request (the last one by default)."""
        body = self.requests[index].body
        return None if body is None else msgspec.json.decode(body)

    async def open(self) -> None:
        """Nothing to open; a closed mock stays closed, as a real client does."""
        if self._closed:
            raise ClientStateError("the client is closed; create a new client")

    async def aclose(self) -> None:
        """Refuse further requests."""
        self._closed = True


def max_in_window(times: Iterable[float], seconds: float) -> int:
    """The most of ``times`` that any window of ``seconds`` holds.

    Use it on a sandbox's arrival log (``await sandbox.arrivals()``) to check that your
    code kept a quota as a strict server counts it.
    """
    ordered = sorted(times)
    best = 0
    end = 0
    for start, at in enumerate(ordered):
        end = max(end, start)
        while end < len(ordered) and ordered[end] < at + seconds:
            end += 1
        best = max(best, end - start)
    return best
