"""The exceptions stampsync raises.

Every exception derives from :class:`StampsyncError`::

    StampsyncError
    ├── ConfigurationError      bad client settings or arguments (also a ValueError)
    ├── ClientStateError        client used before ``async with`` or after it closed
    │   └── ConcurrentRunError  another live run holds the same state or export file
    ├── StateFileError          a journal or sync-state file cannot be read or written
    │   └── JournalError        a journal database (PostgreSQL) cannot be used
    ├── ThrottleUnavailableError  a shared throttle (Redis) cannot be reached; nothing sent
    ├── QueueError              a fleet's job queue cannot be reached
    ├── TokenExchangeError      the access token could not be obtained; nothing sent
    ├── WebhookError            a webhook request to refuse (wrong secret, not JSON)
    └── RequestError            one request went wrong; ``.method`` and ``.path`` say which
        ├── APIError            the server answered with an error status
        │   ├── ValidationError     400: the server's field errors in ``.errors``
        │   ├── AuthenticationError 401, 403
        │   ├── NotFoundError       404
        │   ├── RateLimitError      429
        │   │   └── QuotaWaitError  not sent: the quota's wait outlasts the retry budget
        │   ├── RedirectError       3xx (redirects are never followed)
        │   └── ServerError         5xx
        ├── TransportError      no usable answer: connection failed, reset, timed out
        │   └── CertificateError    the server's TLS certificate was refused; never retried
        ├── AmbiguousWriteError a non-idempotent write was sent, its outcome is unknown
        └── DecodeError         an answer that is not the JSON shape the API documents

Messages name the request (method and path template) and what went wrong; they never
contain a private key, token or Authorization header, nor the filled path (an email in
``/customers/a@b.co``): ``path`` is the endpoint's template, e.g. ``/customers/{email}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "APIError",
    "AmbiguousWriteError",
    "AuthenticationError",
    "CertificateError",
    "ClientStateError",
    "ConcurrentRunError",
    "ConfigurationError",
    "DecodeError",
    "JournalError",
    "NotFoundError",
    "QueueError",
    "QuotaWaitError",
    "RateLimitError",
    "RedirectError",
    "RequestError",
    "ServerError",
    "StampsyncError",
    "StateFileError",
    "ThrottleUnavailableError",
    "TokenExchangeError",
    "TransportError",
    "ValidationError",
    "WebhookError",
]


class StampsyncError(Exception):
    """Base class of every error stampsync raises."""

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled as it stands, not through __init__ (whose keyword-only arguments the
        # default protocol cannot replay): a process pool that sends a failed task's
        # error back can read it.
        return (_rebuild, (type(self), self.args, self.__dict__.copy()))


def _rebuild(
    cls: type[StampsyncError], args: tuple[Any, ...], state: dict[str, Any]
) -> StampsyncError:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class ConfigurationError(StampsyncError, ValueError):
    """A client setting or a method argument is invalid; nothing was sent."""


class ClientStateError(StampsyncError, RuntimeError):
    """The client was used before ``async with`` opened it, or after it closed."""


class ConcurrentRunError(ClientStateError):
    """Another live run holds the file (sync state, export) this run needs; nothing was sent.

    The message names the other run: its process id, host and start time.
    """


class StateFileError(StampsyncError):
    """A journal or sync-state file could not be read or written (disk full, locked).

    The write it concerned, if any, was not sent: intents are recorded before sending.
    """


class QueueError(StampsyncError):
    """A fleet's job queue could not be reached; nothing was queued. (The queue lives in
    the journal's database now, whose errors are :class:`JournalError`; kept for code
    that catches it.)"""


class JournalError(StateFileError):
    """A shared journal's database (PostgreSQL) refused a query or stayed unreachable.

    As for a file: the write it concerned was not sent, since intents are committed
    first. The message names the database without its password.
    """


class RequestError(StampsyncError):
    """One request went wrong. The base of every error about a request.

    Attributes:
        method: the request's HTTP method.
        path: the endpoint's path template (``/api/v2/{store_hash}/customers/{id}``),
            never the filled path, which may carry personal data.
    """

    method: str
    path: str

    def __init__(self, text: str, *, method: str, path: str) -> None:
        self.method = method
        self.path = path
        super().__init__(text)


#: Answer headers an :class:`APIError` never keeps (they may carry credentials).
_PRIVATE_HEADERS = frozenset({"set-cookie", "authorization", "proxy-authorization", "cookie"})
#: Headers that name a request in the vendor's logs, in the order they are looked for.
_REQUEST_ID_HEADERS = ("x-request-id", "x-amzn-requestid", "x-amz-request-id", "request-id")
#: How much of an error answer's body an :class:`APIError` keeps.
BODY_KEPT = 4096


class APIError(RequestError):
    """The server answered with an error status.

    Attributes:
        status: the HTTP status code.
        method: the request's HTTP method.
        path: the endpoint's path template (no personal data).
        message: the server's own explanation, when it gave one.
        error_code: Stamps' ``error_code`` (e.g. ``"user_has_no_membership"``), if any.
        errors: field errors as ``{field: message}``; non-field errors under ``"__all__"``.
        headers: the answer's headers (cookies left out).
        body: the answer's body, at most 4 KiB, with any secret the client sends replaced
            by ``***``.
        request_id: the request id the server sent (``X-Request-Id`` and the like), for a
            support ticket.
    """

    headers: dict[str, str]
    body: bytes
    request_id: str | None

    def __init__(
        self,
        message: str,
        *,
        status: int,
        method: str,
        path: str,
        error_code: str | None = None,
        errors: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
    ) -> None:
        self.status = status
        self.method = method
        self.path = path
        self.message = message
        self.error_code = error_code
        self.errors: dict[str, str] = dict(errors or {})
        self.headers = {
            k: v for k, v in (headers or {}).items() if k.lower() not in _PRIVATE_HEADERS
        }
        self.body = body[:BODY_KEPT]
        lowered = {k.lower(): v for k, v in self.headers.items()}
        self.request_id = next((lowered[h] for h in _REQUEST_ID_HEADERS if h in lowered), None)
        super().__init__(self._describe(), method=method, path=path)

    def _describe(self) -> str:
        text = f"{self.method} {self.path} -> {self.status}"
        if self.error_code:
            text += f" [{self.error_code}]"
        if self.message:
            text += f": {self.message}"
        if self.errors:
            fields = "; ".join(f"{k}: {v}" for k, v in self.errors.items())
            if fields not in text:
                text += f" ({fields})"
        return text


class ValidationError(APIError):
    """400: the server rejected the request's data. See ``errors`` and ``error_code``."""


class AuthenticationError(APIError):
    """401 or 403: credentials missing, wrong, or not allowed to do this."""


class NotFoundError(APIError):
    """404: the resource does not exist."""


class RateLimitError(APIError):
    """429: the server's quota is spent. ``retry_after`` is its hint in seconds, if any."""

    retry_after: float | None = None


class QuotaWaitError(RateLimitError):
    """Not sent: the quota's wait (a 429 pause, a full window) would outlast the call's
    retry budget. ``retry_after`` is how long the quota needs."""

    def __init__(self, method: str, path: str, wait: float) -> None:
        super().__init__(
            f"not sent: the shared quota needs {wait:.1f}s more, past this call's retry budget",
            status=429,
            method=method,
            path=path,
        )
        self.retry_after = wait


class ServerError(APIError):
    """5xx: the server failed."""


class RedirectError(APIError):
    """3xx: the server answered with a redirect, which stampsync never follows.

    A redirect usually means a wrong ``api_url`` (http to https, a moved host, a login
    page). The message names the status and only the host of the ``Location`` header,
    never its full URL (which could carry a token). Not retried. A non-idempotent write
    answered with a 3xx raises :class:`AmbiguousWriteError` instead: a 303 is how a
    server says "applied, see there".

    Attributes:
        location_host: the host the redirect points to, or ``None`` when the Location
            is missing or relative (the same host).
    """

    location_host: str | None = None


class TransportError(RequestError):
    """No usable answer arrived: the connection failed, was reset, or timed out.

    Attributes:
        method, path: the request.
        sent: ``False`` when the request provably never reached the server.
    """

    def __init__(self, message: str, *, method: str, path: str, sent: bool) -> None:
        self.sent = sent
        super().__init__(f"{method} {path}: {message}", method=method, path=path)


class CertificateError(TransportError):
    """The server's TLS certificate was refused (untrusted, expired, wrong host).

    Nothing was sent, and it is never retried: the certificate will not change within a
    call's retry budget.
    """


class ThrottleUnavailableError(StampsyncError):
    """A shared throttle (``RedisThrottle``) could not be reached; nothing was sent.

    stampsync fails closed rather than risk exceeding a quota other workers share.
    """


class TokenExchangeError(StampsyncError):
    """The access token a request needs could not be obtained; the request was not sent.

    The exchange (Stamps' ``POST /api/auth/get-access-token/``) failed or answered
    something unusable. ``__cause__`` is the exchange's own error.
    """


class AmbiguousWriteError(RequestError):
    """A non-idempotent write was sent, and whether the server applied it is unknown.

    stampsync never retries such a write on its own: a retry could apply it twice.
    Check the server's state (or the batch journal) before trying again.

    Attributes:
        method, path: the request.
        status: the HTTP status if one arrived (e.g. 502, 504), else ``None``; then
            ``__cause__`` is the :class:`ServerError` (or :class:`RedirectError`) the
            status maps to, so code that handles errors by status still sees it.
    """

    def __init__(self, message: str, *, method: str, path: str, status: int | None = None) -> None:
        self.status = status
        text = f"{method} {path}: outcome unknown, not retried: {message}"
        super().__init__(text, method=method, path=path)


class DecodeError(RequestError):
    """The server's answer is not valid JSON of the documented shape.

    Attributes:
        method, path, status: the request and the status that came with the body.
        malformed: ``True`` when the bytes are not JSON at all (a truncated or garbled
            body), which an idempotent request retries; ``False`` for JSON of the wrong
            shape and for an answer over ``max_response_bytes``, which are not retried.
    """

    def __init__(
        self, message: str, *, method: str, path: str, status: int, malformed: bool = False
    ) -> None:
        self.status = status
        self.malformed = malformed
        super().__init__(f"{method} {path} -> {status}: {message}", method=method, path=path)


class WebhookError(StampsyncError):
    """A webhook request that must be refused: wrong secret, or a body that is not JSON.

    Attributes:
        status: the HTTP status to answer with: 401 for a missing or wrong secret, 400
            for a body that is not a JSON object (malformed, not UTF-8, nested too deep).
    """

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status
