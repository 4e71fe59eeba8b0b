"""The sandbox application: both APIs, the gate in front, and the inspection API.

The inspection API lives under ``/__sandbox/`` and is for tests only: no real client
ever calls it. It reports what the server saw (arrival times, requests, counters), what
it applied (awards, members, customers), and sets faults at run time.

Every route, API and inspection alike, answers only requests whose Host is a loopback
name and that carry no Origin from elsewhere (see ``_guard``).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import msgspec
from aiohttp import web

from ._data import StampedStore, StampsStore
from ._guard import guard, mark
from ._middleware import Fault, Gate, SandboxConfig, json_response
from ._stamped import StampedRoutes
from ._stamped_v3 import StampedV3Routes, StampedV3Store
from ._stamps import StampsRoutes
from ._webhooks import WebhookSender

GATE_KEY = web.AppKey("gate", Gate)
STAMPED_KEY = web.AppKey("stamped", StampedStore)
STAMPS_KEY = web.AppKey("stamps", StampsStore)
STAMPED_V3_KEY = web.AppKey("stamped_v3", StampedV3Store)
WEBHOOKS_KEY = web.AppKey("webhooks", WebhookSender)


def build_app(config: SandboxConfig | None = None) -> web.Application:
    """An ``aiohttp.web.Application`` serving both APIs as ``config`` says."""
    config = config or SandboxConfig()
    gate = Gate(config)
    stamped = StampedStore(config.seed, config.customers, config.reviews_per_customer)
    stamps = StampsStore(config.seed, config.members, config.stores)
    # The guard first: a request from a web page is refused before the gate counts it.
    app = web.Application(middlewares=[guard, gate.middleware])
    app.on_response_prepare.append(mark)
    app[GATE_KEY] = gate
    app[STAMPED_KEY] = stamped
    app[STAMPS_KEY] = stamps
    app.add_routes(StampedRoutes(stamped).routes(config.store_hash))
    app.add_routes(StampsRoutes(stamps, gate).routes())
    app.add_routes(_inspection_routes())
    webhooks = app[WEBHOOKS_KEY] = WebhookSender(gate)
    app.cleanup_ctx.append(webhooks.running)
    v3 = app[STAMPED_V3_KEY] = StampedV3Store(config.seed, config.store_hash, webhooks.emit)
    app.add_routes(StampedV3Routes(v3).routes(config.store_hash))
    app.add_routes(StampedV3Routes(v3).inspection_routes())
    return app


def _inspection_routes() -> list[web.RouteDef]:
    async def info(request: web.Request) -> web.Response:
        c = request.app[GATE_KEY].config
        return json_response(
            {
                "store_hash": c.store_hash,
                "merchant": c.merchant,
                "stores": c.stores,
                "limit": c.limit,
                "seconds": c.seconds,
                "customers": c.customers,
                "members": c.members,
            }
        )

    async def arrivals(request: web.Request) -> web.Response:
        return json_response(list(request.app[GATE_KEY].arrivals))

    async def arrivals_by(request: web.Request) -> web.Response:
        by = request.app[GATE_KEY].arrivals_by
        return json_response({who: list(times) for who, times in by.items()})

    async def requests(request: web.Request) -> web.Response:
        return json_response(list(request.app[GATE_KEY].requests))

    async def counters(request: web.Request) -> web.Response:
        return json_response(dict(request.app[GATE_KEY].counters))

    async def awards(request: web.Request) -> web.Response:
        store = request.app[STAMPS_KEY]
        out = []
        for award in store.awards.values():
            member = store.get(award.pk)
            out.append({**asdict(award), "email": member.email if member else None})
        return json_response(out)

    async def member(request: web.Request) -> web.Response:
        found = request.app[STAMPS_KEY].find(request.match_info["ref"])
        if found is None:
            return json_response({"detail": "no such member"}, 404)
        return json_response({**asdict(found), "level_text": found.level_text()})

    async def deductions(request: web.Request) -> web.Response:
        return json_response(request.app[STAMPS_KEY].deductions)

    async def customer(request: web.Request) -> web.Response:
        store = request.app[STAMPED_KEY]
        i = store.id_for_email(request.match_info["email"])
        record = None if i is None else store.get(i)
        if record is None:
            return json_response({"detail": "no such customer"}, 404)
        subscribed = store.subscribed.get(record["email"].lower())
        return json_response({**record, "subscribed": subscribed})

    async def set_faults(request: web.Request) -> web.Response:
        specs = msgspec.json.decode(await request.read(), type=list[str])
        gate = request.app[GATE_KEY]
        gate.config.faults = [Fault.parse(s) for s in specs]
        return json_response({"faults": len(gate.config.faults)})

    async def write_review(request: web.Request) -> web.Response:
        # What a shopper does on the storefront: the APIs have no route that writes one.
        review = msgspec.json.decode(await request.read(), type=dict[str, Any])
        sender = request.app[WEBHOOKS_KEY]
        sender.reviews += 1
        payload = {
            "id": f"rev_{sender.reviews:06d}",
            "customerEmail": review.get("email"),
            "author": review.get("author"),
            "reviewRating": review.get("rating", 5),
            "reviewTitle": review.get("title"),
            "reviewMessage": review.get("body"),
            "productId": review.get("product_id"),
        }
        sender.emit("review.created", payload)
        return json_response(payload)

    async def webhooks(request: web.Request) -> web.Response:
        sender = request.app[WEBHOOKS_KEY]
        return json_response({"pending": sender.pending(), "pushes": list(sender.log)})

    async def clear_log(request: web.Request) -> web.Response:
        gate = request.app[GATE_KEY]
        del gate.arrivals[:]
        gate.requests.clear()
        gate.counters.clear()
        gate.windows.clear()
        gate.arrivals_by.clear()
        return json_response({"cleared": True})

    p = "/__sandbox"
    routes: list[Any] = [
        web.get(f"{p}/info", info),
        web.get(f"{p}/arrivals", arrivals),
        web.get(f"{p}/arrivals-by-credential", arrivals_by),
        web.get(f"{p}/requests", requests),
        web.get(f"{p}/counters", counters),
        web.get(f"{p}/awards", awards),
        web.get(f"{p}/deductions", deductions),
        web.get("/__sandbox/members/{ref}", member),
        web.get("/__sandbox/customers/{email}", customer),
        web.put(f"{p}/faults", set_faults),
        web.post(f"{p}/write-review", write_review),
        web.get(f"{p}/webhooks", webhooks),
        web.post(f"{p}/clear", clear_log),
    ]
    return routes
