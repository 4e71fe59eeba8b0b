"""The one request path every call of both clients goes through.

    Request -> connection slot -> throttle -> aiohttp -> retry policy -> errors -> msgspec

The throttle token is taken *after* the connection slot, right before the request
leaves, because the server counts arrivals: a token taken earlier and spent after a
wait for a connection would arrive in a bunch with others.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from enum import Enum
from ipaddress import ip_address
from typing import Any, TypeVar
from urllib.parse import quote

import aiohttp
import msgspec
from aiohttp.hdrs import CONTENT_ENCODING
from yarl import URL

from ._auth import Auth
from ._codec import decode, encode, is_api_error_body, parse_error_body
from ._retry import RetryPolicy
from ._sandbox_mark import warn_if_sandbox
from ._version import __version__
from .errors import (
    AmbiguousWriteError,
    APIError,
    AuthenticationError,
    CertificateError,
    ClientStateError,
    ConfigurationError,
    DecodeError,
    NotFoundError,
    RateLimitError,
    RedirectError,
    ServerError,
    StampsyncError,
    TokenExchangeError,
    TransportError,
    ValidationError,
)
from .throttle import OverBudget, SendStampingThrottle, Throttle

T = TypeVar("T")

log = logging.getLogger("stampsync")

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
BASE_HEADERS = {"User-Agent": f"stampsync/{__version__}", "Accept": "application/json"}
JSON_BODY_HEADERS = {**BASE_HEADERS, "Content-Type": "application/json"}


class Request(msgspec.Struct, frozen=True):
    """One API call, described before it is sent.

    A frozen msgspec Struct rather than a frozen dataclass: one is built per call, and
    the Struct's constructor costs a fifteenth of the dataclass's.

    Attributes:
        method: HTTP method.
        path: a template such as ``/api/v2/{store_hash}/dashboard/customers/{id}``;
            each ``{name}`` is filled from ``params`` as exactly one path segment.
        params: values for the template's placeholders.
        query: query-string values; ``None`` values are left out, booleans sent as
            ``true``/``false``.
        body: JSON body (a msgspec Struct or plain data), or ``None``.
        idempotent: whether repeating the request is harmless; defaults from the method
            (POST is not, unless the endpoint says otherwise).
        authenticate: send the Authorization header (off for the token exchange).
    """

    method: str
    path: str
    params: Mapping[str, object] = msgspec.field(default_factory=dict)
    query: Mapping[str, object] | None = None
    body: object = None
    idempotent: bool | None = None
    authenticate: bool = True

    def __repr__(self) -> str:
        # The body is never shown: the token exchange carries the static token in it,
        # and other bodies carry personal data.
        body = "None" if self.body is None else "<not shown>"
        return (
            f"Request({self.method} {self.path}, params={dict(self.params)!r}, "
            f"query={self.query!r}, body={body}, idempotent={self.idempotent!r}, "
            f"authenticate={self.authenticate!r})"
        )

    def __rich_repr__(self) -> list[tuple[str, Any]]:
        """What rich's pretty printer shows: the fields, the body hidden (see __repr__)."""
        return [
            ("method", self.method),
            ("path", self.path),
            ("params", dict(self.params)),
            ("query", self.query),
            ("body", None if self.body is None else "<not shown>"),
            ("idempotent", self.idempotent),
            ("authenticate", self.authenticate),
        ]

    @property
    def is_idempotent(self) -> bool:
        """The request's idempotency, explicit or from its method."""
        if self.idempotent is not None:
            return self.idempotent
        return self.method in IDEMPOTENT_METHODS

    def render_path(self) -> str:
        """The path with every placeholder filled and percent-encoded as one segment."""
        if not self.params and "{" not in self.path:
            return self.path
        try:
            return self.path.format_map({k: path_segment(v, k) for k, v in self.params.items()})
        except KeyError as exc:
            raise ConfigurationError(f"missing path parameter {exc.args[0]!r}") from None


# Characters quote(safe="") leaves alone: a value made only of them is its own encoding.
_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]+")


def path_segment(value: object, name: str = "value") -> str:
    """Percent-encode ``value`` so it stays one path segment (``/``, ``?``, ``..`` included)."""
    if type(value) is int:  # digits and "-": nothing to encode (bool is refused below)
        return str(value)
    if value is None or isinstance(value, bool):
        raise ConfigurationError(f"{name} must be a string or an integer, got {value!r}")
    text = str(value)
    if _UNRESERVED.fullmatch(text) and text not in (".", ".."):
        return text
    if not text.strip():
        raise ConfigurationError(f"{name} must not be empty")
    encoded = quote(text, safe="")
    # "." and ".." would be collapsed by URL normalisation, climbing out of the path.
    if encoded in (".", ".."):
        encoded = encoded.replace(".", "%2E")
    return encoded


def query_value(value: object) -> str:
    """How a query value is written: booleans lower-case, dates ISO, enums by value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return query_value(value.value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_base_url(api_url: str) -> URL:
    """Parse ``api_url``; refuse plain http except on loopback, and anything not a base URL."""
    if not isinstance(api_url, str) or not api_url.strip():
        raise ConfigurationError("api_url must be a non-empty URL such as https://stamped.io")
    url = URL(api_url.strip())
    if url.scheme not in ("https", "http") or not url.host:
        raise ConfigurationError(f"api_url must be an http(s) URL with a host, got {api_url!r}")
    if url.user or url.password:
        raise ConfigurationError("api_url must not carry credentials; pass them as arguments")
    if url.query_string or url.fragment:
        raise ConfigurationError("api_url must not have a query string or fragment")
    if url.scheme == "http" and not is_loopback(url.host):
        raise ConfigurationError(
            f"api_url {url.scheme}://{url.host} uses plain http; https is required "
            "(plain http is allowed only for loopback hosts such as the sandbox)"
        )
    return url.with_path(url.path.rstrip("/"))


@dataclass(slots=True)
class TransportStats:
    """Counters for what the transport did; handy for summaries and tests."""

    attempts: int = 0
    retries: int = 0
    rate_limited: int = 0
    throttle_wait: float = 0.0


class Transport:
    """Sends :class:`Request` objects: one session, one semaphore, one throttle, retries."""

    def __init__(
        self,
        *,
        api_url: str,
        auth: Auth,
        throttle: Throttle,
        concurrent_connections: int,
        timeout: float,
        retry: RetryPolicy,
        name: str,
        max_response_bytes: int = 32 * 2**20,
    ) -> None:
        if (
            isinstance(concurrent_connections, bool)
            or not isinstance(concurrent_connections, int)
            or concurrent_connections < 1
        ):
            raise ConfigurationError(
                f"concurrent_connections must be a positive integer, got {concurrent_connections!r}"
            )
        if not isinstance(timeout, int | float) or not timeout > 0:
            raise ConfigurationError(f"timeout must be a positive number, got {timeout!r}")
        self.base_url = check_base_url(api_url)
        self._base = str(self.base_url)
        self._auth = auth
        # A header that never changes is built into the header sets once; aiohttp copies
        # them into each request and never changes them. Only a JWT needs a per-request set.
        self._fixed_auth = auth.fixed_header()
        self._fixed_headers: tuple[dict[str, str], dict[str, str]] | None = None
        if self._fixed_auth is not None:
            self._fixed_headers = (
                {**BASE_HEADERS, "Authorization": self._fixed_auth},
                {**JSON_BODY_HEADERS, "Authorization": self._fixed_auth},
            )
        self.throttle = throttle
        # A throttle that counts a start once the server has it (the answer, or a failure
        # after connecting) gets a ticket per attempt; see throttle.py.
        self._reserve = throttle.reserve if isinstance(throttle, SendStampingThrottle) else None
        self.concurrent_connections = concurrent_connections
        self._timeout = float(timeout)
        self._client_timeout = aiohttp.ClientTimeout(
            total=self._timeout, sock_connect=self._timeout
        )
        if (
            isinstance(max_response_bytes, bool)
            or not isinstance(max_response_bytes, int)
            or (max_response_bytes < 1)
        ):
            raise ConfigurationError(
                f"max_response_bytes must be a positive integer, got {max_response_bytes!r}"
            )
        self._max_response_bytes = max_response_bytes
        self.retry = retry
        self._name = name
        self._semaphore = asyncio.Semaphore(concurrent_connections)
        self._session: aiohttp.ClientSession | None = None
        self._closed = False
        self.stats = TransportStats()
        # The sandbox mark is looked for once, on the first answer, and only when the
        # URL is not loopback (where the sandbox is expected).
        self._check_sandbox_mark = not is_loopback(self.base_url.host or "")

    # -- lifetime -----------------------------------------------------------------

    async def open(self) -> None:
        """Create the HTTP session; called by the client's ``async with``."""
        if self._closed:
            raise ClientStateError(f"{self._name} is closed; create a new client")
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self.concurrent_connections)
            # No session-level default headers: aiohttp merges them into every request's
            # headers at a measured ~14 us a request; the prebuilt sets (see _headers)
            # are passed as they are.
            self._session = aiohttp.ClientSession(connector=connector, raise_for_status=False)

    async def close(self) -> None:
        """Close the session and its connections. A closed transport cannot reopen."""
        self._closed = True
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    @property
    def is_open(self) -> bool:
        """True between ``open()`` and ``close()``."""
        return self._session is not None

    def _require_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            state = "closed" if self._closed else "not open"
            raise ClientStateError(
                f"{self._name} is {state}: use it inside 'async with {self._name}(...) as client:'"
            )
        return self._session

    # -- sending ------------------------------------------------------------------

    def url_for(self, request: Request) -> URL:
        """The full URL a request goes to (percent-encoded path, query)."""
        url = URL(self._base + request.render_path(), encoded=True)
        if request.query:
            pairs = [(k, query_value(v)) for k, v in request.query.items() if v is not None]
            if pairs:
                url = url.with_query(pairs)
        return url

    async def send(self, request: Request, into: type[T]) -> T:
        """Send ``request`` (with retries) and decode the answer into ``into``.

        Each attempt is written out here rather than in a helper coroutine: every
        coroutine level costs about 1 % of a request (measured with callgrind), and this
        is the path every call of both clients takes.
        """
        session = self._require_session()
        url = self.url_for(request)
        method, path = request.method, url.path
        try:
            body = None if request.body is None else encode(request.body)
        except (UnicodeEncodeError, TypeError) as exc:
            # A lone surrogate (from JSON's "\ud800") or an unsupported type: refuse before
            # sending, so a batch fails the row, not the run.
            raise ConfigurationError(
                f"{method} {path}: the request body cannot be sent as JSON: "
                f"{type(exc).__name__}: {self.scrub(str(exc))}"
            ) from None
        policy = self.retry
        deadline = time.monotonic() + policy.budget
        refreshed = False
        retry = 0
        while True:
            remaining = deadline - time.monotonic()
            try:
                if not request.authenticate:
                    authorization = None
                elif self._fixed_auth is not None:
                    authorization = self._fixed_auth
                else:
                    try:
                        authorization = await self._auth.header()
                    except StampsyncError as exc:
                        # The exchange's answer is not this request's: never let its
                        # DecodeError or 5xx pass for the outcome of a write not sent.
                        raise TokenExchangeError(
                            f"{method} {path}: not sent, the access token could not be "
                            f"obtained: {type(exc).__name__}: {exc}"
                        ) from exc
                headers = self._headers(authorization, body is not None)
                attempt_timeout = min(self._timeout, max(remaining, 0.001))
                timeout = (
                    self._client_timeout
                    if attempt_timeout >= self._timeout
                    else aiohttp.ClientTimeout(total=attempt_timeout, sock_connect=attempt_timeout)
                )
                async with self._semaphore:
                    waited = time.monotonic()
                    if self._reserve is None:
                        await self.throttle.acquire()
                        ticket = None
                    else:
                        try:
                            ticket = await self._reserve(deadline - time.monotonic())
                        except OverBudget as over:
                            raise QuotaWaitError(method, path, over.wait) from None
                    waited = time.monotonic() - waited
                    self.stats.attempts += 1
                    self.stats.throttle_wait += waited
                    answered = False
                    try:
                        async with session.request(
                            method,
                            url,
                            data=body,
                            headers=headers,
                            timeout=timeout,
                            allow_redirects=False,
                        ) as response:
                            answered = True
                            if ticket is not None:
                                ticket.sent()
                            if self._check_sandbox_mark:
                                self._check_sandbox_mark = False
                                warn_if_sandbox(self._name, self.base_url, response.headers)
                            status = response.status
                            length = response.content_length
                            if (
                                length is not None
                                and length <= self._max_response_bytes
                                and CONTENT_ENCODING not in response.headers
                            ):
                                data = await response.read()
                            else:
                                data = await self._read_capped(response, method, path)
                            retry_after = (
                                response.headers.get("Retry-After") if status == 429 else None
                            )
                    except (aiohttp.ClientError, TimeoutError) as exc:
                        failure = self._failed(exc, request, path, retry, waited)
                        if ticket is not None and not (
                            isinstance(failure, TransportError) and not failure.sent
                        ):
                            ticket.sent()  # it may have arrived: count it, as of now
                        raise failure from None
                    except ValueError as exc:
                        if answered:  # the server had the request: never "not sent"
                            raise self._failed(exc, request, path, retry, waited) from None
                        # aiohttp refuses a header or URL it cannot write before sending it.
                        raise ConfigurationError(
                            f"{method} {path}: the request could not be written: "
                            f"{self.scrub(str(exc))}"
                        ) from None
                    finally:
                        if ticket is not None:
                            ticket.release()  # gives the start back only if never sent
                log.debug(
                    "%s %s -> %d (attempt %d, throttle wait %.3fs)",
                    method,
                    path,
                    status,
                    retry + 1,
                    waited,
                )
                if status == 429:
                    limited = RateLimitError("rate limited", status=429, method=method, path=path)
                    limited.retry_after = _parse_retry_after(retry_after)
                    raise limited
                if (
                    status == 401
                    and authorization is not None
                    and not refreshed
                    and await self._auth.refresh(authorization)
                ):
                    refreshed = True
                    continue
                if status >= 400:
                    raise self._api_error(method, path, status, data, request.is_idempotent)
                if status >= 300:
                    raise self._redirected(request, path, status, response.headers)
                try:
                    return decode(data or b"null", into, method=method, path=path, status=status)
                except DecodeError as exc:
                    exc.args = (self.scrub(str(exc)),)  # msgspec may quote the answer
                    raise
            except StampsyncError as exc:
                if isinstance(exc, RateLimitError):
                    if isinstance(exc, QuotaWaitError):
                        raise  # the throttle's own verdict: no 429 arrived, no retry helps
                    self.stats.rate_limited += 1
                    pause = await self.throttle.rate_limited(exc.retry_after)
                    if time.monotonic() + pause >= deadline:
                        # The shared pause outlasts this call's budget: say so now rather
                        # than sleep past the caller's deadline.
                        exc.retry_after = pause
                        raise
                if retry >= policy.max_retries or not policy.retryable(
                    exc, idempotent=request.is_idempotent
                ):
                    raise
                retry += 1
                wait = policy.wait_before(retry, exc)
                if time.monotonic() + wait >= deadline:
                    raise
                self.stats.retries += 1
                log.debug(
                    "%s %s: %s; retry %d in %.3fs", method, path, type(exc).__name__, retry, wait
                )
                if wait > 0:
                    await asyncio.sleep(wait)

    def _headers(self, authorization: str | None, has_body: bool) -> Mapping[str, str]:
        """The request's headers; prebuilt sets unless the Authorization is a JWT."""
        if authorization is None:
            return JSON_BODY_HEADERS if has_body else BASE_HEADERS
        if self._fixed_headers is not None:  # then authorization is the fixed header
            return self._fixed_headers[has_body]
        return {**(JSON_BODY_HEADERS if has_body else BASE_HEADERS), "Authorization": authorization}

    def _failed(
        self, exc: BaseException, request: Request, path: str, retry: int, waited: float
    ) -> StampsyncError:
        """The error for an attempt that got no answer, by whether the server may have it."""
        method = request.method
        if isinstance(exc, aiohttp.ClientConnectorCertificateError):
            # Refused before anything was sent; retrying cannot change the certificate.
            return CertificateError(self._describe(exc), method=method, path=path, sent=False)
        if isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError):
            # The connection was never made: the server cannot have seen the request.
            log.debug(
                "%s %s -> not connected (attempt %d, throttle wait %.3fs)",
                method,
                path,
                retry + 1,
                waited,
            )
            return TransportError(self._describe(exc), method=method, path=path, sent=False)
        log.debug(
            "%s %s -> %s after send (attempt %d, throttle wait %.3fs)",
            method,
            path,
            type(exc).__name__,
            retry + 1,
            waited,
        )
        if request.is_idempotent:
            return TransportError(self._describe(exc), method=method, path=path, sent=True)
        return AmbiguousWriteError(self._describe(exc), method=method, path=path)

    async def _read_capped(self, response: aiohttp.ClientResponse, method: str, path: str) -> bytes:
        """The body, or a DecodeError if it is larger than ``max_response_bytes``.

        For answers without a Content-Length, with one over the cap, or compressed; the
        common case (a declared length within the cap, not compressed) is read directly
        by the caller. A compressed answer's Content-Length counts compressed bytes:
        the inflated bytes are counted here as aiohttp inflates them piece by piece, and
        reading stops at the cap (a gzip bomb is refused, not inflated in memory).
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

    def _redirected(
        self, request: Request, path: str, status: int, headers: Mapping[str, str]
    ) -> StampsyncError:
        """The error for a 3xx: redirects are never followed, nor taken for success.

        Names the status and the Location's host only: its path or query could carry a
        token. A non-idempotent write is ambiguous (a 303 answers an applied POST).
        """
        location = headers.get("Location")
        host: str | None = None
        if location:
            try:
                host = URL(location).host
            except ValueError:
                host = None
        if host:
            where = f"to host {self.scrub(host)[:253]}"
        else:
            where = "to the same host" if location else "without a Location"
        text = f"redirect {where}, not followed (is api_url right?)"
        if not request.is_idempotent:
            return AmbiguousWriteError(
                f"server answered {status}, a {text}",
                method=request.method,
                path=path,
                status=status,
            )
        error = RedirectError(text, status=status, method=request.method, path=path)
        error.location_host = host
        return error

    def _describe(self, exc: BaseException) -> str:
        text = str(exc) or "no details"
        if isinstance(exc, TimeoutError):
            text = f"timed out after {self._timeout:g}s"
        return self.scrub(f"{type(exc).__name__}: {text}")

    def scrub(self, text: str) -> str:
        """Replace every secret the auth sends with ``***``.

        Strings shorter than 6 characters are left alone: no real key is that short,
        and replacing them would mangle ordinary words ("tok" in "token").
        """
        for secret in self._auth.secrets():
            if len(secret) >= 6:
                text = text.replace(secret, "***")
        return text

    def _api_error(
        self, method: str, path: str, status: int, data: bytes, idempotent: bool
    ) -> StampsyncError:
        parsed = parse_error_body(data, self.scrub)
        message = parsed.message
        errors = parsed.errors
        # A 503 says "not applied" only in the API's own words: a proxy's 503 page may
        # come after it forwarded the write (a gateway timeout dressed as 503).
        if status >= 500 and not idempotent and (status != 503 or not is_api_error_body(data)):
            return AmbiguousWriteError(
                f"server answered {status}" + (f": {message}" if message else ""),
                method=method,
                path=path,
                status=status,
            )
        cls: type[APIError]
        if status == 400 or status == 422:
            cls = ValidationError
        elif status in (401, 403):
            cls = AuthenticationError
        elif status == 404:
            cls = NotFoundError
        elif status >= 500:
            cls = ServerError
        else:
            cls = APIError
        return cls(
            message,
            status=status,
            method=method,
            path=path,
            error_code=parsed.error_code,
            errors=errors,
        )


def _parse_retry_after(value: str | None) -> float | None:
    """Retry-After in seconds (at most an hour), or None to use the default backoff.

    Zero, negative, not-a-number and past values are taken as "no usable hint": obeyed
    literally they would make every caller retry at once, into more 429s.
    """
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        seconds = when.timestamp() - time.time()
    if not seconds > 0:  # also NaN
        return None
    return min(seconds, 3600.0)


class QuotaWaitError(RateLimitError):
    """The quota's wait (a 429 pause, a full window) would outlast the call's retry budget.

    Raised before sending; ``retry_after`` is how long the quota needs.
    """

    def __init__(self, method: str, path: str, wait: float) -> None:
        super().__init__(
            f"not sent: the shared quota needs {wait:.1f}s more, past this call's retry budget",
            status=429,
            method=method,
            path=path,
        )
        self.retry_after = wait


def compact(**kwargs: Any) -> dict[str, Any]:
    """Keyword arguments without the ``None`` ones: optional fields left out are not sent."""
    return {k: v for k, v in kwargs.items() if v is not None}
