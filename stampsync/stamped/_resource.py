"""The base of every Stamped.io API section."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, TypeVar

from .._admission import QuotaStart
from .._client import BaseClient
from .._endpoint import Endpoint
from .._request import Request, path_segment

T = TypeVar("T")


class StampedResource:
    """One API section of a :class:`~stampsync.StampedClient`; paths are store-scoped."""

    def __init__(self, client: BaseClient, store_hash: str) -> None:
        self._client = client
        # The transport's send, bound once: one call less on every request.
        self._send = client._transport.send
        self._store_hash = path_segment(store_hash, "store_hash")
        # Each endpoint's path with this client's store filled in, made on first use:
        # the store is the same for every call, so it is not formatted per request.
        self._paths: dict[Endpoint[Any], str] = {}

    def _call(
        self,
        endpoint: Endpoint[T],
        *,
        params: dict[str, object] | None = None,
        query: dict[str, object] | None = None,
        body: object = None,
        idempotent: bool | None = None,
        start: QuotaStart | None = None,
    ) -> Coroutine[Any, Any, T]:
        # Not a coroutine itself: handing on the transport's saves a frame per call.
        path = self._paths.get(endpoint)
        if path is None:
            path = self._paths[endpoint] = endpoint.path.replace("{store_hash}", self._store_hash)
        request = Request(
            endpoint.method,
            path,
            params or {},
            query,
            body,
            endpoint.idempotent if idempotent is None else idempotent,
            True,
            endpoint.credential,
        )
        if start is not None:
            return self._send(request, endpoint.into, start=start)
        return self._send(request, endpoint.into)
