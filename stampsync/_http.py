"""One HTTP attempt, behind a small seam.

:class:`HTTPTransport` is what the policy layer (``_transport.py``) needs from the
network: send one prepared request, return the status, headers and body, or raise a
:class:`~stampsync.errors.TransportError` that says whether the request could have
reached the server (``sent``). :class:`AiohttpTransport` is the real one: it owns the
aiohttp session and the capped read. The connection slots and the quota sit above this
seam (``_admission.py``), so every network layer, the mock's too, runs under them.
:class:`stampsync.testing.MockTransport` answers from a function instead.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from ssl import SSLContext
from typing import Protocol, runtime_checkable

import aiohttp
import msgspec
from aiohttp.hdrs import CONTENT_ENCODING
from yarl import URL

from ._local_throttle import INTERACTIVE, loop_clock
from .errors import (
    CertificateError,
    ClientStateError,
    ConfigurationError,
    DecodeError,
    StampsyncError,
    TransportError,
)

log = logging.getLogger("stampsync")


class HTTPRequest(msgspec.Struct, frozen=True):
    """One attempt, ready to go: everything the network layer needs, nothing more.

    Attributes:
        method: HTTP method.
        url: the full URL, percent-encoded.
        headers: all headers, the Authorization included (never log them).
        body: the encoded JSON body, or ``None``.
        timeout: seconds this attempt may take.
        deadline: the event loop's ``loop.time()`` after which the call's retry budget is
            spent (the quota was waited for before the attempt got here).
        path_template: the endpoint's path template (no personal data): what errors
            and logs name, never the filled path.
        lane: the throttle lane the attempt's start was taken in: ``"interactive"``
            (may use the reserve) or ``"bulk"``.
    """

    method: str
    url: URL
    headers: Mapping[str, str]
    body: bytes | None
    timeout: float
    deadline: float
    path_template: str = ""
    lane: str = INTERACTIVE

    def __repr__(self) -> str:
        return f"HTTPRequest({self.method} {self.path_template or self.url.path})"

    def __rich_repr__(self) -> list[tuple[str, object]]:
        """What rich's pretty printer shows: no headers (the Authorization is one), no
        body (the token exchange sends the static token in it), no query (it may hold
        personal data)."""
        return [
            ("method", self.method),
            ("path", self.path_template or self.url.path),
            ("body", None if self.body is None else "<not shown>"),
            ("timeout", self.timeout),
            ("path_template", self.path_template),
        ]


def _unfilled(text: str, request: HTTPRequest) -> str:
    """``text`` with the request's filled URL and path put back to its template.

    aiohttp's messages quote the URL (``url='https://.../customers/ann%40x.co'``), whose
    path or query may carry an email.
    """
    template = request.path_template
    url = request.url
    if not template or (url.path == template and not url.query_string):
        return text  # nothing was filled in
    text = text.replace(str(url), f"{url.origin()}{template}")
    for filled in (url.raw_path_qs, url.path_qs, url.raw_path, url.path):
        if filled != template:
            text = text.replace(filled, template)
    return text


class HTTPResponse(msgspec.Struct):
    """What came back: status, headers and the whole body.

    ``throttle_wait`` is not read by the client: the quota is waited for above the
    network layer, and the wait is in the hooks' events and ``client.stats``. It stays so
    that code building an ``HTTPResponse`` with it keeps working (0 from the built-in
    transport).
    """

    status: int
    headers: Mapping[str, str] = msgspec.field(default_factory=dict)
    body: bytes = b""
    throttle_wait: float = 0.0

    def __repr__(self) -> str:
        # The body is never shown: the token exchange answers with the JWT in it, and
        # other answers carry personal data.
        return f"HTTPResponse({self.status}, body=<{len(self.body)} bytes>)"

    def __rich_repr__(self) -> list[tuple[str, object]]:
        """What rich's pretty printer shows: the status and the body's size only."""
        return [
            ("status", self.status),
            ("body", f"<{len(self.body)} bytes>"),
            ("throttle_wait", self.throttle_wait),
        ]

    @classmethod
    def json(
        cls, data: object, status: int = 200, headers: Mapping[str, str] | None = None
    ) -> HTTPResponse:
        """An answer whose body is ``data`` encoded as JSON."""
        return cls(
            status,
            {"Content-Type": "application/json", **(headers or {})},
            msgspec.json.encode(data),
        )


@runtime_checkable
class HTTPTransport(Protocol):
    """Sends one attempt. Raises :class:`~stampsync.errors.TransportError` (with
    ``sent``) when no answer came; never retries, never maps statuses to errors."""

    async def handle(self, request: HTTPRequest) -> HTTPResponse:
        """Send ``request`` once and return the answer."""
        ...

    async def open(self) -> None:
        """Get ready to send (the client's ``async with`` calls it)."""
        ...

    async def aclose(self) -> None:
        """Release connections; called once when the client closes."""
        ...


class AttemptStats(Protocol):
    round_trip: float


#: Failures before a connection was made: the server cannot have seen the request.
NEVER_CONNECTED = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)

#: The weight of the latest round trip in the moving average.
ROUND_TRIP_WEIGHT = 0.1


class AiohttpTransport:
    """The network layer over aiohttp: the session, the capped read, and errors that
    say whether the request could have reached the server. The connection slots and the
    quota are the policy layer's (:mod:`stampsync._admission`): an attempt arrives here
    holding both."""

    def __init__(
        self,
        *,
        concurrent_connections: int,
        timeout: float,
        max_response_bytes: int,
        stats: AttemptStats,
        name: str,
        ssl: SSLContext | bool | None = None,
        proxy: str | None = None,
        trust_env: bool = False,
        trace_configs: Sequence[aiohttp.TraceConfig] = (),
    ) -> None:
        self.concurrent_connections = concurrent_connections
        self._timeout = timeout
        self._client_timeout = aiohttp.ClientTimeout(total=timeout, sock_connect=timeout)
        self._max_response_bytes = max_response_bytes
        self._stats = stats
        self._name = name
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._clock: Callable[[], float] = time.monotonic  # the loop's, once opened
        self._closed = False
        self._ssl: SSLContext | bool = True if ssl is None else ssl
        self._proxy = proxy
        self._trust_env = trust_env
        self._trace_configs = list(trace_configs)

    async def open(self) -> None:
        if self._closed:
            raise ClientStateError(f"{self._name} is closed; create a new client")
        if self._session is None:
            self._loop = asyncio.get_running_loop()
            self._clock = loop_clock(self._loop)
            connector = aiohttp.TCPConnector(limit=self.concurrent_connections, ssl=self._ssl)
            # No session-level default headers: aiohttp merges them into every request's
            # headers at a measured ~14 us a request; the prebuilt sets are passed as is.
            self._session = aiohttp.ClientSession(
                connector=connector,
                raise_for_status=False,
                proxy=self._proxy,
                trust_env=self._trust_env,
                trace_configs=self._trace_configs or None,
            )

    async def aclose(self) -> None:
        self._closed = True
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    @property
    def is_open(self) -> bool:
        """True between ``open()`` and ``aclose()``."""
        return self._session is not None

    def _require_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            state = "closed" if self._closed else "not open"
            raise ClientStateError(
                f"{self._name} is {state}: use it inside 'async with {self._name}(...) as client:'"
            )
        return self._session

    async def handle(self, request: HTTPRequest) -> HTTPResponse:
        loop = asyncio.get_running_loop()
        session = self._session
        if session is None or self._loop is not loop:
            session = self._session_in(loop)  # raises the clear error
        method = request.method
        # Errors name the endpoint's template: a filled path can carry an email.
        where = request.path_template or request.url.path
        loop_time = self._clock
        answered = False
        leaving = loop_time()
        try:
            async with session.request(
                method,
                request.url,
                data=request.body,
                headers=request.headers,
                # The transport's, built once, unless the call has less left.
                timeout=self._client_timeout
                if request.timeout >= self._timeout
                else self._timeout_for(request),
                allow_redirects=False,
            ) as response:
                answered = True
                # The round trips' moving average, folded in here: a frame less per request.
                trip, stats = loop_time() - leaving, self._stats
                average = stats.round_trip
                stats.round_trip = (
                    trip if not average else average + (trip - average) * ROUND_TRIP_WEIGHT
                )
                # The body whole when its Content-Length is known, within the cap and
                # not compressed; else counted as it comes (written out: a frame less).
                length = response.content_length
                if (
                    length is not None
                    and length <= self._max_response_bytes
                    and CONTENT_ENCODING not in response.headers
                ):
                    data = await response.read()
                else:
                    data = await self._read_capped(response, method, where)
                return HTTPResponse(response.status, response.headers, data)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise self._no_answer(exc, request, where) from None
        except ValueError as exc:
            raise self._unwritable(exc, answered, request, where) from None

    def _session_in(self, loop: asyncio.AbstractEventLoop) -> aiohttp.ClientSession:
        """The open session, if opened in ``loop``; else the clear error."""
        session = self._session
        if session is None:
            session = self._require_session()  # raises the clear error
        if self._loop is not loop:
            # aiohttp would fail later with a bare "Event loop is closed" RuntimeError.
            raise ClientStateError(
                f"{self._name} was opened in another event loop; open a client in each "
                "loop that uses it (pytest-asyncio gives each test its own loop)"
            )
        return session

    def _timeout_for(self, request: HTTPRequest) -> aiohttp.ClientTimeout:
        """The attempt's own timeout, when the call has less left than the transport's."""
        return aiohttp.ClientTimeout(total=request.timeout, sock_connect=request.timeout)

    def _no_answer(self, exc: BaseException, request: HTTPRequest, path: str) -> TransportError:
        """The error for an attempt that got no answer, its message naming the template."""
        failure = self._failed(exc, request.method, path)
        failure.args = tuple(_unfilled(str(a), request) for a in failure.args)
        return failure

    def _unwritable(
        self, exc: ValueError, answered: bool, request: HTTPRequest, path: str
    ) -> StampsyncError:
        """The error for a ValueError from aiohttp, by whether the server had the request."""
        method = request.method
        if answered:  # the server had the request: never "not sent"
            return TransportError(
                _unfilled(self._describe(exc), request), method=method, path=path, sent=True
            )
        # aiohttp refuses a header or URL it cannot write before sending it.
        return ConfigurationError(
            f"{method} {path}: the request could not be written: " + _unfilled(str(exc), request)
        )

    def _failed(self, exc: BaseException, method: str, path: str) -> TransportError:
        """The error for an attempt that got no answer, by whether the server may have it."""
        described = self._describe(exc)
        if isinstance(exc, aiohttp.ClientConnectorCertificateError):
            # Refused before anything was sent; retrying cannot change the certificate.
            return CertificateError(
                f"the server's TLS certificate is not trusted (pass ssl= with its authority): "
                f"{described}",
                method=method,
                path=path,
                sent=False,
            )
        if isinstance(exc, aiohttp.ClientProxyConnectionError):
            refused = f"the proxy refused the connection: {described}"
        elif isinstance(exc, aiohttp.ClientHttpProxyError):
            # The proxy answered the CONNECT with an error: the tunnel never opened.
            refused = f"the proxy refused the tunnel with {exc.status}: {described}"
        else:
            # A connection never made: the server cannot have seen the request.
            sent = not isinstance(exc, NEVER_CONNECTED)
            return TransportError(described, method=method, path=path, sent=sent)
        return TransportError(refused, method=method, path=path, sent=False)

    def _describe(self, exc: BaseException) -> str:
        text = str(exc) or "no details"
        if isinstance(exc, TimeoutError):
            text = f"timed out after {self._timeout:g}s"
        return f"{type(exc).__name__}: {text}"

    async def _read_capped(self, response: aiohttp.ClientResponse, method: str, path: str) -> bytes:
        """The body, or a DecodeError if it is larger than ``max_response_bytes``.

        For answers without a Content-Length, with one over the cap, or compressed. A
        compressed answer's Content-Length counts compressed bytes: the inflated bytes
        are counted here as aiohttp inflates them piece by piece, and reading stops at
        the cap (a gzip bomb is refused, not inflated in memory).
        """
        cap = self._max_response_bytes
        length = response.content_length
        too_big = DecodeError(
            f"answer larger than max_response_bytes ({cap} bytes)",
            method=method,
            path=path,
            status=response.status,
        )
        if length is not None and length > cap:
            raise too_big
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_chunked(1 << 16):
            size += len(chunk)
            if size > cap:
                raise too_big
            chunks.append(chunk)
        return b"".join(chunks)
