"""The Stamps (stamps.co.id) client."""

from __future__ import annotations

from typing import Self, Unpack, cast

from yarl import URL

from .. import _environment as env
from .._auth import AuthScheme, JwtAuth, Secret, TokenAuth
from .._client import BaseClient
from .._options import CallSettings, ClientOptions, ClientSettings
from ..errors import ConfigurationError
from .accounts import Accounts
from .activities import Activities, ExpirationJournals
from .auth import Auth
from .balances import Balances
from .diagnostics import Testing
from .memberships import Memberships
from .redemptions import Redemptions
from .rewards import Rewards
from .stamps import Stamps
from .stores import Merchants, Stores
from .transactions import Transactions
from .vouchers import Vouchers

__all__ = ["StampsCallSettings", "StampsClient"]


class StampsCallSettings(CallSettings, total=False):
    """What :meth:`StampsClient.with_options` may change: :class:`CallSettings` and the
    default ``store``."""

    store: int | None


class StampsClient(BaseClient):
    """Asyncio client of the Stamps REST API (``Authorization: <token_type> <token>``).

    Args:
        token: the merchant's API token (never shown in reprs, logs or errors); from
            ``STAMPS_TOKEN`` when not given.
        api_url: base URL; https, or http on loopback only (the sandbox); from
            ``STAMPS_API_URL`` when not given, else ``https://stamps.co.id``.
        token_type: ``"Token"`` for a static token (default) or ``"Bearer"`` when
            ``token`` is already a JWT.
        jwt: exchange the static ``token`` for a 24-hour JWT (needs ``merchant``),
            renewed before it expires and once after a 401.
        merchant: default merchant id for the endpoints that take one
            (``STAMPS_MERCHANT``).
        store: default store id for the endpoints that take one (``STAMPS_STORE``).
        options: a :class:`~stampsync.ClientOptions` (several clients can share one).
        **settings: any field of :class:`~stampsync.ClientOptions`, applied over ``options``.
    """

    _name = "StampsClient"

    stamps: Stamps
    """Stamps: add, cancel, deduct."""
    memberships: Memberships
    """Memberships: details, suggestions, register, profiles, tags, levels."""
    accounts: Accounts
    """Accounts: OTP-confirmed changes of mobile number and email."""
    auth: Auth
    """Credentials: JWT exchange, token verification, ping."""
    transactions: Transactions
    """Transactions: add, add-or-update, add with redemptions, cancel, modify, read."""
    redemptions: Redemptions
    """Redemptions: rewards, vouchers, promo codes; cancel; PIN authorization."""
    rewards: Rewards
    """Rewards: keyset-paged listings, details."""
    vouchers: Vouchers
    """Vouchers: issue, validate, details, listings, value deduction."""
    balances: Balances
    """Balances: credit, debit, cancel."""
    stores: Stores
    """Stores: add or update."""
    merchants: Merchants
    """Merchants: add or update a payment method."""
    activities: Activities
    """Activities: a member's history, 20 at a time."""
    expiration_journals: ExpirationJournals
    """Expiration journals: stamps due to expire."""
    testing: Testing
    """The API's test endpoints (always-failing answers)."""

    def __init__(
        self,
        token: str | None = None,
        *,
        api_url: str | None = None,
        token_type: str = "Token",  # noqa: S107 (a scheme name, not a secret)
        jwt: bool = False,
        merchant: int | None = None,
        store: int | None = None,
        options: ClientOptions | None = None,
        **settings: Unpack[ClientSettings],
    ) -> None:
        token = env.text(token, env.STAMPS_TOKEN)
        if token is None:
            raise env.missing_credential("StampsClient", "a token", "token=...", env.STAMPS_TOKEN)
        api_url = env.text(api_url, env.STAMPS_API_URL)
        if api_url is None:
            api_url = "https://stamps.co.id"
        merchant = env.number(merchant, env.STAMPS_MERCHANT)
        store = env.number(store, env.STAMPS_STORE)
        for name, value in (("merchant", merchant), ("store", store)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise ConfigurationError(f"{name} must be an integer id, got {value!r}")
        self._static_token = Secret(token, name="token")
        auth: AuthScheme
        if jwt:
            if merchant is None:
                raise ConfigurationError("jwt=True needs merchant=... (the CRM merchant id)")
            auth = JwtAuth(self._static_token, self._fetch_jwt)
        else:
            auth = TokenAuth(self._static_token, token_type)
        self.merchant = merchant
        self.store = store
        settings, owned = env.client_settings(
            settings, options, quota_key=lambda: f"stamps:{URL(api_url).host}"
        )
        super().__init__(
            api_url=api_url,
            auth=auth,
            options=ClientOptions.build(options, settings),
            owned_throttle=owned,
        )
        self._bind_sections()

    def with_options(self, **changes: Unpack[StampsCallSettings]) -> Self:
        """A client sharing this one's connections, throttle and credentials, with some
        settings changed: those of :meth:`BaseClient.with_options`, and ``store`` (the
        store for calls that name none)."""
        settings = dict(changes)
        store = settings.pop("store", self.store)
        if store is not None and (isinstance(store, bool) or not isinstance(store, int)):
            raise ConfigurationError(f"store must be an integer id, got {store!r}")
        other = super().with_options(**cast(CallSettings, settings))
        other.store = store
        return other

    def _fixed_reason(self, name: str) -> str:
        if name == "merchant":
            return (
                "merchant: the credentials (and a JWT's exchange) are made for it; build "
                "another StampsClient(merchant=...)"
            )
        return super()._fixed_reason(name)

    def _bind_sections(self) -> None:
        self.stamps = Stamps(self)
        self.memberships = Memberships(self)
        self.accounts = Accounts(self)
        self.auth = Auth(self)
        self.transactions = Transactions(self)
        self.redemptions = Redemptions(self)
        self.rewards = Rewards(self)
        self.vouchers = Vouchers(self)
        self.balances = Balances(self)
        self.stores = Stores(self)
        self.merchants = Merchants(self)
        self.activities = Activities(self)
        self.expiration_journals = ExpirationJournals(self)
        self.testing = Testing(self)

    async def _fetch_jwt(self, static_token: str) -> str:
        return (await self.auth.get_access_token()).access_token
