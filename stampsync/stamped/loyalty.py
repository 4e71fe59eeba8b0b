"""Stamped.io loyalty: transactions (reward events) and tiers."""

from __future__ import annotations

from .._endpoint import stamped
from .._request import compact
from .._validate import email as check_email
from .._validate import optional_text, text
from ..errors import ConfigurationError
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
        """
        if points is not None and (isinstance(points, bool) or not isinstance(points, int | float)):
            raise ConfigurationError(f"points must be a number, got {points!r}")
        body = compact(
            email=check_email(email, "email"),
            type=text(type, "type"),
            points=points,
            note=optional_text(note, "note"),
            action=optional_text(action, "action"),
            orderValue=order_value,
        )
        return await self._call(CREATE_LOYALTY_TRANSACTION, body=body)

    async def tiers(self) -> Tiers:
        """GET /api/v2/{store_hash}/loyalty/tiers: the program's tiers (read-only)."""
        return await self._call(LIST_TIERS)
