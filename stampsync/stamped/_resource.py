"""The base of every Stamped.io API section."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, TypeVar

from .._client import BaseClient
from .._transport import Request, path_segment

T = TypeVar("T")


class StampedResource:
    """One API section of a :class:`~stampsync.StampedClient`; paths are store-scoped."""

    def __init__(self, client: BaseClient, store_hash: str) -> None:
        self._client = client
        # Encoded once: every path of this client starts with it.
        self._prefix = "/api/v2/" + path_segment(store_hash, "store_hash")

    def _call(
        self,
        method: str,
        path: str,
        into: type[T],
        *,
        params: dict[str, object] | None = None,
        query: dict[str, object] | None = None,
        body: object = None,
        idempotent: bool | None = None,
    ) -> Coroutine[Any, Any, T]:
        # Not a coroutine itself: handing on the transport's saves a frame per call.
        request = Request(
            method,
            self._prefix + path,
            params=params or {},
            query=query,
            body=body,
            idempotent=idempotent,
        )
        return self._client._send(request, into)
