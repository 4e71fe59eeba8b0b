"""The Stamped.io client."""

from __future__ import annotations

from .._auth import BasicAuth, Secret
from .._client import BaseClient
from .._transport import path_segment
from ..throttle import Throttle
from .customers import Customers
from .loyalty import Loyalty
from .reviews import Reviews
from .subscriptions import Subscriptions

__all__ = ["StampedClient"]


class StampedClient(BaseClient):
    """Asyncio client of the Stamped.io REST API (v2, HTTP Basic auth).

    Use it as ``async with StampedClient(...) as stamped:``; every request passes through
    one throttle (``throttle_limit`` starts per ``throttle_seconds``), at most
    ``concurrent_connections`` at once, with retries that respect idempotency.

    Args:
        public_key: the API public key (sent as the Basic user).
        private_key: the API private key (sent as the Basic password; never shown).
        store_hash: the store identifier that scopes every path.
        api_url: base URL; https, or http on loopback only (the sandbox).
        throttle_limit: the quota: at most this many request starts in any window.
        throttle_seconds: the window's length in seconds.
        concurrent_connections: requests in flight at once.
        concurrent_batch_executions: tasks a batch operation (export) runs at once.
        timeout: seconds per attempt.
        max_retries: attempts after the first one, for failures safe to retry.
        retry_budget: seconds after which a failing request stops being retried.
        throttle: a throttle shared with other clients (e.g. ``RedisThrottle``); when
            given, ``throttle_limit``/``throttle_seconds`` are the throttle's business.
        max_response_bytes: a larger answer is refused with ``DecodeError`` (32 MiB).
    """

    _name = "StampedClient"

    def __init__(
        self,
        public_key: str,
        private_key: str,
        store_hash: str,
        *,
        api_url: str = "https://stamped.io",
        throttle_limit: int = 500,
        throttle_seconds: float = 60,
        concurrent_connections: int = 2,
        concurrent_batch_executions: int = 10,
        timeout: float = 30.0,
        max_retries: int = 3,
        retry_budget: float = 120.0,
        throttle: Throttle | None = None,
        max_response_bytes: int = 32 * 2**20,
    ) -> None:
        store_hash = str(store_hash).strip() if store_hash is not None else ""
        path_segment(store_hash, "store_hash")
        super().__init__(
            api_url=api_url,
            auth=BasicAuth(public_key, Secret(private_key, name="private_key")),
            throttle_limit=throttle_limit,
            throttle_seconds=throttle_seconds,
            concurrent_connections=concurrent_connections,
            concurrent_batch_executions=concurrent_batch_executions,
            timeout=timeout,
            max_retries=max_retries,
            retry_budget=retry_budget,
            throttle=throttle,
            max_response_bytes=max_response_bytes,
        )
        self.store_hash = store_hash
        self.customers = Customers(self, store_hash)
        """Customers: create, get, list, update, upsert, delete, points, export."""
        self.subscriptions = Subscriptions(self, store_hash)
        """Review-request subscriptions: subscribe, unsubscribe."""
        self.loyalty = Loyalty(self, store_hash)
        """Loyalty: transactions, tiers."""
        self.reviews = Reviews(self, store_hash)
        """Reviews: list, export."""
