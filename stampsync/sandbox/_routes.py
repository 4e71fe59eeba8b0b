"""The sandbox's route table, built from the client's endpoint declarations."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aiohttp import web

from .._endpoint import Endpoint


def endpoint_routes(
    table: Iterable[tuple[Endpoint[Any], Any]], *, store_hash: str | None = None
) -> list[web.RouteDef]:
    """One route per declared endpoint, so the sandbox serves exactly the paths the
    client sends (Stamped.io's with this sandbox's store hash filled in)."""
    routes = []
    for endpoint, handler in table:
        path = endpoint.path
        if store_hash is not None:
            path = path.replace("{store_hash}", store_hash)
        routes.append(web.route(endpoint.method, path, handler))
    return routes
