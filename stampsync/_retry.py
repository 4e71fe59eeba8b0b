"""Whether and when to try a request again.

The decision is (failure kind) x (is the request idempotent?):

=====================================  ==============  ==================
failure                                idempotent      non-idempotent
=====================================  ==============  ==================
connection never established           retry           retry
connection reset / timeout after send  retry           AmbiguousWriteError
429                                    retry           retry (not applied)
503 in Stamps' own error object       retry           retry (not applied)
503 with anything else (a proxy's)     retry           AmbiguousWriteError
502, 504                               retry           AmbiguousWriteError
500                                    retry           AmbiguousWriteError
other 5xx                              ServerError     AmbiguousWriteError
2xx body that is not JSON (truncated)  retry           raise (DecodeError)
3xx (redirects are never followed)     RedirectError   AmbiguousWriteError
certificate refused                    raise           raise
4xx other than 429                     raise           raise
=====================================  ==============  ==================

The ambiguous cases are turned into :class:`AmbiguousWriteError` by the transport before
they reach this policy, so the policy only ever sees failures that are safe to judge.
Waits are exponential with full jitter, or the server's Retry-After, and never run past
the request's total time budget.
"""

from __future__ import annotations

import contextlib
import contextvars
import random
from collections.abc import Iterator
from dataclasses import dataclass

from .errors import (
    CertificateError,
    DecodeError,
    RateLimitError,
    ServerError,
    StampsyncError,
    TransportError,
)

#: Statuses after which an idempotent request is tried again.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: Statuses that say the server did not apply the request, so even a write may repeat.
NOT_APPLIED_STATUSES = frozenset({429, 503})

_backoff_enabled: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "stampsync_backoff_enabled", default=True
)


@contextlib.contextmanager
def backoff_disabled() -> Iterator[None]:
    """Within this block retries happen at once (tests); the decisions stay the same."""
    token = _backoff_enabled.set(False)
    try:
        yield
    finally:
        _backoff_enabled.reset(token)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How many times and how patiently a failed request is tried again.

    Attributes:
        max_retries: attempts after the first one.
        budget: seconds from the first attempt after which nothing new is started.
        backoff_base: the first backoff's upper bound in seconds.
        backoff_cap: no backoff is longer than this.
    """

    max_retries: int = 3
    budget: float = 120.0
    backoff_base: float = 0.5
    backoff_cap: float = 20.0

    def retryable(self, exc: StampsyncError, *, idempotent: bool) -> bool:
        """True if ``exc`` is a failure after which the request may be sent again."""
        if isinstance(exc, RateLimitError):
            return True
        if isinstance(exc, ServerError):
            allowed = RETRY_STATUSES if idempotent else NOT_APPLIED_STATUSES
            return exc.status in allowed
        if isinstance(exc, TransportError):
            # A refused certificate stays refused: trying again only delays the error.
            return (idempotent or not exc.sent) and not isinstance(exc, CertificateError)
        if isinstance(exc, DecodeError):
            # A garbled or truncated body is a read that failed midway: as safe to
            # repeat as a dropped connection, for an idempotent request only.
            return idempotent and exc.malformed
        return False

    def wait_before(self, retry: int, exc: StampsyncError) -> float:
        """Seconds to wait before retry number ``retry`` (1-based) after ``exc``."""
        if not _backoff_enabled.get():
            return 0.0
        if isinstance(exc, RateLimitError):
            # The throttle already holds every caller for the cool-down; this request
            # only has to queue behind it, not wait a second time.
            return 0.0
        ceiling = min(self.backoff_cap, self.backoff_base * 2 ** (retry - 1))
        return random.uniform(0, ceiling)
