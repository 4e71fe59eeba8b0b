"""The Stamps (stamps.co.id) client."""

from __future__ import annotations

from .._auth import Auth as AuthStrategy
from .._auth import JwtAuth, Secret, TokenAuth
from .._client import BaseClient
from ..errors import ConfigurationError
from ..throttle import Throttle
from .accounts import Accounts
from .auth import Auth
from .memberships import Memberships
from .stamps import Stamps

__all__ = ["StampsClient"]


class StampsClient(BaseClient):
    """Asyncio client of the Stamps REST API (``Authorization: <token_type> <token>``).

    Args:
        token: the merchant's API token (never shown in reprs, logs or errors).
        api_url: base URL; https, or http on loopback only (the sandbox).
        token_type: ``"Token"`` for a static token (default) or ``"Bearer"`` when
            ``token`` is already a JWT.
        jwt: exchange the static ``token`` for a 24-hour JWT (needs ``merchant``),
            renewed before it expires and once after a 401.
        merchant: default merchant id for the endpoints that take one.
        store: default store id for the endpoints that take one.
        throttle_limit: as for :class:`~stampsync.StampedClient`.
        throttle_seconds: as for :class:`~stampsync.StampedClient`.
        concurrent_connections: as for :class:`~stampsync.StampedClient`.
        concurrent_batch_executions: as for :class:`~stampsync.StampedClient`.
        timeout: as for :class:`~stampsync.StampedClient`.
        max_retries: as for :class:`~stampsync.StampedClient`.
        retry_budget: as for :class:`~stampsync.StampedClient`.
        throttle: as for :class:`~stampsync.StampedClient`.
        max_response_bytes: as for :class:`~stampsync.StampedClient`.
    """

    _name = "StampsClient"

    def __init__(
        self,
        token: str,
        *,
        api_url: str = "https://stamps.co.id",
        token_type: str = "Token",  # noqa: S107 (a scheme name, not a secret)
        jwt: bool = False,
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
        max_response_bytes: int = 32 * 2**20,
    ) -> None:
        for name, value in (("merchant", merchant), ("store", store)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise ConfigurationError(f"{name} must be an integer id, got {value!r}")
        self._static_token = Secret(token, name="token")
        auth: AuthStrategy
        if jwt:
            if merchant is None:
                raise ConfigurationError("jwt=True needs merchant=... (the CRM merchant id)")
            auth = JwtAuth(self._static_token, self._fetch_jwt)
        else:
            auth = TokenAuth(self._static_token, token_type)
        self.merchant = merchant
        self.store = store
        super().__init__(
            api_url=api_url,
            auth=auth,
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
        self.stamps = Stamps(self)
        """Stamps: add, cancel, deduct."""
        self.memberships = Memberships(self)
        """Memberships: details, suggestions, register, profiles, tags, levels."""
        self.accounts = Accounts(self)
        """Accounts: OTP-confirmed changes of mobile number and email."""
        self.auth = Auth(self)
        """Credentials: JWT exchange, ping."""

    async def _fetch_jwt(self, static_token: str) -> str:
        return (await self.auth.get_access_token()).access_token
