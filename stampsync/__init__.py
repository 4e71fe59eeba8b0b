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
    TransportError,
    ValidationError,
)
from .stamped import StampedClient
from .stamps import StampsClient
from .throttle import LocalThrottle, Throttle

__all__ = [
    "APIError",
    "AmbiguousWriteError",
    "AuthenticationError",
    "LocalThrottle",
    "NotFoundError",
    "RateLimitError",
    "ServerError",
    "StampedClient",
    "StampsClient",
    "StampsyncError",
    "Throttle",
    "TransportError",
    "ValidationError",
    "__version__",
]
