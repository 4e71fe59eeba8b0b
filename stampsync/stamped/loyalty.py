"""Stamped.io loyalty: transactions (reward events) and tiers."""

from __future__ import annotations

from .._endpoint import stamped
from .._request import compact
from .._validate import email as check_email
from .._validate import optional_finite, optional_text, text
from ._resource import StampedResource
from .models import LoyaltyTransaction, Tiers

__all__ = ["Loyalty"]

CREATE_LOYALTY_TRANSACTION = stamped(
    "POST", "/loyalty/transactions", LoyaltyTransaction, idempotent=False
)
LIST_TIERS = stamped("GET", "/loyalty/tiers", Tiers, idempotent=True)


class Loyalty(StampedResource):
    """``stamped.loyalty``: record reward events, read the tier ladder."""

    async def create_transaction(
        self,
        *,
        email: str,
        type: str,
        points: int | float | None = None,
        note: str | None = None,
        action: str | None = None,
        order_value: float | None = None,
    ) -> LoyaltyTransaction:
        """POST /api/v2/{store_hash}/loyalty/transactions: record a reward event.

        ``type`` must be a transaction type configured in the loyalty program
        (``"custom"``, ``"purchase"``, ...). **Not idempotent**: never retried once sent.
        ``points`` (either sign, at most the client's ``max_stamps``) and ``order_value``
        (at most ``max_value``) must be finite numbers; they are checked before sending.
        """
        limits = self._client.options
        body = compact(
            email=check_email(email, "email"),
            type=text(type, "type"),
            points=optional_finite(
                points, "points", limit=limits.max_stamps, signed=True, setting="max_stamps"
            ),
            note=optional_text(note, "note"),
            action=optional_text(action, "action"),
            orderValue=optional_finite(order_value, "order_value", limit=limits.max_value),
        )
        return await self._call(CREATE_LOYALTY_TRANSACTION, body=body)

    async def tiers(self) -> Tiers:
        """GET /api/v2/{store_hash}/loyalty/tiers: the program's tiers (read-only)."""
        return await self._call(LIST_TIERS)
