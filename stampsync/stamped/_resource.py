"""The base of every Stamped.io API section."""

from __future__ import annotations

from typing import TypeVar

from .._client import BaseClient
from .._transport import Request

T = TypeVar("T")


class StampedResource:
    """One API section of a :class:`~stampsync.StampedClient`; paths are store-scoped."""

    def __init__(self, client: BaseClient, store_hash: str) -> None:
        self._client = client
        self._store_hash = store_hash

    async def _call(
        self,
        method: str,
        path: str,
        into: type[T],
        *,
        params: dict[str, object] | None = None,
        query: dict[str, object] | None = None,
        body: object = None,
        idempotent: bool | None = None,
    ) -> T:
        request = Request(
            method,
            "/api/v2/{store_hash}" + path,
            params={"store_hash": self._store_hash, **(params or {})},
            query=query,
            body=body,
            idempotent=idempotent,
        )
        return await self._client._send(request, into)
