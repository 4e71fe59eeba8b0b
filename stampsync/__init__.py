"""stampsync: the asyncio client SDK for Stamped.io and Stamps (stamps.co.id).

>>> from stampsync import StampedClient, StampsClient

Everything a user names is importable from here: the two clients, their options, the
throttles, the network seam and every exception (see :mod:`stampsync.errors` for the
tree). API sections and models live in :mod:`stampsync.stamped` and
:mod:`stampsync.stamps`; test helpers in :mod:`stampsync.testing`.
"""

from ._events import Hook, RequestEvent
from ._http import HTTPRequest, HTTPResponse, HTTPTransport
from ._options import CallSettings, ClientOptions, ClientSettings
from ._transport import TransportStats
from ._version import __version__
from .errors import (
    AmbiguousWriteError,
    APIError,
    AuthenticationError,
    CertificateError,
    ClientStateError,
    ConcurrentRunError,
    ConfigurationError,
    DecodeError,
    JournalError,
    NotFoundError,
    QueueError,
    QuotaWaitError,
    RateLimitError,
    RedirectError,
    RequestError,
    ServerError,
    StampsyncError,
    StateFileError,
    ThrottleUnavailableError,
    TokenExchangeError,
    TransportError,
    ValidationError,
    WebhookError,
)
from .stamped import StampedClient
from .stamps import StampsClient
from .throttle import LocalThrottle, RedisThrottle, Throttle

__all__ = [
    "APIError",
    "AmbiguousWriteError",
    "AuthenticationError",
    "CallSettings",
    "CertificateError",
    "ClientOptions",
    "ClientSettings",
    "ClientStateError",
    "ConcurrentRunError",
    "ConfigurationError",
    "DecodeError",
    "HTTPRequest",
    "HTTPResponse",
    "HTTPTransport",
    "Hook",
    "JournalError",
    "LocalThrottle",
    "NotFoundError",
    "QueueError",
    "QuotaWaitError",
    "RateLimitError",
    "RedirectError",
    "RedisThrottle",
    "RequestError",
    "RequestEvent",
    "ServerError",
    "StampedClient",
    "StampsClient",
    "StampsyncError",
    "StateFileError",
    "Throttle",
    "ThrottleUnavailableError",
    "TokenExchangeError",
    "TransportError",
    "TransportStats",
    "ValidationError",
    "WebhookError",
    "__version__",
]
