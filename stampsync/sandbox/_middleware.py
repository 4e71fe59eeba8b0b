"""What stands in front of every sandbox route: arrival log, auth, strict quota, faults."""

from __future__ import annotations

import array
import asyncio
import base64
import collections
import fnmatch
import hmac
import random
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import msgspec
from aiohttp import web

from ..errors import ConfigurationError

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: Fault kinds that answer without applying the request.
BEFORE = {"429", "429_retry_after", "500", "502", "503", "504", "drop_before", "html", "empty"}
#: Fault kinds that apply the request, then spoil or lose the answer.
AFTER = {
    "drop_after",
    "malformed",
    "truncated",
    "wrong_content_type",
    "timeout",
    "huge",
    "gateway_503",
}
DELAY = {"latency"}
#: Faults of the connection rather than the request: ``slow_connect`` holds the first
#: request of each new connection for ``seconds`` before it arrives (a TLS handshake, a
#: long trip); ``close`` answers, then closes the connection (the next request reconnects).
CONNECTION = {"slow_connect", "close"}
KINDS = BEFORE | AFTER | DELAY | CONNECTION


@dataclass
class Fault:
    """A fault to inject on matching requests.

    Attributes:
        kind: ``429``/``500``/``502``/``503``/``504`` (answered before applying),
            ``drop_before`` (connection cut, nothing applied), ``html`` (a 500 HTML page),
            ``empty`` (a 500 with no body), ``429_retry_after`` (a 429 with
            ``Retry-After: seconds``), ``huge`` (applied, then a 4 MiB answer),
            ``drop_after`` (applied, then the connection
            is cut), ``malformed``/``truncated``/``wrong_content_type`` (applied, answer
            spoiled), ``timeout`` (applied, answer held for ``seconds``), ``latency``
            (``seconds`` of delay, then a normal answer), ``slow_connect`` (the first
            request of each new connection arrives ``seconds`` late), ``close`` (answered,
            then the connection is closed).
        route: a glob over ``"METHOD /path"``, e.g. ``"POST /api/stamps/add"``.
        probability: chance that a matching request is hit (seeded, reproducible).
        seconds: for ``latency`` and ``timeout``.
        times: inject at most this many times (``None``: no cap).
    """

    kind: str
    route: str = "*"
    probability: float = 1.0
    seconds: float = 1.0
    times: int | None = None
    injected: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigurationError(
                f"unknown fault kind {self.kind!r}; known: {', '.join(sorted(KINDS))}"
            )
        if not 0 <= self.probability <= 1:
            raise ConfigurationError(f"fault probability must be in [0, 1], got {self.probability}")

    @classmethod
    def parse(cls, spec: str) -> Fault:
        """``KIND[:PROBABILITY[:SECONDS[:TIMES]]][@METHOD /path-glob]``.

        For example ``drop_after:0.05@POST /api/stamps/add``, ``latency:1:0.2``, or
        ``500:1:1:2@POST /api/stamps/add`` (the first two awards only).
        """
        head, _, route = spec.partition("@")
        kind, _, rest = head.partition(":")
        probability, _, rest = rest.partition(":")
        seconds, _, times = rest.partition(":")
        try:
            p = float(probability) if probability else 1.0
            secs = float(seconds) if seconds else 1.0
            cap = int(times) if times else None
        except ValueError:
            raise ConfigurationError(f"bad number in fault {spec!r}") from None
        if cap is not None and cap < 0:
            raise ConfigurationError(f"fault times must be >= 0, got {cap} in {spec!r}")
        return cls(
            kind=kind.strip(), route=route.strip() or "*", probability=p, seconds=secs, times=cap
        )

    def spec(self) -> str:
        """This fault as a string :meth:`parse` reads back (``times`` included)."""
        times = "" if self.times is None else f":{self.times}"
        return f"{self.kind}:{self.probability:g}:{self.seconds:g}{times}@{self.route}"

    def matches(self, method: str, path: str) -> bool:
        return fnmatch.fnmatchcase(f"{method} {path}", self.route)


@dataclass
class SandboxConfig:
    """How a sandbox behaves. Every default is safe for tests: no quota, no faults."""

    seed: int = 1
    customers: int = 100_000
    members: int = 10_000
    reviews_per_customer: int = 1
    store_hash: str = "270392"
    public_key: str = "pubkey-sandbox"
    private_key: str = "key-sandbox-private"
    # Demo credentials, printed on start: the sandbox holds no real data.
    stamps_token: str = "stamps-sandbox-token"  # noqa: S105
    merchant: int = 14
    stores: tuple[int, ...] = (1, 2, 3)
    limit: int | None = None
    """A strict sliding window: at most ``limit`` requests per ``seconds`` per credential."""
    seconds: float = 60.0
    faults: list[Fault] = field(default_factory=list)
    fault_seed: int = 0
    arrival_log: bool = True
    """Keep every arrival time (8 bytes each) for the inspection API."""


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=msgspec.json.encode(data),
        status=status,
        content_type="application/json",
        headers=headers,
    )


class Gate:
    """The middleware's state: arrivals, quota windows, faults, counters."""

    def __init__(self, config: SandboxConfig) -> None:
        # Fresh copies of the faults: each counts its hits, and the caller's objects
        # may serve another sandbox after this one.
        self.config = replace(config, faults=[replace(f, injected=0) for f in config.faults])
        self.arrivals = array.array("d")
        self.windows: dict[str, collections.deque[float]] = {}
        self.rng = random.Random(config.fault_seed)
        self.requests: collections.deque[dict[str, Any]] = collections.deque(maxlen=10_000)
        self.counters: collections.Counter[str] = collections.Counter()
        self.jwts: dict[str, float] = {}
        self.seen_connections: weakref.WeakSet[object] = weakref.WeakSet()
        basic = f"{config.public_key}:{config.private_key}".encode()
        self._basic = "Basic " + base64.b64encode(basic).decode()
        self._token = f"Token {config.stamps_token}"

    # -- auth ---------------------------------------------------------------------

    def is_stamped(self, path: str) -> bool:
        return path.startswith(f"/api/v2/{self.config.store_hash}/")

    def credential(self, request: web.Request) -> tuple[str | None, web.Response | None]:
        """Who is calling (a quota key), or the documented refusal."""
        header = request.headers.get("Authorization", "")
        if self.is_stamped(request.path):
            if hmac.compare_digest(header.encode(), self._basic.encode()):
                return f"stamped:{self.config.public_key}", None
            return None, json_response({"message": "Invalid API credentials"}, 401)
        if request.path == "/api/auth/get-access-token/":
            return f"stamps:{self.config.merchant}", None
        if not header:
            return None, json_response(
                {"detail": "Authentication credentials were not provided."}, 403
            )
        if hmac.compare_digest(header.encode(), self._token.encode()):
            return f"stamps:{self.config.merchant}", None
        if header.startswith("Bearer "):
            expires = self.jwts.get(header[7:])
            if expires is not None and expires > time.time():
                return f"stamps:{self.config.merchant}", None
        return None, json_response({"detail": "Invalid token"}, 401)

    # -- quota --------------------------------------------------------------------

    def admit(self, who: str, now: float) -> bool:
        limit = self.config.limit
        if limit is None:
            return True
        window = self.windows.setdefault(who, collections.deque())
        horizon = now - self.config.seconds
        while window and window[0] <= horizon:
            window.popleft()
        if len(window) >= limit:
            return False
        window.append(now)
        return True

    # -- faults -------------------------------------------------------------------

    async def _connection_faults(self, request: web.Request) -> bool:
        """Apply ``slow_connect`` (now) and say whether ``close`` applies to this answer."""
        closing = False
        transport = request.transport
        new = transport is not None and transport not in self.seen_connections
        if new:
            self.seen_connections.add(transport)
        for fault in self.config.faults:
            if fault.kind not in CONNECTION or not fault.matches(request.method, request.path):
                continue
            if fault.times is not None and fault.injected >= fault.times:
                continue
            if fault.kind == "slow_connect" and not new:
                continue
            if self.rng.random() < fault.probability:
                fault.injected += 1
                self.counters[f"fault:{fault.kind}"] += 1
                if fault.kind == "slow_connect":
                    await asyncio.sleep(fault.seconds)
                else:
                    closing = True
        return closing

    def pick_fault(self, method: str, path: str) -> Fault | None:
        for fault in self.config.faults:
            if fault.kind in CONNECTION:
                continue
            if fault.times is not None and fault.injected >= fault.times:
                continue
            if fault.matches(method, path) and self.rng.random() < fault.probability:
                fault.injected += 1
                return fault
        return None

    # -- the middleware -----------------------------------------------------------

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/__sandbox/"):
            return await handler(request)
        closing = await self._connection_faults(request)
        now = time.monotonic()
        if self.config.arrival_log:
            self.arrivals.append(now)
        self.counters["arrivals"] += 1
        who, refusal = self.credential(request)
        if refusal is not None:
            self.counters["unauthorized"] += 1
            return self._log(request, refusal, "refused")
        assert who is not None
        if not self.admit(who, now):
            self.counters["rate_limited"] += 1
            return self._log(request, json_response({"message": "Too many requests"}, 429), "429")
        fault = self.pick_fault(request.method, request.path)
        if fault is not None:
            self.counters[f"fault:{fault.kind}"] += 1
            if fault.kind in BEFORE:
                return self._log(request, await self._before(request, fault), fault.kind)
            if fault.kind == "latency":
                await asyncio.sleep(fault.seconds)
        response = await handler(request)
        if closing:
            response.force_close()
        if fault is not None and fault.kind in AFTER:
            return self._log(request, await self._after(request, response, fault), fault.kind)
        self.counters["ok" if response.status < 400 else f"status:{response.status}"] += 1
        return self._log(request, response, None)

    def _log(
        self, request: web.Request, response: web.StreamResponse, fault: str | None
    ) -> web.StreamResponse:
        self.requests.append(
            {
                "method": request.method,
                "path": request.path,
                "status": response.status,
                "fault": fault,
            }
        )
        return response

    async def _before(self, request: web.Request, fault: Fault) -> web.StreamResponse:
        kind = fault.kind
        if kind == "drop_before":
            return await _drop(request)
        if kind == "html":
            return web.Response(
                status=500,
                content_type="text/html",
                text="<html><head><title>500 Internal Server Error</title>"
                "</head><body><h1>Server Error</h1></body></html>",
            )
        if kind == "empty":
            return web.Response(status=500)
        if kind == "429_retry_after":
            return json_response(
                {"detail": "Injected 429"}, 429, headers={"Retry-After": f"{fault.seconds:g}"}
            )
        return json_response({"detail": f"Injected {kind}"}, int(kind))

    async def _after(
        self, request: web.Request, response: web.StreamResponse, fault: Fault
    ) -> web.StreamResponse:
        body = response.body if isinstance(response, web.Response) else b""
        raw = body if isinstance(body, bytes) else b""
        if fault.kind == "drop_after":
            return await _drop(request)
        if fault.kind == "timeout":
            await asyncio.sleep(fault.seconds)
            return response
        if fault.kind == "malformed":
            return web.Response(
                body=b"{'not': json,", status=response.status, content_type="application/json"
            )
        if fault.kind == "gateway_503":
            # A proxy whose upstream timed out after forwarding: the write was applied,
            # and the answer is the proxy's page, not the API's JSON.
            return web.Response(
                status=503,
                content_type="text/html",
                text="<html><head><title>503 Service Unavailable</title></head></html>",
            )
        if fault.kind == "huge":
            padding = b" " * (4 * 2**20)
            return web.Response(
                body=raw[:-1] + padding + raw[-1:] if raw else padding,
                status=response.status,
                content_type="application/json",
            )
        if fault.kind == "truncated":
            return web.Response(
                body=raw[: max(1, len(raw) // 2)],
                status=response.status,
                content_type="application/json",
            )
        return web.Response(
            body=b"<html><body>OK</body></html>", status=response.status, content_type="text/html"
        )


async def _drop(request: web.Request) -> web.StreamResponse:
    """Cut the connection without an answer."""
    if request.transport is not None:
        request.transport.abort()
    await asyncio.sleep(0)
    return web.Response(status=499)
