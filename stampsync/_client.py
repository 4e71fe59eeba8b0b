"""What both clients share: options, the transport's lifetime, ``async with``."""

from __future__ import annotations

import copy
from collections.abc import Coroutine, Sequence
from typing import Any, Self, TypeVar, Unpack, cast

from yarl import URL

from ._aclosing import AsyncClosing
from ._admission import Admission, QuotaStart
from ._auth import AuthScheme
from ._endpoint import Endpoint
from ._events import Hooks
from ._http import AiohttpTransport, HTTPTransport
from ._lanes import task_lane
from ._local_throttle import DEFAULT_RESERVE, LaneThrottle, Plan, estimate
from ._options import CallSettings, ClientOptions, ClientSettings, check_channel
from ._request import Request
from ._retry import RetryPolicy
from ._transport import Transport, TransportStats
from .errors import ConfigurationError
from .throttle import LocalThrottle, Throttle

T = TypeVar("T")

#: What :meth:`BaseClient.with_options` may change: the rest belongs to the shared
#: session and throttle.
PER_CALL_SETTINGS = frozenset(
    {
        "timeout",
        "max_retries",
        "retry_budget",
        "hooks",
        "concurrent_batch_executions",
        "max_stamps",
        "max_value",
        "lane",
    }
)
#: The settings of the shared connections and quota (refused by ``with_options``).
_SHARED_SETTINGS = frozenset(ClientSettings.__annotations__) - PER_CALL_SETTINGS


def proxy_secrets(proxy: str | None) -> tuple[str, ...]:
    """What of a proxy URL must never be shown: its password and the whole URL."""
    if not proxy:
        return ()
    url = URL(proxy)
    return tuple(s for s in (url.password, url.raw_password, proxy) if s)


class BaseClient(AsyncClosing):
    """Options and lifetime common to :class:`StampedClient` and :class:`StampsClient`."""

    _name = "client"

    def __init__(
        self,
        *,
        api_url: str,
        auth: AuthScheme,
        options: ClientOptions,
        more_auth: dict[str, AuthScheme] | None = None,
        owned_throttle: Throttle | None = None,
    ) -> None:
        self.options = options
        # A throttle the client made itself (from STAMPSYNC_REDIS_URL) is closed with it.
        self._owned_throttle = owned_throttle
        throttle: Throttle = options.throttle or LocalThrottle(
            options.throttle_limit,
            options.throttle_seconds,
            reserve=DEFAULT_RESERVE
            if options.throttle_reserve is None
            else options.throttle_reserve,
        )
        stats = TransportStats()
        http: HTTPTransport = options.transport or AiohttpTransport(
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
            admission=Admission(throttle, options.concurrent_connections, stats),
            timeout=options.timeout,
            retry=RetryPolicy(max_retries=options.max_retries, budget=float(options.retry_budget)),
            name=self._name,
            stats=stats,
            extra_secrets=proxy_secrets(options.proxy),
            max_retry_after=float(options.max_retry_after),
            hooks=Hooks(options.hooks),
            more_auth=more_auth,
            lane=options.lane,
        )
        check_channel(self._transport.base_url, options)
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

    async def plan(self, requests: int, *, round_trip: float | None = None) -> Plan:
        """An estimate of the time ``requests`` bulk requests take through this client:
        at the throttle's limit in force (learned from 429s) less its reserve, with
        ``concurrent_connections`` in flight, each holding its slot for ``round_trip``
        seconds (default: the round trip measured so far, 0 before any). Its
        ``limited_by`` says what sets the pace: the quota, the connections or the round
        trip (see :class:`~stampsync.throttle.Plan`).
        """
        trip = self.stats.round_trip if round_trip is None else round_trip
        throttle = self.throttle
        connections = self.options.concurrent_connections
        if isinstance(throttle, LaneThrottle):
            return throttle.plan(requests, round_trip=trip, connections=connections)
        # A throttle without lanes or a plan: its limit, no reserve, no pacing known.
        return estimate(
            requests,
            limit=throttle.limit,
            bulk_limit=throttle.limit,
            window=throttle.seconds,
            span=throttle.seconds,
            burst=throttle.limit,
            round_trip=trip,
            connections=connections,
        )

    def with_options(self, **changes: Unpack[CallSettings]) -> Self:
        """A client sharing this one's connections, throttle and credentials, with
        ``timeout``, ``max_retries``, ``retry_budget``, ``concurrent_batch_executions``,
        ``hooks``, ``max_stamps``, ``max_value`` or ``lane`` changed (for one slow call,
        one large award, or a bot's calls that must go ahead of a campaign's, say). It
        lives as long as this client: close this one.

        ``hooks`` are added after this client's hooks, so its tracing goes on;
        ``replace_hooks=True`` keeps only the ones given.
        """
        settings = dict(changes)
        replace_hooks = settings.pop("replace_hooks", False)
        if not isinstance(replace_hooks, bool):
            raise ConfigurationError(f"replace_hooks must be True or False, got {replace_hooks!r}")
        self._refuse_fixed(set(settings) - PER_CALL_SETTINGS)
        if "hooks" in settings and not replace_hooks:
            added = settings["hooks"]
            if isinstance(added, str | bytes) or not isinstance(added, Sequence):
                raise ConfigurationError("hooks must be a sequence of functions taking an event")
            settings["hooks"] = (*self.options.hooks, *added)
        options = ClientOptions.build(self.options, cast(ClientSettings, settings))
        other = copy.copy(self)
        other.options = options
        other._transport = self._transport.with_policy(
            timeout=options.timeout,
            retry=RetryPolicy(max_retries=options.max_retries, budget=float(options.retry_budget)),
            hooks=Hooks(options.hooks),
            lane=options.lane,
        )
        other._owns_transport = False
        other._bind_sections()
        return other

    def _refuse_fixed(self, names: set[str]) -> None:
        """Refuse what :meth:`with_options` cannot change, each with its own reason."""
        if not names:
            return
        reasons = []
        shared = sorted(names & _SHARED_SETTINGS)
        if shared:
            reasons.append(
                f"{', '.join(shared)} belong to the connections and quota this client shares "
                f"with the clients made from it: build another {type(self).__name__} for that"
            )
        for name in sorted(names - _SHARED_SETTINGS):
            reasons.append(self._fixed_reason(name))
        raise ConfigurationError("with_options cannot change " + "; ".join(reasons))

    def _fixed_reason(self, name: str) -> str:
        """Why ``name`` (not a client setting shared with derived clients) is refused."""
        return (
            f"{name}: not a setting with_options takes (it takes "
            f"{', '.join(sorted(PER_CALL_SETTINGS | {'replace_hooks'}))})"
        )

    def _bind_sections(self) -> None:
        """Create the API sections (attributes) bound to this client."""

    async def take_start(self, what: str = "a request") -> QuotaStart | None:
        """Take a connection slot and a start of the quota ahead of a request.

        For code that must do something between winning its turn and sending, as the
        journaled batches do: they claim a row only once its request can leave, so a
        run that dies leaves ambiguous only the rows that were leaving. Pass the start
        to the write as ``start=`` within about half a second (a start held longer is
        taken again), and :meth:`~stampsync.throttle.QuotaStart.release` it if it goes
        unused. Waits at most the retry budget (then
        :class:`~stampsync.errors.QuotaWaitError`, naming ``what``); the lane is the
        client's, else the task's. None when the throttle cannot hold a start
        uncounted (one with only ``acquire()``): then just send.
        """
        transport = self._transport
        admission = transport.admission
        if not admission.starts_ahead:
            return None
        return await admission.ahead(transport.retry.budget, transport.lane or task_lane(), what)

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
        if self.options.trust_env:
            # The environment may have gained a proxy since the client was built.
            check_channel(self._transport.base_url, self.options)
        await self._transport.http.open()
        return self

    async def __aenter__(self) -> Self:
        return await self.open()

    async def aclose(self) -> None:
        """Close the client's connections. ``async with`` does this for you; a client
        made by :meth:`with_options` leaves them to the client it came from."""
        if self._owns_transport:
            await self._transport.http.aclose()
            closer = getattr(self._owned_throttle, "aclose", None)
            if closer is not None:
                await closer()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(api_url={self.api_url!r}, throttle={self.throttle!r}, "
            f"concurrent_connections={self.options.concurrent_connections})"
        )
