"""The Stamped.io client."""

from __future__ import annotations

from typing import Unpack

from .. import _environment as env
from .._auth import ApiKeyAuth, AuthScheme, BasicAuth, MissingAuth, Secret
from .._client import BaseClient
from .._options import ClientOptions, ClientSettings
from .._request import path_segment
from ..errors import ConfigurationError
from .customers import Customers
from .loyalty import Loyalty
from .reviews import Reviews
from .subscriptions import Subscriptions
from .v3 import StampedV3

__all__ = ["StampedClient"]


class StampedClient(BaseClient):
    """Asyncio client of the Stamped.io REST API: V2 (HTTP Basic auth) and V3
    (``stamped-api-key``, under :attr:`v3`).

    Use it as ``async with StampedClient(...) as stamped:``; every request passes through
    one throttle (``throttle_limit`` starts per ``throttle_seconds``), at most
    ``concurrent_connections`` at once, with retries that respect idempotency.

    Args:
        public_key: the API public key (sent as the Basic user); V2 calls need it.
        private_key: the API private key (sent as the Basic password; never shown).
        store_hash: the store identifier that scopes every path (V3's shop id).
        api_key: the shop's V3 private API key (sent as ``stamped-api-key``; never
            shown); V3 calls need it. Give it, the V2 pair, or both.
        api_url: base URL; https, or http on loopback only (the sandbox).
        options: a :class:`~stampsync.ClientOptions` (several clients can share one).

    Credentials not given are read from the environment: ``STAMPED_PUBLIC_KEY``,
    ``STAMPED_PRIVATE_KEY`` and ``STAMPED_API_KEY`` when none of the three is passed,
    ``STAMPED_STORE_HASH`` and ``STAMPED_API_URL`` (else ``https://stamped.io``).

    Keyword settings:
        **settings: any field of :class:`~stampsync.ClientOptions` (``throttle_limit``,
            ``throttle_seconds``, ``concurrent_connections``, ``timeout``, ``throttle``, ...),
            applied over ``options``.
    """

    _name = "StampedClient"

    customers: Customers
    """Customers: create, get, list, update, upsert, delete, points, export."""
    subscriptions: Subscriptions
    """Review-request subscriptions: subscribe, unsubscribe."""
    loyalty: Loyalty
    """Loyalty: transactions, tiers."""
    reviews: Reviews
    """Reviews: list, export."""
    v3: StampedV3
    """Stamped V3: ``loyalty``, ``customers``, ``orders``, ``products`` (needs ``api_key``)."""

    def __init__(
        self,
        public_key: str | None = None,
        private_key: str | None = None,
        store_hash: str | None = None,
        *,
        api_key: str | None = None,
        api_url: str | None = None,
        options: ClientOptions | None = None,
        **settings: Unpack[ClientSettings],
    ) -> None:
        if public_key is None and private_key is None and api_key is None:
            public_key = env.text(None, env.STAMPED_PUBLIC_KEY)
            private_key = env.text(None, env.STAMPED_PRIVATE_KEY)
            api_key = env.text(None, env.STAMPED_API_KEY)
        store_hash = env.text(store_hash, env.STAMPED_STORE_HASH)
        api_url = env.text(api_url, env.STAMPED_API_URL)
        if api_url is None:
            api_url = "https://stamped.io"
        store_hash = str(store_hash).strip() if store_hash is not None else ""
        path_segment(store_hash, "store_hash")
        settings, owned = env.client_settings(
            settings, options, quota_key=lambda: f"stamped:{store_hash}"
        )
        super().__init__(
            api_url=api_url,
            auth=_v2_auth(public_key, private_key, api_key),
            options=ClientOptions.build(options, settings),
            more_auth={"stamped_v3": _v3_auth(api_key)},
            owned_throttle=owned,
        )
        self.store_hash = store_hash
        self._bind_sections()

    def _bind_sections(self) -> None:
        self.customers = Customers(self, self.store_hash)
        self.subscriptions = Subscriptions(self, self.store_hash)
        self.loyalty = Loyalty(self, self.store_hash)
        self.reviews = Reviews(self, self.store_hash)
        self.v3 = StampedV3(self, self.store_hash)


def _v2_auth(public_key: str | None, private_key: str | None, api_key: str | None) -> AuthScheme:
    if public_key is None and private_key is None:
        if api_key is None:
            raise env.missing_credential(
                "StampedClient",
                "credentials",
                "public_key=... and private_key=... (V2) or api_key=... (V3),",
                f"{env.STAMPED_PUBLIC_KEY} and {env.STAMPED_PRIVATE_KEY}, "
                f"or {env.STAMPED_API_KEY},",
            )
        return MissingAuth(
            "this V2 call needs public_key and private_key; the client was given only "
            "api_key (V3: use client.v3)"
        )
    if public_key is None or private_key is None:
        raise ConfigurationError("public_key and private_key go together: give both")
    return BasicAuth(public_key, Secret(private_key, name="private_key"))


def _v3_auth(api_key: str | None) -> AuthScheme:
    if api_key is None:
        return MissingAuth(
            "this V3 call needs api_key (the shop's private API key); the client was "
            "given only the V2 public_key and private_key"
        )
    return ApiKeyAuth(Secret(api_key, name="api_key"))
