"""The settings both clients share, declared and checked in one place."""

from __future__ import annotations

import math
import ssl as ssl_module
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, TypedDict

from aiohttp import TraceConfig
from aiohttp.helpers import get_env_proxy_for_url
from yarl import URL

from ._events import Hook
from ._local_throttle import check_lane, check_reserve
from ._request import is_loopback
from ._validate import DEFAULT_MAX_STAMPS, DEFAULT_MAX_VALUE, encodable
from .errors import ConfigurationError
from .throttle import Throttle

if TYPE_CHECKING:
    from ._http import HTTPTransport

__all__ = ["CallSettings", "ClientOptions", "ClientSettings", "check_channel"]

#: Consecutive credential or connection failures after which a batch stops: the
#: default ``breaker`` of every batch call, on either client.
BREAKER_THRESHOLD = 5


def _positive_int(value: object, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"{name} must be a positive integer, got {value!r}")


def _positive_number(value: object, name: str) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not value > 0
    ):
        raise ConfigurationError(f"{name} must be a positive, finite number, got {value!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientOptions:
    """How a client sends: quota, concurrency, patience. Checked once, when built.

    Pass the fields as keywords to either client, or build one and pass ``options=``
    (several clients can share it); ``client.with_options(...)`` derives a client with
    some fields changed.

    Attributes:
        throttle_limit: the quota: at most this many request starts in any window.
        throttle_seconds: the window's length in seconds.
        concurrent_connections: requests in flight at once.
        concurrent_batch_executions: tasks a batch operation runs at once.
        timeout: seconds per attempt.
        max_retries: attempts after the first one, for failures safe to retry.
        retry_budget: seconds after which a failing request stops being retried (the
            throttle's wait counts against it).
        max_response_bytes: a larger answer is refused with ``DecodeError`` (32 MiB).
        max_retry_after: the longest pause, in seconds, a 429's ``Retry-After`` imposes
            on every caller of the quota (300). A longer one is cut to this; then one
            request goes out alone as a probe, and traffic resumes once it is answered
            with anything but 429.
        throttle: a throttle shared with other clients (e.g. ``RedisThrottle``); when
            given, ``throttle_limit``/``throttle_seconds`` are the throttle's business.
        transport: the network layer; the default is aiohttp. Tests pass
            :class:`stampsync.testing.MockTransport`.
        ssl: an ``ssl.SSLContext`` to verify the server with (a private certificate
            authority: ``ssl.create_default_context(cafile=...)``), or ``False`` to skip
            verification, allowed only for a loopback ``api_url`` reached without a proxy
            on another machine (as plain ``http://`` is). Default: the system's trusted
            authorities.
        proxy: an ``http://`` or ``https://`` proxy URL, credentials allowed (they are
            treated as secrets: never shown in reprs, logs or errors). Refused with plain
            ``http://`` or ``ssl=False`` unless the proxy is on this machine (loopback):
            it would read the credentials in the clear.
        trust_env: take the proxy from ``HTTPS_PROXY``/``HTTP_PROXY`` (honouring
            ``NO_PROXY``) and credentials from ``~/.netrc``, as aiohttp does. Off by
            default: a batch job's proxy should be a decision, not an accident.
        trace_configs: aiohttp ``TraceConfig`` objects, passed to the session as they are.
        hooks: functions called with each :class:`~stampsync.RequestEvent` of each call
            (attempts, answers, throttle waits, retries, ambiguous writes, the end). They
            run in the request's task, so keep them quick; one that raises is logged once
            and never breaks a request. :class:`stampsync.otel.OpenTelemetryHook` is one.
        max_stamps: the most stamps (or points) one write may carry; a larger count is
            refused before sending (10,000: a guard against a price typed into a count).
        max_value: the largest money value (a total, a payment, an item's subtotal) a
            write may carry; a larger one is refused before sending (10**12).
        lane: the throttle lane of every request of the client: ``"interactive"`` (may
            use the reserve; single calls a person waits for) or ``"bulk"`` (never the
            reserve). ``None`` (the default): single calls are interactive, the requests
            of exports, batches, imports and fleet jobs bulk.
        throttle_reserve: the fraction of ``throttle_limit`` held for interactive starts
            in each window (at least one start; ``0`` turns it off) by the throttle the
            client builds; ``None`` means 0.1. A shared throttle (``throttle=``) has its
            own ``reserve=``.
    """

    throttle_limit: int = 500
    throttle_seconds: float = 60
    concurrent_connections: int = 2
    concurrent_batch_executions: int = 10
    timeout: float = 30.0
    max_retries: int = 3
    retry_budget: float = 120.0
    max_response_bytes: int = 32 * 2**20
    max_retry_after: float = 300.0
    throttle: Throttle | None = None
    transport: HTTPTransport | None = None
    ssl: ssl_module.SSLContext | bool | None = None
    proxy: str | None = field(default=None, repr=False)  # may carry a password
    trust_env: bool = False
    trace_configs: Sequence[TraceConfig] = ()
    hooks: Sequence[Hook] = ()
    max_stamps: int = DEFAULT_MAX_STAMPS
    max_value: int | float = DEFAULT_MAX_VALUE
    lane: str | None = None
    throttle_reserve: float | None = None

    def __post_init__(self) -> None:
        for name in (
            "throttle_limit",
            "concurrent_connections",
            "concurrent_batch_executions",
            "max_response_bytes",
            "max_stamps",
        ):
            _positive_int(getattr(self, name), name)
        for name in (
            "throttle_seconds",
            "timeout",
            "retry_budget",
            "max_retry_after",
            "max_value",
        ):
            _positive_number(getattr(self, name), name)
        retries = self.max_retries
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ConfigurationError(f"max_retries must be an integer >= 0, got {retries!r}")
        if self.throttle is not None and not isinstance(self.throttle, Throttle):
            raise ConfigurationError(
                "throttle must provide limit, seconds, acquire() and rate_limited()"
            )
        if self.transport is not None:
            from ._http import HTTPTransport

            if not isinstance(self.transport, HTTPTransport):
                raise ConfigurationError("transport must provide handle(), open() and aclose()")
        if self.ssl is not None and not isinstance(self.ssl, ssl_module.SSLContext | bool):
            raise ConfigurationError("ssl must be an ssl.SSLContext or False")
        if self.ssl is True:
            raise ConfigurationError("ssl=True is the default; pass an SSLContext or False")
        if self.proxy is not None:
            check_proxy(self.proxy)
        if not isinstance(self.trust_env, bool):
            raise ConfigurationError(f"trust_env must be True or False, got {self.trust_env!r}")
        if isinstance(self.trace_configs, str | bytes) or not all(
            isinstance(t, TraceConfig) for t in self.trace_configs
        ):
            raise ConfigurationError("trace_configs must be a sequence of aiohttp.TraceConfig")
        if isinstance(self.hooks, str | bytes) or not all(callable(h) for h in self.hooks):
            raise ConfigurationError("hooks must be a sequence of functions taking an event")
        if self.lane is not None:
            check_lane(self.lane)
        if self.throttle_reserve is not None:
            check_reserve(self.throttle_reserve)
            if self.throttle is not None:
                raise ConfigurationError(
                    "throttle_reserve applies to the throttle a client builds; a shared "
                    "throttle holds its own reserve (pass reserve= to it)"
                )

    @classmethod
    def build(cls, options: ClientOptions | None, settings: ClientSettings) -> ClientOptions:
        """``options`` with ``settings`` applied over it (the defaults when ``None``)."""
        unknown = set(settings) - _NAMES
        if unknown:
            raise ConfigurationError(f"unknown client settings: {', '.join(sorted(unknown))}")
        if options is None:
            return cls(**settings)
        if not isinstance(options, ClientOptions):
            raise ConfigurationError(f"options must be a ClientOptions, got {options!r}")
        return replace(options, **settings) if settings else options


class ClientSettings(TypedDict, total=False):
    """The fields of :class:`ClientOptions`, as keyword arguments (for editors' sake)."""

    throttle_limit: int
    throttle_seconds: float
    concurrent_connections: int
    concurrent_batch_executions: int
    timeout: float
    max_retries: int
    retry_budget: float
    max_response_bytes: int
    max_retry_after: float
    throttle: Throttle | None
    transport: HTTPTransport | None
    ssl: ssl_module.SSLContext | bool | None
    proxy: str | None
    trust_env: bool
    trace_configs: Sequence[TraceConfig]
    hooks: Sequence[Hook]
    max_stamps: int
    max_value: int | float
    lane: str | None
    throttle_reserve: float | None


class CallSettings(TypedDict, total=False):
    """What :meth:`~stampsync.StampsClient.with_options` may change for the derived client:
    the settings of one call's patience and observation, not of the shared connections
    and quota.

    ``hooks`` are added after the client's own hooks (its OpenTelemetry hook keeps
    seeing the calls); pass ``replace_hooks=True`` to use only these. ``lane`` puts the
    derived client's requests in the ``"interactive"`` or ``"bulk"`` lane of the throttle
    (``None``: by what each call is part of).
    """

    timeout: float
    max_retries: int
    retry_budget: float
    concurrent_batch_executions: int
    hooks: Sequence[Hook]
    replace_hooks: bool
    max_stamps: int
    max_value: int | float
    lane: str | None


def check_proxy(proxy: object) -> URL:
    """The proxy URL parsed, or a ConfigurationError that never shows its password."""
    if not isinstance(proxy, str) or not proxy.strip():
        raise ConfigurationError("proxy must be a URL such as http://proxy.example:3128")
    encodable(proxy, "proxy")
    try:
        url = URL(proxy.strip())
    except ValueError:
        raise ConfigurationError("proxy is not a valid URL") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ConfigurationError(
            f"proxy must be an http:// or https:// URL with a host, got scheme {url.scheme!r}"
        )
    return url


def env_proxy(url: URL) -> URL | None:
    """The proxy ``trust_env`` would take from the environment for ``url``, if any."""
    try:
        proxy, _ = get_env_proxy_for_url(url)
    except LookupError:  # none set, or NO_PROXY names the host
        return None
    return proxy


def check_channel(api_url: URL, options: ClientOptions) -> None:
    """Refuse a channel on which someone else could read the credentials.

    Plain ``http://`` or ``ssl=False`` (no certificate check) is allowed only when the
    API is on this machine (a loopback ``api_url``) *and* no proxy on another machine
    stands in between: neither ``proxy=`` nor, with ``trust_env``, one from the
    environment. Such a proxy would receive the Authorization header (and
    ``stamped-api-key``) in the clear, or could answer in the server's name.
    """
    plain = api_url.scheme == "http"
    if not plain and options.ssl is not False:
        return
    what = "plain http" if plain else "ssl=False"
    if not is_loopback(api_url.host or ""):
        if plain:
            raise ConfigurationError(
                f"api_url {api_url.scheme}://{api_url.host} uses plain http; https is required "
                "(plain http is allowed only for loopback hosts such as the sandbox)"
            )
        raise ConfigurationError(
            "ssl=False turns off certificate checks and is allowed only for a loopback "
            "api_url (the sandbox); pass ssl=ssl.create_default_context(cafile=...) to "
            "trust a private certificate authority"
        )
    if options.proxy is not None:
        proxy: URL | None = check_proxy(options.proxy)
        source = "proxy="
    elif options.trust_env:
        proxy = env_proxy(api_url)
        source = "the environment's proxy (trust_env=True)"
    else:
        proxy = None
    if proxy is not None and not is_loopback(proxy.host or ""):
        # The proxy's host only: its URL may carry a password.
        raise ConfigurationError(
            f"{what} is allowed only with a loopback api_url and no proxy, but "
            f"{source} sends through {proxy.host}, which would see the credentials "
            "in the clear; use https with certificate checks, or no proxy"
        )


_NAMES = frozenset(f.name for f in fields(ClientOptions))
