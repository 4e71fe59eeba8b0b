"""What both clients share: settings, the transport's lifetime, ``async with``."""

from __future__ import annotations

from collections.abc import Coroutine
from types import TracebackType
from typing import Any, Self, TypeVar

from ._auth import Auth
from ._retry import RetryPolicy
from ._transport import Request, Transport, TransportStats
from .errors import ConfigurationError
from .throttle import LocalThrottle, Throttle

T = TypeVar("T")


def positive_int(value: object, name: str) -> int:
    """``value`` if it is an int >= 1, else a ConfigurationError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"{name} must be a positive integer, got {value!r}")
    return value


class BaseClient:
    """Settings and lifetime common to :class:`StampedClient` and :class:`StampsClient`."""

    _name = "client"

    def __init__(
        self,
        *,
        api_url: str,
        auth: Auth,
        throttle_limit: int,
        throttle_seconds: float,
        concurrent_connections: int,
        concurrent_batch_executions: int,
        timeout: float,
        max_retries: int,
        retry_budget: float,
        throttle: Throttle | None,
        max_response_bytes: int = 32 * 2**20,
    ) -> None:
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise ConfigurationError(f"max_retries must be an integer >= 0, got {max_retries!r}")
        if not isinstance(retry_budget, int | float) or not retry_budget > 0:
            raise ConfigurationError(
                f"retry_budget must be a positive number, got {retry_budget!r}"
            )
        self.concurrent_batch_executions = positive_int(
            concurrent_batch_executions, "concurrent_batch_executions"
        )
        if throttle is None:
            throttle = LocalThrottle(throttle_limit, throttle_seconds)
        elif not isinstance(throttle, Throttle):
            raise ConfigurationError(
                "throttle must provide limit, seconds, acquire() and rate_limited()"
            )
        self._transport = Transport(
            api_url=api_url,
            auth=auth,
            throttle=throttle,
            concurrent_connections=concurrent_connections,
            timeout=timeout,
            retry=RetryPolicy(max_retries=max_retries, budget=float(retry_budget)),
            name=self._name,
            max_response_bytes=max_response_bytes,
        )

    @property
    def throttle(self) -> Throttle:
        """The throttle every request of this client passes through."""
        return self._transport.throttle

    @property
    def api_url(self) -> str:
        """The base URL requests go to."""
        return str(self._transport.base_url)

    @property
    def stats(self) -> TransportStats:
        """Counters: attempts, retries, 429s seen, seconds spent waiting for the throttle."""
        return self._transport.stats

    def _send(self, request: Request, into: type[T]) -> Coroutine[Any, Any, T]:
        return self._transport.send(request, into)

    async def __aenter__(self) -> Self:
        await self._transport.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the client's connections. ``async with`` does this for you."""
        await self._transport.close()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(api_url={self.api_url!r}, throttle={self.throttle!r}, "
            f"concurrent_connections={self._transport.concurrent_connections})"
        )
