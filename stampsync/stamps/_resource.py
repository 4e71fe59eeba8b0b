"""The base of every Stamps API section."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from .._admission import QuotaStart
from .._endpoint import Endpoint
from .._request import Request
from ..errors import ConfigurationError

if TYPE_CHECKING:
    from .client import StampsClient

T = TypeVar("T")


class StampsResource:
    """One API section of a :class:`~stampsync.StampsClient`."""

    def __init__(self, client: StampsClient) -> None:
        self._client = client
        # The transport's send, bound once: one call less on every request.
        self._send = client._transport.send

    def _merchant(self, merchant: int | None) -> int:
        value = merchant if merchant is not None else self._client.merchant
        if value is None:
            raise ConfigurationError(
                "merchant is required: pass merchant=... or set it on StampsClient(merchant=...)"
            )
        return value

    def _store(self, store: int | None, *, required: bool) -> int | None:
        value = store if store is not None else self._client.store
        if value is None and required:
            raise ConfigurationError(
                "store is required: give the store (store=... on the call or on "
                "StampsClient(store=...), STAMPS_STORE, or --store N on the command line)"
            )
        return value

    def _call(
        self,
        endpoint: Endpoint[T],
        *,
        query: dict[str, object] | None = None,
        body: object = None,
        start: QuotaStart | None = None,
    ) -> Coroutine[Any, Any, T]:
        # Not a coroutine itself: handing on the transport's saves a frame per call.
        request = Request(
            endpoint.method,
            endpoint.path,
            {},
            query,
            body,
            endpoint.idempotent,
            endpoint.authenticate,
        )
        if start is not None:
            return self._send(request, endpoint.into, start=start)
        return self._send(request, endpoint.into)
