"""What both clients share: options, the transport's lifetime, ``async with``."""

from __future__ import annotations

import copy
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, Self, TypeVar, Unpack

from yarl import URL

from ._auth import AuthScheme
from ._endpoint import Endpoint
from ._events import Hooks
from ._http import AiohttpTransport, EarlyStart, HTTPTransport
from ._options import ClientOptions, ClientSettings
from ._request import Request, is_loopback
from ._retry import RetryPolicy
from ._transport import Transport, TransportStats
from .errors import ConfigurationError
from .throttle import LocalThrottle, Throttle

T = TypeVar("T")

#: What :meth:`BaseClient.with_options` may change: the rest belongs to the shared
#: session and throttle.
PER_CALL_SETTINGS = frozenset(
    {"timeout", "max_retries", "retry_budget", "hooks", "max_stamps", "max_value"}
)


def proxy_secrets(proxy: str | None) -> tuple[str, ...]:
    """What of a proxy URL must never be shown: its password and the whole URL."""
    if not proxy:
        return ()
    url = URL(proxy)
    return tuple(s for s in (url.password, url.raw_password, proxy) if s)


class BaseClient:
    """Options and lifetime common to :class:`StampedClient` and :class:`StampsClient`."""

    _name = "client"

    def __init__(
        self,
        *,
        api_url: str,
        auth: AuthScheme,
        options: ClientOptions,
        more_auth: dict[str, AuthScheme] | None = None,
    ) -> None:
        self.options = options
        throttle: Throttle = options.throttle or LocalThrottle(
            options.throttle_limit, options.throttle_seconds
        )
        stats = TransportStats()
        http: HTTPTransport = options.transport or AiohttpTransport(
            throttle=throttle,
            concurrent_connections=options.concurrent_connections,
            timeout=float(options.timeout),
            max_response_bytes=options.max_response_bytes,
            stats=stats,
            name=self._name,
            ssl=options.ssl,
            proxy=options.proxy,
            trust_env=options.trust_env,
            trace_configs=options.trace_configs,
        )
        self._transport = Transport(
            api_url=api_url,
            auth=auth,
            http=http,
            throttle=throttle,
            timeout=options.timeout,
            retry=RetryPolicy(max_retries=options.max_retries, budget=float(options.retry_budget)),
            name=self._name,
            stats=stats,
            extra_secrets=proxy_secrets(options.proxy),
            hooks=Hooks(options.hooks),
            more_auth=more_auth,
        )
        if options.ssl is False and not is_loopback(self._transport.base_url.host or ""):
            raise ConfigurationError(
                "ssl=False turns off certificate checks and is allowed only for a loopback "
                "api_url (the sandbox); pass ssl=ssl.create_default_context(cafile=...) to "
                "trust a private certificate authority"
            )
        self._owns_transport = True

    @property
    def concurrent_batch_executions(self) -> int:
        """Tasks a batch operation of this client runs at once."""
        return self.options.concurrent_batch_executions

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

    def with_options(self, **changes: Unpack[ClientSettings]) -> Self:
        """A client sharing this one's connections, throttle and credentials, with
        ``timeout``, ``max_retries``, ``retry_budget``, ``concurrent_batch_executions``,
        ``max_stamps`` or ``max_value`` changed (for one slow call, or one large award).
        It lives as long as this client: close this one.
        """
        fixed = set(changes) - PER_CALL_SETTINGS - {"concurrent_batch_executions"}
        if fixed:
            raise ConfigurationError(
                f"with_options cannot change {', '.join(sorted(fixed))}: they belong to the "
                "shared connections and throttle; build another client for that"
            )
        options = ClientOptions.build(self.options, changes)
        other = copy.copy(self)
        other.options = options
        other._transport = self._transport.with_policy(
            timeout=options.timeout,
            retry=RetryPolicy(max_retries=options.max_retries, budget=float(options.retry_budget)),
            hooks=Hooks(options.hooks),
        )
        other._owns_transport = False
        other._bind_sections()
        return other

    def _bind_sections(self) -> None:
        """Create the API sections (attributes) bound to this client."""

    def _early_start(self) -> EarlyStart | None:
        """A start of the quota to take before a journaled write's claim (batch layer),
        or None if this client's network layer or throttle cannot hand one over."""
        http = self._transport.http
        if not isinstance(http, AiohttpTransport):
            return None
        return http.early_start(self._transport.retry.budget)

    def _send(self, request: Request, into: type[T]) -> Coroutine[Any, Any, T]:
        return self._transport.send(request, into)

    def _call(
        self,
        endpoint: Endpoint[T],
        params: dict[str, object],
        *,
        query: dict[str, object] | None = None,
        body: object = None,
        idempotent: bool | None = None,
    ) -> Coroutine[Any, Any, T]:
        return self._transport.send(
            endpoint.request(params, query, body, idempotent), endpoint.into
        )

    async def open(self) -> Self:
        """Open the connections; for frameworks without ``async with`` (pair it with
        :meth:`aclose`)."""
        await self._transport.http.open()
        return self

    async def __aenter__(self) -> Self:
        return await self.open()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the client's connections. ``async with`` does this for you; a client
        made by :meth:`with_options` leaves them to the client it came from."""
        if self._owns_transport:
            await self._transport.http.aclose()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(api_url={self.api_url!r}, throttle={self.throttle!r}, "
            f"concurrent_connections={self.options.concurrent_connections})"
        )
