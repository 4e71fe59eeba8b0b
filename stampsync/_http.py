"""One HTTP attempt, behind a small seam.

:class:`HTTPTransport` is what the policy layer (``_transport.py``) needs from the
network: send one prepared request, return the status, headers and body, or raise a
:class:`~stampsync.errors.TransportError` that says whether the request could have
reached the server (``sent``). :class:`AiohttpTransport` is the real one: it owns the
aiohttp session, the connection slot, the throttle and the capped read.
:class:`stampsync.testing.MockTransport` answers from a function instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Awaitable, Mapping, Sequence
from ssl import SSLContext
from typing import Protocol, runtime_checkable

import aiohttp
import msgspec
from aiohttp.hdrs import CONTENT_ENCODING
from yarl import URL

from ._local_throttle import (
    BULK,
    INTERACTIVE,
    LaneThrottle,
    OverBudget,
    SendStampingThrottle,
    Throttle,
    Ticket,
)
from .errors import (
    CertificateError,
    ClientStateError,
    ConfigurationError,
    DecodeError,
    QuotaWaitError,
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
            spent; a throttle wait that would end later is refused, not waited out.
        path_template: the endpoint's path template (no personal data): what errors
            and logs name, never the filled path.
        lane: the throttle lane this attempt waits in: ``"interactive"`` (may use the
            reserve) or ``"bulk"``.
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

    ``throttle_wait`` is the seconds the attempt waited for the quota before it left.
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


class EarlyStart:
    """A start of the quota taken before its request is ready, for the task's next attempt.

    A batch that journals its writes takes the start first and only then claims the row:
    a worker that dies then leaves ambiguous only the rows whose requests were leaving,
    not those still waiting for their store's quota. ``take()`` waits for the start (or
    raises as an attempt would: :class:`~stampsync.errors.QuotaWaitError`, or
    :class:`~stampsync.errors.ThrottleUnavailableError`); the next attempt this task makes
    through the same throttle uses it; ``release()`` gives it back if no attempt did.
    """

    __slots__ = (
        "_lane",
        "_slot",
        "_taken_at",
        "_token",
        "_transport",
        "_within",
        "gated",
        "ticket",
    )

    def __init__(self, transport: AiohttpTransport, within: float, lane: str = INTERACTIVE) -> None:
        self._transport = transport
        self._within = within
        self._lane = lane
        self.ticket: Ticket | None = None
        self._slot = False  # holding a connection slot of the transport
        self.gated = False  # and a place in the bulk lane's share of the connections
        self._taken_at = 0.0
        self._token: contextvars.Token[EarlyStart | None] | None = None

    async def take(self, what: str) -> None:
        """Wait for a connection slot, then the start, at most ``within`` seconds (the
        call's retry budget); ``what`` names the operation in a refusal."""
        transport = self._transport
        assert transport._reserve is not None  # made only for a throttle that reserves
        loop_time = asyncio.get_running_loop().time
        # The slot first, then the start: the order of every attempt. A row holding a start
        # while it waits for a slot could starve the attempts (retries, a token refresh)
        # that hold the slots and wait for a start.
        self.gated = await transport._take_slot(self._lane)
        self._slot = True
        started = loop_time()
        try:
            self.ticket = await transport._reserve_in(self._within, self._lane)
        except OverBudget as over:
            self._free_slot()
            raise QuotaWaitError("", what, over.wait) from None
        except BaseException:
            self._free_slot()
            raise
        self._taken_at = loop_time()
        transport._stats.throttle_wait += self._taken_at - started
        self._token = _EARLY_START.set(self)

    def usable_by(self, transport: AiohttpTransport) -> bool:
        """Whether an attempt of ``transport`` may take this start and its slot."""
        return self._transport is transport and self._slot and self.ticket is not None

    def hand_over(self, now: float) -> Ticket | None:
        """Give the attempt the slot (its to release) and the start, unless the start
        waited too long to be used: a Redis reservation counts as "now" for one window
        only, so a start held past half of it (a slow journal) is given back."""
        ticket, self.ticket = self.ticket, None
        self._slot = False
        fresh_for = min(EARLY_START_FRESH, self._transport.throttle.seconds / 2)
        if ticket is not None and now - self._taken_at > fresh_for:
            ticket.release()
            return None
        return ticket

    def _free_slot(self) -> None:
        if self._slot:
            self._slot = False
            self._transport._free_slot(self.gated)

    def release(self) -> None:
        """Give back what no attempt used (the start, the slot); stop offering them."""
        ticket, self.ticket = self.ticket, None
        try:
            if ticket is not None:
                ticket.release()  # never sent: the start is given back
        finally:
            self._free_slot()
            token, self._token = self._token, None
            if token is not None:
                with contextlib.suppress(ValueError):  # set in another context
                    _EARLY_START.reset(token)


#: Seconds an early start may wait for its request before it is taken again.
EARLY_START_FRESH = 0.5


def give_up_early_start() -> None:
    """Give back this task's early start and its connection slot, if it holds one.

    Before a wait whose end may need that slot: a token renewal's own request waits for
    a connection, and tasks holding slots while they wait for the renewal would starve it.
    """
    early = _EARLY_START.get()
    if early is not None:
        early.release()


#: The early start this task holds, if any (a mutable holder: an attempt that runs in a
#: copy of the context, under a timeout say, still takes it from the same object).
_EARLY_START: contextvars.ContextVar[EarlyStart | None] = contextvars.ContextVar(
    "stampsync_early_start", default=None
)


class AttemptStats(Protocol):
    attempts: int
    throttle_wait: float
    round_trip: float


#: The weight of the latest round trip in the moving average.
ROUND_TRIP_WEIGHT = 0.1


class AiohttpTransport:
    """The network layer over aiohttp: session, connection slot, throttle, capped read.

    The throttle's token is taken *after* the connection slot, right before the request
    leaves: the server counts arrivals, and a token taken before a wait for a connection
    would be spent later, in a bunch with others. A throttle that stamps a start when
    the server has it (:class:`~stampsync.throttle.SendStampingThrottle`) is told when
    the answer's headers arrive, or that a failed attempt may have arrived.
    """

    def __init__(
        self,
        *,
        throttle: Throttle,
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
        self.throttle = throttle
        self._reserve = throttle.reserve if isinstance(throttle, SendStampingThrottle) else None
        # A throttle without lanes is asked as before; every request is then alike.
        self._lanes = isinstance(throttle, LaneThrottle)
        self.concurrent_connections = concurrent_connections
        self._timeout = timeout
        self._client_timeout = aiohttp.ClientTimeout(total=timeout, sock_connect=timeout)
        self._max_response_bytes = max_response_bytes
        self._stats = stats
        self._name = name
        self._semaphore = asyncio.Semaphore(concurrent_connections)
        # Bulk attempts hold their connection while they wait for the quota: with three
        # connections or more, one is kept from them so a person's call never queues
        # behind an export's for a connection.
        self._bulk_gate = (
            asyncio.Semaphore(concurrent_connections - 1) if concurrent_connections >= 3 else None
        )
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self._ssl: SSLContext | bool = True if ssl is None else ssl
        self._proxy = proxy
        self._trust_env = trust_env
        self._trace_configs = list(trace_configs)

    def early_start(self, within: float, lane: str = INTERACTIVE) -> EarlyStart | None:
        """An :class:`EarlyStart` in ``lane`` for this transport that waits at most
        ``within`` seconds, or None if its throttle cannot reserve a start ahead (a plain
        ``acquire()`` throttle)."""
        return None if self._reserve is None else EarlyStart(self, within, lane)

    async def _take_slot(self, lane: str) -> bool:
        """Wait for a connection slot for an attempt in ``lane``; True if it also took a
        place in the bulk lane's share (give both back with :meth:`_free_slot`)."""
        gate = self._bulk_gate if lane == BULK else None
        if gate is None:
            await self._semaphore.acquire()
            return False
        await gate.acquire()
        try:
            await self._semaphore.acquire()
        except BaseException:
            gate.release()
            raise
        return True

    def _free_slot(self, gated: bool) -> None:
        self._semaphore.release()
        if gated:
            assert self._bulk_gate is not None
            self._bulk_gate.release()

    def _reserve_in(self, within: float, lane: str) -> Awaitable[Ticket]:
        """The throttle's reserve, in ``lane`` when the throttle has lanes."""
        reserve = self._reserve
        assert reserve is not None
        if self._lanes:
            return reserve(within, lane)  # type: ignore[call-arg]
        return reserve(within)

    async def open(self) -> None:
        if self._closed:
            raise ClientStateError(f"{self._name} is closed; create a new client")
        if self._session is None:
            self._loop = asyncio.get_running_loop()
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
        session = self._session_in(loop)
        method = request.method
        # Errors name the endpoint's template: a filled path can carry an email.
        where = request.path_template or request.url.path
        timeout = self._timeout_for(request)
        loop_time = loop.time
        early = _EARLY_START.get()
        if early is not None and early.usable_by(self):
            gated = early.gated
            early_ticket = early.hand_over(loop_time())  # and with it, a connection slot
        else:
            early_ticket = None
            gated = await self._take_slot(request.lane)
        try:
            started = loop_time()
            if early_ticket is not None:
                ticket: Ticket | None = early_ticket
            elif self._reserve is None:
                await self.throttle.acquire()
                ticket = None
            else:
                try:
                    ticket = await self._reserve_in(request.deadline - started, request.lane)
                except OverBudget as over:
                    raise QuotaWaitError(method, where, over.wait) from None
            waited = loop_time() - started
            stats = self._stats
            stats.attempts += 1
            stats.throttle_wait += waited
            answered = False
            leaving = loop_time()
            try:
                async with session.request(
                    method,
                    request.url,
                    data=request.body,
                    headers=request.headers,
                    timeout=timeout,
                    allow_redirects=False,
                ) as response:
                    answered = True
                    self._note_round_trip(loop_time() - leaving)
                    if ticket is not None:
                        ticket.sent()  # after which release() has nothing to do
                        ticket = None
                    data = await self._body(response, method, where)
                    return HTTPResponse(response.status, response.headers, data, waited)
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise self._no_answer(exc, request, where, ticket) from None
            except ValueError as exc:
                raise self._unwritable(exc, answered, request, where) from None
            finally:
                if ticket is not None:
                    ticket.release()  # gives the start back only if never sent
        finally:
            self._free_slot(gated)

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
        """The transport's timeout, or the attempt's own when the call has less left."""
        if request.timeout >= self._timeout:
            return self._client_timeout  # built once
        return aiohttp.ClientTimeout(total=request.timeout, sock_connect=request.timeout)

    def _note_round_trip(self, trip: float) -> None:
        """Fold one round trip into the moving average."""
        stats = self._stats
        average = stats.round_trip
        stats.round_trip = trip if not average else average + (trip - average) * ROUND_TRIP_WEIGHT

    def _body(self, response: aiohttp.ClientResponse, method: str, path: str) -> Awaitable[bytes]:
        """The read of the answer's body: whole when its Content-Length is known, within
        the cap and not compressed; else counted as it comes (:meth:`_read_capped`)."""
        length = response.content_length
        if (
            length is not None
            and length <= self._max_response_bytes
            and CONTENT_ENCODING not in response.headers
        ):
            return response.read()
        return self._read_capped(response, method, path)

    def _no_answer(
        self, exc: BaseException, request: HTTPRequest, path: str, ticket: Ticket | None
    ) -> TransportError:
        """The error for an attempt that got no answer; a start it may have used is counted."""
        failure = self._failed(exc, request.method, path)
        failure.args = tuple(_unfilled(str(a), request) for a in failure.args)
        if ticket is not None and failure.sent:
            ticket.sent()  # it may have arrived: count it, as of now
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
        if isinstance(exc, aiohttp.ClientConnectorCertificateError):
            # Refused before anything was sent; retrying cannot change the certificate.
            return CertificateError(
                "the server's TLS certificate is not trusted (pass ssl= with its "
                f"authority): {self._describe(exc)}",
                method=method,
                path=path,
                sent=False,
            )
        if isinstance(exc, aiohttp.ClientProxyConnectionError):
            return TransportError(
                f"the proxy refused the connection: {self._describe(exc)}",
                method=method,
                path=path,
                sent=False,
            )
        if isinstance(exc, aiohttp.ClientHttpProxyError):
            # The proxy answered the CONNECT with an error: the tunnel never opened.
            return TransportError(
                f"the proxy refused the tunnel with {exc.status}: {self._describe(exc)}",
                method=method,
                path=path,
                sent=False,
            )
        # A connection never made: the server cannot have seen the request.
        sent = not isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError)
        return TransportError(self._describe(exc), method=method, path=path, sent=sent)

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
