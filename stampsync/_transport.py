"""The one request path every call of both clients goes through: the policy layer.

    Request -> auth -> slot and quota start (_admission.py) -> HTTP attempt (_http.py)
        -> status to error -> retry? -> msgspec

The network (aiohttp) is behind :class:`HTTPTransport`; this layer holds each attempt
to the client's connection and quota limits, decides what an answer means and whether
to try again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from itertools import count
from typing import Any, TypeVar

from yarl import URL

from ._admission import Admission, QuotaStart
from ._auth import AuthScheme, MissingAuth
from ._codec import (
    JSON_ERRORS,
    decode_failure,
    decoder_for,
    encode,
    is_api_error_body,
    parse_error_body,
)
from ._events import EventKind, Hooks, RequestEvent
from ._http import HTTPRequest, HTTPResponse, HTTPTransport
from ._lanes import task_lane
from ._local_throttle import loop_clock
from ._request import Request, check_base_url, is_loopback, query_value
from ._retry import RetryPolicy
from ._sandbox_mark import warn_if_sandbox
from ._validate import encodable
from ._version import __version__
from .errors import (
    BODY_KEPT,
    AmbiguousWriteError,
    APIError,
    AuthenticationError,
    ConfigurationError,
    DecodeError,
    NotFoundError,
    QuotaWaitError,
    RateLimitError,
    RedirectError,
    ServerError,
    StampsyncError,
    TokenExchangeError,
    TransportError,
    ValidationError,
)
from .throttle import Throttle

T = TypeVar("T")

log = logging.getLogger("stampsync")

#: Numbers calls for their events (one counter for every client: numbers never repeat).
_calls = count(1)

BASE_HEADERS = {"User-Agent": f"stampsync/{__version__}", "Accept": "application/json"}
JSON_BODY_HEADERS = {**BASE_HEADERS, "Content-Type": "application/json"}


@dataclass(slots=True)
class TransportStats:
    """Counters for what the transport did; handy for summaries and tests.

    Attributes:
        attempts: requests sent (each retry is one more).
        retries: attempts made after a failed one.
        rate_limited: 429 answers received.
        throttle_wait: seconds spent waiting for the quota, all attempts together.
        round_trip: a moving average of the seconds from a request leaving to its
            answer's headers (0 until one was measured).
    """

    attempts: int = 0
    retries: int = 0
    rate_limited: int = 0
    throttle_wait: float = 0.0
    round_trip: float = 0.0


class _Credential:
    """One credential, prepared: its header's name and, if it never changes, the
    header sets built once (aiohttp copies them into each request, never changes them)."""

    __slots__ = ("auth", "fixed", "header_name", "headers", "missing")

    def __init__(self, auth: AuthScheme) -> None:
        self.auth = auth
        self.header_name: str = getattr(auth, "header_name", "Authorization")
        self.missing: str | None = auth.reason if isinstance(auth, MissingAuth) else None
        self.fixed = None if self.missing is not None else auth.fixed_header()
        self.headers: tuple[dict[str, str], dict[str, str]] | None = None
        if self.fixed is not None:
            self.headers = (
                {**BASE_HEADERS, self.header_name: self.fixed},
                {**JSON_BODY_HEADERS, self.header_name: self.fixed},
            )


class _ProbeGate:
    """After a ``Retry-After`` cut short to ``max_retry_after``: one attempt at a time,
    until one is answered with anything but 429 (the server may still be limiting, and
    a burst at the pause's end would only earn a burst of 429s)."""

    __slots__ = ("active", "lock")

    def __init__(self) -> None:
        self.active = False
        self.lock = asyncio.Lock()


class Transport:
    """Sends :class:`Request` objects through an :class:`HTTPTransport`: credentials,
    401 refresh, status to typed error, retries by idempotency, decoding."""

    def __init__(
        self,
        *,
        api_url: str,
        auth: AuthScheme,
        http: HTTPTransport,
        admission: Admission,
        timeout: float,
        retry: RetryPolicy,
        name: str,
        stats: TransportStats,
        extra_secrets: tuple[str, ...] = (),
        hooks: Hooks | None = None,
        more_auth: Mapping[str, AuthScheme] | None = None,
        max_retry_after: float = 300.0,
        lane: str | None = None,
    ) -> None:
        self.base_url = check_base_url(api_url)
        self.lane = lane
        self.max_retry_after = max_retry_after
        self._probe = _ProbeGate()
        self._base_path = self.base_url.raw_path.rstrip("/")
        self._auth = auth
        self._extra_secrets = extra_secrets
        self.hooks = hooks or Hooks(())
        self._host = self.base_url.host or ""
        # One prepared credential per name: "" is the client's main one; a client that
        # speaks two API versions (Stamped V2 and V3) has a second, in its own header.
        self._credentials = {"": _Credential(auth)}
        for key, scheme in (more_auth or {}).items():
            self._credentials[key] = _Credential(scheme)
        self.http = http
        self.admission = admission
        self.throttle: Throttle = admission.throttle
        self.timeout = float(timeout)
        self.retry = retry
        self._name = name
        self.stats = stats
        # The sandbox mark is looked for once, on the first answer, and only when the
        # URL is not loopback (where the sandbox is expected).
        self._check_sandbox_mark = not is_loopback(self.base_url.host or "")

    def with_policy(
        self, *, timeout: float, retry: RetryPolicy, hooks: Hooks, lane: str | None = None
    ) -> Transport:
        """A transport sharing this one's network, throttle, credentials and counters,
        with another timeout, retry policy and lane (``None``: by what the call is part of)."""
        other = object.__new__(Transport)
        for name in (
            "base_url",
            "_base_path",
            "_auth",
            "_extra_secrets",
            "_credentials",
            "http",
            "admission",
            "throttle",
            "_name",
            "stats",
            "_check_sandbox_mark",
            "max_retry_after",
            "_probe",
        ):
            setattr(other, name, getattr(self, name))
        other.timeout = float(timeout)
        other.retry = retry
        other.hooks = hooks
        other.lane = lane
        other._host = self._host
        return other

    def url_for(self, request: Request) -> URL:
        """The full URL a request goes to (percent-encoded path, query)."""
        # with_path on the parsed base rather than URL(text): no reparsing of the host.
        url = self.base_url.with_path(self._base_path + request.render_path(), encoded=True)
        if request.query:
            pairs: list[tuple[str, str]] = []
            for k, v in request.query.items():
                if v is None:
                    continue
                if isinstance(v, list | tuple):  # an array: the key repeated (form, explode)
                    pairs += [(k, query_value(x)) for x in v]
                else:
                    pairs.append((k, query_value(v)))
            for k, v in pairs:
                # yarl drops a lone surrogate silently: "a\ud800@b.co" would name a@b.co.
                if not v.isascii():
                    encodable(v, f"{request.path}: query parameter {k!r}")
            if pairs:
                url = url.with_query(pairs)
        return url

    async def send(
        self, request: Request, into: type[T], call: int = 0, *, start: QuotaStart | None = None
    ) -> T:
        """Send ``request`` (with retries) and decode the answer into ``into``.

        With hooks, ``call`` numbers the call's events (0: number it here). ``start``, a
        slot and quota start taken ahead (:meth:`Admission.ahead`), is used by the first
        attempt if it is still fresh; whatever it holds is released when that attempt ends.
        """
        if self.hooks.hooks and not call:  # the tuple: Hooks.__bool__ is a Python call
            return await self._observed(request, into, start)
        url = self.url_for(request)
        # Errors and logs name the template (as hooks do): a filled path such as
        # /customers/a@b.co would carry personal data into every message and log line.
        method, path = request.method, request.path
        body = None if request.body is None else self._encoded(request.body, method, path)
        # The loop's clock, which the throttle, aiohttp's timeouts and the backoff sleeps
        # read too: a test that moves it drives all of them at once.
        loop_time = loop_clock(asyncio.get_running_loop())
        deadline = loop_time() + self.retry.budget
        lane = self.lane or task_lane()
        refreshed = False
        retry = 0
        while True:
            # Outside the retry below: the exchange has its own retries, and its failure
            # is not this request's (its DecodeError or 5xx must not pass for one).
            credential, authorization, headers = self._credential(
                request, method, path, body is not None
            )
            if headers is None:  # a credential that renews itself: its header of now
                assert credential is not None
                authorization = await self._renewable_authorization(
                    credential.auth, method, path, start
                )
                headers = self._headers(credential, authorization, body is not None)
            try:
                response = await self._attempt(
                    request, path, url, headers, body, deadline, lane, retry, call, start, loop_time
                )
                if response.status >= 300:
                    if await self._renewed(response.status, credential, authorization, refreshed):
                        refreshed = True
                        continue
                    raise self._refusal(response, method, path, request.is_idempotent)
                return self._decode(response, into, method, path)
            except StampsyncError as exc:
                if not await self._retrying(exc, request, path, retry, deadline, call):
                    raise
                retry += 1

    def _encoded(self, body: object, method: str, path: str) -> bytes:
        """The request body as JSON, or a ConfigurationError before anything is sent."""
        try:
            return encode(body)
        except (UnicodeEncodeError, TypeError) as exc:
            # A lone surrogate (from JSON's "\ud800") or an unsupported type: refuse before
            # sending, so a batch fails the row, not the run.
            raise ConfigurationError(
                f"{method} {path}: the request body cannot be sent as JSON: "
                f"{type(exc).__name__}: {self.scrub(str(exc))}"
            ) from None

    def _credential(
        self, request: Request, method: str, path: str, has_body: bool
    ) -> tuple[_Credential | None, str | None, Mapping[str, str] | None]:
        """The request's credential (None if it is sent without one), its fixed header
        value and its headers (both None while a credential that renews itself has yet
        to give its header); or a ConfigurationError if the credential is unknown or
        missing."""
        if not request.authenticate:
            return None, None, JSON_BODY_HEADERS if has_body else BASE_HEADERS
        name = request.credential
        try:
            credential = self._credentials[name]
        except KeyError:
            raise ConfigurationError(f"{method} {path}: unknown credential {name!r}") from None
        if credential.missing is not None:
            raise ConfigurationError(f"{method} {path}: not sent: {credential.missing}")
        # The prebuilt headers of a fixed credential: no call to _headers per request.
        fixed = credential.headers
        return credential, credential.fixed, None if fixed is None else fixed[has_body]

    async def _attempt(
        self,
        request: Request,
        path: str,
        url: URL,
        headers: Mapping[str, str],
        body: bytes | None,
        deadline: float,
        lane: str,
        retry: int,
        call: int,
        start: QuotaStart | None,
        loop_time: Callable[[], float],
    ) -> HTTPResponse:
        """One attempt: its turn if probing, its slot and start, the network, the answer
        noted (any status).

        ``path`` is what errors and logs name (the template). ``call`` is numbered only
        when hooks observe the call (see :meth:`send`): testing it is cheaper than
        testing the hooks, whose truth is a Python-level ``__bool__``. ``start`` (taken
        ahead) serves only while it holds its slot: a retry finds it released.
        """
        method = request.method
        started = 0.0
        if call:
            started = loop_time()
            self._emit("attempt", call, request, retry + 1)
        remaining = deadline - loop_time()
        attempt = HTTPRequest(
            method,
            url,
            headers,
            body,
            min(self.timeout, max(remaining, 0.001)),
            deadline,
            request.path,
            lane,
        )
        probe = self._probe
        probing = probe.active and await self._probe_turn(method, path, deadline)
        try:
            admission = self.admission
            # The free path first (no coroutine); a start taken ahead goes through enter().
            admitted = admission.enter_now(lane) if start is None else None
            if admitted is None:
                admitted = await admission.enter(start, deadline, lane, method, path)
            try:
                self.stats.attempts += 1
                response = await self.http.handle(attempt)
                admitted.sent()
            except StampsyncError as exc:
                failure = self._unanswered(exc, admitted, request, path, retry)
                if failure is exc:
                    raise
                raise failure from None
            finally:
                admitted.release()  # gives the start back only if it was never sent
        finally:
            if probing:
                probe.lock.release()
        # Most answers need none of _answered's work: a frame less per request.
        if probing or call or self._check_sandbox_mark or log.isEnabledFor(logging.DEBUG):
            self._answered(response, request, probing, call, retry, admitted.waited, started)
        return response

    def _unanswered(
        self, exc: StampsyncError, admitted: QuotaStart, request: Request, path: str, retry: int
    ) -> StampsyncError:
        """What an attempt that got no usable answer raises; its start is counted when
        the server may have the request. ``path`` is the template errors name."""
        if isinstance(exc, TransportError):
            if exc.sent:
                admitted.sent()  # it may have arrived: count it, as of now
            return self._failed(exc, request.method, path, request.is_idempotent, retry)
        if isinstance(exc, DecodeError):
            admitted.sent()  # answered, then refused while reading
        exc.args = tuple(self.scrub(str(a)) for a in exc.args)
        return exc

    def _answered(
        self,
        response: HTTPResponse,
        request: Request,
        probing: bool,
        call: int,
        retry: int,
        waited: float,
        started: float,
    ) -> None:
        """Note an answer (any status): the probe's end, the hooks, the sandbox mark, the
        debug line."""
        status = response.status
        if probing and status != 429:
            self._probe.active = False  # answered: traffic resumes
        if call:
            took = asyncio.get_running_loop().time() - started
            self._observe(call, request, retry + 1, response, waited, took)
        if self._check_sandbox_mark:
            self._check_sandbox_mark = False
            warn_if_sandbox(self._name, self.base_url, response.headers)
        if log.isEnabledFor(logging.DEBUG):  # one call fewer per request when it is not
            log.debug(
                "%s %s -> %d (attempt %d, throttle wait %.3fs)",
                request.method,
                request.path,
                status,
                retry + 1,
                waited,
            )

    async def _renewed(
        self,
        status: int,
        credential: _Credential | None,
        authorization: str | None,
        refreshed: bool,
    ) -> bool:
        """True if a 401 was answered to a credential that renewed itself (at most once
        per call): send again."""
        return (
            status == 401
            and credential is not None
            and authorization is not None
            and not refreshed
            and await credential.auth.refresh(authorization)
        )

    def _refusal(
        self, response: HTTPResponse, method: str, path: str, idempotent: bool
    ) -> StampsyncError:
        """The error for an answer of 300 or more."""
        status = response.status
        if status == 429:
            return self._rate_limited(response, method, path)
        if status >= 400:
            return self._api_error(method, path, response, idempotent)
        return self._redirected(idempotent, method, path, status, response.headers)

    def _rate_limited(self, response: HTTPResponse, method: str, path: str) -> RateLimitError:
        """A 429's error, with its ``Retry-After`` cut to ``max_retry_after``."""
        limited = RateLimitError("rate limited", status=429, method=method, path=path)
        hint = _parse_retry_after(response.headers.get("Retry-After"))
        if hint is not None and hint > self.max_retry_after:
            # Obeyed, one hint could stop every call of the process for an
            # hour; after the cut pause, a probe asks again.
            hint = self.max_retry_after
            self._probe.active = True
        limited.retry_after = hint
        return limited

    def _decode(self, response: HTTPResponse, into: type[T], method: str, path: str) -> T:
        """The answer's body as ``into`` (an empty body is JSON ``null``)."""
        # codec.decode's steps, here: a frame less per request.
        try:
            result: T = decoder_for(into).decode(response.body or b"null")
            return result
        except JSON_ERRORS as exc:
            failure = decode_failure(exc, method=method, path=path, status=response.status)
        failure.args = (self.scrub(str(failure)),)  # msgspec may quote the answer
        raise failure

    async def _retrying(
        self,
        exc: StampsyncError,
        request: Request,
        path: str,
        retry: int,
        deadline: float,
        call: int,
    ) -> bool:
        """After attempt ``retry + 1`` failed with ``exc``: wait and return True to try
        again, or return False to give up (the caller raises ``exc``)."""
        hooks = self.hooks
        if hooks and isinstance(exc, AmbiguousWriteError):
            self._emit("ambiguous", call, request, retry + 1, error=type(exc).__name__)
        if isinstance(exc, RateLimitError) and not await self._shared_pause(exc, deadline):
            return False
        wait = self._backoff(exc, request.is_idempotent, retry, deadline)
        if wait is None:
            return False
        retry += 1
        self.stats.retries += 1
        if hooks:
            self._emit("retry", call, request, retry, wait=wait, error=type(exc).__name__)
        log.debug(
            "%s %s: %s; retry %d in %.3fs",
            request.method,
            path,
            type(exc).__name__,
            retry,
            wait,
        )
        if wait > 0:
            await asyncio.sleep(wait)
        return True

    async def _shared_pause(self, exc: RateLimitError, deadline: float) -> bool:
        """Count a 429 and pause with every caller of the throttle; False if the pause
        outlasts the call's budget (or no 429 came): then the caller gives up."""
        if isinstance(exc, QuotaWaitError):
            return False  # the throttle's own verdict: no 429 arrived, no retry helps
        self.stats.rate_limited += 1
        pause = await self.throttle.rate_limited(exc.retry_after)
        if asyncio.get_running_loop().time() + pause >= deadline:
            # The shared pause outlasts this call's budget: say so now rather
            # than sleep past the caller's deadline.
            exc.retry_after = pause
            return False
        return True

    def _backoff(
        self, exc: StampsyncError, idempotent: bool, retry: int, deadline: float
    ) -> float | None:
        """Seconds to wait before the next attempt, or None if ``exc`` ends the call:
        not retryable, retries spent, or the wait would pass the deadline."""
        policy = self.retry
        if retry >= policy.max_retries or not policy.retryable(exc, idempotent=idempotent):
            return None
        wait = policy.wait_before(retry + 1, exc)
        if asyncio.get_running_loop().time() + wait >= deadline:
            return None
        return wait

    async def _probe_turn(self, method: str, path: str, deadline: float) -> bool:
        """Wait to be the one attempt in flight while probing; False if probing ended
        meanwhile. Raises QuotaWaitError if the turn would come after ``deadline``."""
        probe = self._probe
        remaining = deadline - asyncio.get_running_loop().time()
        try:
            await asyncio.wait_for(probe.lock.acquire(), max(remaining, 0.0))
        except TimeoutError:
            raise QuotaWaitError(method, path, remaining) from None
        if not probe.active:
            probe.lock.release()
            return False
        return True

    async def _observed(self, request: Request, into: type[T], start: QuotaStart | None) -> T:
        """``send`` with an ``end`` event, whatever the outcome (cancellation included)."""
        call = next(_calls)
        loop_time = asyncio.get_running_loop().time
        started = loop_time()
        try:
            result = await self.send(request, into, call, start=start)
        except BaseException as exc:
            status = getattr(exc, "status", None)
            self._emit(
                "end",
                call,
                request,
                0,
                status=status if isinstance(status, int) else None,
                error=type(exc).__name__,
                elapsed=loop_time() - started,
            )
            raise
        self._emit("end", call, request, 0, elapsed=loop_time() - started)
        return result

    def _emit(
        self,
        kind: EventKind,
        call: int,
        request: Request,
        attempt: int,
        **details: Any,
    ) -> None:
        self.hooks.emit(
            RequestEvent(
                kind=kind,
                call=call,
                method=request.method,
                path=request.path,
                host=self._host,
                attempt=attempt,
                **details,
            )
        )

    def _observe(
        self,
        call: int,
        request: Request,
        attempt: int,
        response: HTTPResponse,
        waited: float,
        took: float,
    ) -> None:
        if waited > 0:
            self._emit("throttle_wait", call, request, attempt, throttle_wait=waited)
        self._emit(
            "response",
            call,
            request,
            attempt,
            status=response.status,
            throttle_wait=waited,
            network=max(took - waited, 0.0),
        )

    async def _renewable_authorization(
        self, auth: AuthScheme, method: str, path: str, start: QuotaStart | None
    ) -> str:
        current = getattr(auth, "current", None)
        if start is not None and (current is None or current() is None):
            # A renewal is due: this task may wait for it, and the renewal's request for
            # a connection slot. A slot held meanwhile (a batch's start taken ahead)
            # could be the one it needs.
            start.release()
        try:
            return await auth.header()
        except StampsyncError as exc:
            raise TokenExchangeError(
                f"{method} {path}: not sent, the access token could not be "
                f"obtained: {type(exc).__name__}: {exc}"
            ) from exc

    def _headers(
        self, credential: _Credential | None, authorization: str | None, has_body: bool
    ) -> Mapping[str, str]:
        """The request's headers; prebuilt sets unless the credential is a JWT."""
        if credential is None or authorization is None:
            return JSON_BODY_HEADERS if has_body else BASE_HEADERS
        if credential.headers is not None:  # then authorization is the fixed header
            return credential.headers[has_body]
        return {
            **(JSON_BODY_HEADERS if has_body else BASE_HEADERS),
            credential.header_name: authorization,
        }

    def _failed(
        self, exc: TransportError, method: str, path: str, idempotent: bool, retry: int
    ) -> StampsyncError:
        """A failed attempt's error: a write the server may have is ambiguous."""
        exc.args = tuple(self.scrub(str(a)) for a in exc.args)
        log.debug(
            "%s %s -> %s (attempt %d)",
            method,
            path,
            "not connected" if not exc.sent else "failed after send",
            retry + 1,
        )
        if exc.sent and not idempotent:
            prefix = f"{method} {path}: "
            text = str(exc)
            text = text[len(prefix) :] if text.startswith(prefix) else text
            return AmbiguousWriteError(text, method=method, path=path)
        return exc

    def _redirected(
        self, idempotent: bool, method: str, path: str, status: int, headers: Mapping[str, str]
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
        error = RedirectError(
            text,
            status=status,
            method=method,
            path=path,
            headers={k: self.scrub(v) for k, v in headers.items()},
        )
        error.location_host = host
        if not idempotent:
            ambiguous = AmbiguousWriteError(
                f"server answered {status}, a {text}", method=method, path=path, status=status
            )
            ambiguous.__cause__ = error
            return ambiguous
        return error

    def scrub(self, text: str) -> str:
        """Replace every secret the auth sends with ``***``.

        Strings shorter than 6 characters are left alone: no real key is that short,
        and replacing them would mangle ordinary words ("tok" in "token").
        """
        for secret in self._extra_secrets:
            if len(secret) >= 6:
                text = text.replace(secret, "***")
        for credential in self._credentials.values():
            for secret in credential.auth.secrets():
                if len(secret) >= 6:
                    text = text.replace(secret, "***")
        return text

    def _api_error(
        self, method: str, path: str, response: HTTPResponse, idempotent: bool
    ) -> StampsyncError:
        status, data = response.status, response.body
        parsed = parse_error_body(data, self.scrub)
        message = parsed.message
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
        error = cls(
            message,
            status=status,
            method=method,
            path=path,
            error_code=parsed.error_code,
            errors=parsed.errors,
            headers={k: self.scrub(v) for k, v in response.headers.items()},
            # Scrubbed before the cut, so no part of a secret survives it.
            body=self.scrub(data[: BODY_KEPT + 512].decode("utf-8", "replace")).encode(),
        )
        # A 503 says "not applied" only in the vendor's documented error object: a
        # proxy's 503 (a page, or JSON of its own) may come after it forwarded the write.
        if status >= 500 and not idempotent and (status != 503 or not is_api_error_body(data)):
            ambiguous = AmbiguousWriteError(
                f"server answered {status}" + (f": {message}" if message else ""),
                method=method,
                path=path,
                status=status,
            )
            ambiguous.__cause__ = error  # handlers that look for the status still can
            return ambiguous
        return error


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
