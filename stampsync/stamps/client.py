"""The Stamps (stamps.co.id) client."""

from __future__ import annotations

from .._auth import Secret, TokenAuth
from .._client import BaseClient
from ..errors import ConfigurationError
from ..throttle import Throttle
from .stamps import Stamps

__all__ = ["StampsClient"]


class StampsClient(BaseClient):
    """Asyncio client of the Stamps REST API (``Authorization: <token_type> <token>``).

    Args:
        token: the merchant's API token (never shown in reprs, logs or errors).
        api_url: base URL; https, or http on loopback only (the sandbox).
        token_type: ``"Token"`` for a static token (default) or ``"Bearer"`` for a JWT.
        merchant, store: defaults for endpoints that take a merchant or store id.
        throttle_limit, throttle_seconds, concurrent_connections,
        concurrent_batch_executions, timeout, max_retries, retry_budget, throttle:
            as for :class:`~stampsync.StampedClient`.
    """

    _name = "StampsClient"

    def __init__(
        self,
        token: str,
        *,
        api_url: str = "https://stamps.co.id",
        token_type: str = "Token",  # noqa: S107 (a scheme name, not a secret)
        merchant: int | None = None,
        store: int | None = None,
        throttle_limit: int = 500,
        throttle_seconds: float = 60,
        concurrent_connections: int = 2,
        concurrent_batch_executions: int = 10,
        timeout: float = 30.0,
        max_retries: int = 3,
        retry_budget: float = 120.0,
        throttle: Throttle | None = None,
    ) -> None:
        for name, value in (("merchant", merchant), ("store", store)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise ConfigurationError(f"{name} must be an integer id, got {value!r}")
        super().__init__(
            api_url=api_url,
            auth=TokenAuth(Secret(token, name="token"), token_type),
            throttle_limit=throttle_limit,
            throttle_seconds=throttle_seconds,
            concurrent_connections=concurrent_connections,
            concurrent_batch_executions=concurrent_batch_executions,
            timeout=timeout,
            max_retries=max_retries,
            retry_budget=retry_budget,
            throttle=throttle,
        )
        self.merchant = merchant
        self.store = store
        self.stamps = Stamps(self)
        """Stamps: add, cancel, deduct."""
