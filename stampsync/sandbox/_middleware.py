"""What stands in front of every sandbox route: arrival log, auth, strict quota, faults."""

from __future__ import annotations

import array
import asyncio
import base64
import collections
import hmac
import random
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import msgspec
from aiohttp import web

from .._endpoint import STAMPED_V3_PREFIXES
from ..stamps.auth import AUTH_GET_ACCESS_TOKEN
from ._config import AFTER, BEFORE, CONNECTION, WEBHOOK, Fault, SandboxConfig

__all__ = ["Fault", "Gate", "Handler", "SandboxConfig", "json_response"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """``data`` as a JSON answer (msgspec-encoded), with ``status`` and ``headers``."""
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
        self.arrivals_by: dict[str, array.array[float]] = {}
        """Arrival times per credential (the quota's key), for per-store window checks."""
        self.rng = random.Random(config.fault_seed)
        self.requests: collections.deque[dict[str, Any]] = collections.deque(maxlen=10_000)
        self.counters: collections.Counter[str] = collections.Counter()
        self.jwts: dict[str, float] = {}
        self.seen_connections: weakref.WeakSet[object] = weakref.WeakSet()
        basic = f"{config.public_key}:{config.private_key}".encode()
        self._basic = "Basic " + base64.b64encode(basic).decode()
        self._token = f"Token {config.stamps_token}"
        self._v3_prefixes = tuple(
            p.replace("{store_hash}", config.store_hash) + "/" for p in STAMPED_V3_PREFIXES.values()
        )
        self._tokens = {
            f"Token {config.stamps_token}-{i}".encode(): f"stamps:{config.merchant}:token-{i}"
            for i in range(1, config.extra_tokens + 1)
        }
        # One quota per store, whichever API version or key is used.
        self._stamped_quota = f"stamped:{config.store_hash}:{config.public_key}"

    # -- auth ---------------------------------------------------------------------

    def is_stamped(self, path: str) -> bool:
        return path.startswith(f"/api/v2/{self.config.store_hash}/")

    def credential(self, request: web.Request) -> tuple[str | None, web.Response | None]:
        """Who is calling (a quota key), or the documented refusal."""
        if request.path.startswith(self._v3_prefixes):
            # V3 counts against the store's quota, as V2 does; the loyalty part's
            # reference answers a bad key with a 400 it labels "Unauthorized".
            key = request.headers.get("stamped-api-key", "")
            if hmac.compare_digest(key.encode(), self.config.api_key.encode()):
                return self._stamped_quota, None
            status = 400 if request.path.startswith(self._v3_prefixes[0]) else 401
            return None, json_response({"message": "Unauthorized"}, status)
        header = request.headers.get("Authorization", "")
        if self.is_stamped(request.path):
            if hmac.compare_digest(header.encode(), self._basic.encode()):
                return self._stamped_quota, None
            return None, json_response({"message": "Invalid API credentials"}, 401)
        if request.path == AUTH_GET_ACCESS_TOKEN.path:  # the exchange needs no token
            return f"stamps:{self.config.merchant}", None
        if not header:
            return None, json_response(
                {"detail": "Authentication credentials were not provided."}, 403
            )
        if hmac.compare_digest(header.encode(), self._token.encode()):
            return f"stamps:{self.config.merchant}", None
        who = self._tokens.get(header.encode())  # a dict lookup: the tokens are demo ones
        if who is not None:
            return who, None
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
            if fault.kind == "slow_connect" and not new:
                continue
            if fault.roll(self.rng):
                self.counters[f"fault:{fault.kind}"] += 1
                if fault.kind == "slow_connect":
                    await asyncio.sleep(fault.seconds)
                else:
                    closing = True
        return closing

    def pick_fault(self, method: str, path: str) -> Fault | None:
        for fault in self.config.faults:
            if fault.kind in CONNECTION or fault.kind in WEBHOOK:
                continue
            if fault.matches(method, path) and fault.roll(self.rng):
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
            return self._log(request, refusal, "refused", None)
        assert who is not None
        if self.config.arrival_log:
            self.arrivals_by.setdefault(who, array.array("d")).append(now)
        # Per credential too: a service using both APIs checks each quota on its own.
        self.counters[f"arrivals:{who}"] += 1
        if not self.admit(who, now):
            self.counters["rate_limited"] += 1
            self.counters[f"rate_limited:{who}"] += 1
            return self._log(
                request, json_response({"message": "Too many requests"}, 429), "429", who
            )
        fault = self.pick_fault(request.method, request.path)
        if fault is not None:
            self.counters[f"fault:{fault.kind}"] += 1
            if fault.kind in BEFORE:
                return self._log(request, await self._before(request, fault), fault.kind, who)
            if fault.kind == "latency":
                await asyncio.sleep(fault.seconds)
        response = await handler(request)
        if closing:
            response.force_close()
        if fault is not None and fault.kind in AFTER:
            answer = await self._after(request, response, fault)
            return self._log(request, answer, fault.kind, who)
        self.counters["ok" if response.status < 400 else f"status:{response.status}"] += 1
        return self._log(request, response, None, who)

    def _log(
        self,
        request: web.Request,
        response: web.StreamResponse,
        fault: str | None,
        credential: str | None,
    ) -> web.StreamResponse:
        self.requests.append(
            {
                "method": request.method,
                "path": request.path,
                "status": response.status,
                "fault": fault,
                # Whose quota it counted against: "stamped:<public key>" or
                # "stamps:<merchant>" (never a secret); None when refused.
                "credential": credential,
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
        if kind == "redirect":
            # An API moved (http to https, a new host): the client sees a 3xx for a request
            # it cannot tell was applied; the sandbox did not apply it.
            return web.Response(
                status=307, headers={"Location": f"https://moved.invalid{request.path}"}
            )
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
        if fault.kind == "gateway_503_json":
            # The same, from a gateway that answers in JSON of its own (not the API's).
            return json_response({"message": "Service Unavailable"}, 503)
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
