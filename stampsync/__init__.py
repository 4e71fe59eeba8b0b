"""stampsync: the asyncio client SDK for Stamped.io and Stamps (stamps.co.id).

>>> from stampsync import StampedClient, StampsClient
"""

from ._version import __version__
from .errors import (
    AmbiguousWriteError,
    APIError,
    AuthenticationError,
    NotFoundError,
    RateLimitError,
    ServerError,
    StampsyncError,
    ThrottleUnavailableError,
    TransportError,
    ValidationError,
)
from .stamped import StampedClient
from .stamps import StampsClient
from .throttle import LocalThrottle, RedisThrottle, Throttle

__all__ = [
    "APIError",
    "AmbiguousWriteError",
    "AuthenticationError",
    "LocalThrottle",
    "NotFoundError",
    "RateLimitError",
    "RedisThrottle",
    "ServerError",
    "StampedClient",
    "StampsClient",
    "StampsyncError",
    "Throttle",
    "ThrottleUnavailableError",
    "TransportError",
    "ValidationError",
    "__version__",
]
