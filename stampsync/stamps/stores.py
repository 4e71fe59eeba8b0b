"""Stores and payment methods: the merchant's own set-up."""

from __future__ import annotations

from .._endpoint import stamps
from .._validate import text
from ..errors import ConfigurationError
from ._resource import StampsResource
from .models import Status
from .pos_models import StoreResult

__all__ = ["Merchants", "Stores"]

STORES_ADD_OR_UPDATE = stamps("POST", "/api/stores/add-or-update", StoreResult, idempotent=True)
MERCHANTS_ADD_OR_UPDATE_PAYMENT_METHOD = stamps(
    "POST", "/api/merchants/add-or-update-payment-method", Status, idempotent=True
)


def _flag(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigurationError(f"{name} must be True or False, got {value!r}")
    return value


class Stores(StampsResource):
    """``stamps.stores``: add or update a store."""

    async def add_or_update(
        self,
        *,
        name: str,
        display_name: str,
        code: str,
        address: str,
        area: str,
        is_active: bool,
        merchant_id: int | None = None,
    ) -> StoreResult:
        """POST /api/stores/add-or-update: create a store, or update the one with this
        ``code``. Idempotent: an upsert."""
        body = {
            "merchant_id": self._merchant(merchant_id),
            "name": text(name, "name"),
            "display_name": text(display_name, "display_name"),
            "code": text(code, "code"),
            "address": text(address, "address"),
            "area": text(area, "area"),
            "is_active": _flag(is_active, "is_active"),
        }
        return await self._call(STORES_ADD_OR_UPDATE, body=body)


class Merchants(StampsResource):
    """``stamps.merchants``: the merchant's payment methods."""

    async def add_or_update_payment_method(
        self, *, code: str, name: str, eligible_for_points: bool
    ) -> Status:
        """POST /api/merchants/add-or-update-payment-method: create a payment method or
        update the one with this ``code``. Idempotent: an upsert."""
        body = {
            "code": text(code, "code"),
            "name": text(name, "name"),
            "eligible_for_points": _flag(eligible_for_points, "eligible_for_points"),
        }
        return await self._call(MERCHANTS_ADD_OR_UPDATE_PAYMENT_METHOD, body=body)
