"""Redemptions: rewards, vouchers and promo codes spent by a customer."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypedDict, Unpack

from .._endpoint import stamps
from .._request import compact
from .._validate import optional_text, positive, text, user_ref
from ..errors import ConfigurationError
from ._resource import StampsResource
from .models import Status
from .pos_models import Channel, MultipleRewardRedemption, RedemptionResult

__all__ = ["Redemptions", "SpendKeywords"]

REDEMPTIONS_REDEEM_REWARD = stamps(
    "POST", "/api/v2/redemptions/redeem-reward", RedemptionResult, idempotent=False
)
REDEMPTIONS_REDEEM_VOUCHER = stamps(
    "POST", "/api/v2/redemptions/redeem-voucher", RedemptionResult, idempotent=False
)
REDEMPTIONS_REDEEM_MULTIPLE_REWARDS = stamps(
    "POST", "/api/v2/redemptions/redeem-multiple-rewards", RedemptionResult, idempotent=False
)
REDEMPTIONS_REDEEM_PROMO_CODE = stamps(
    "POST", "/api/v3/redemptions/redeem-promo-code", RedemptionResult, idempotent=False
)
REDEMPTIONS_BY_VOUCHER_CODE = stamps(
    "POST", "/api/redemptions/by-voucher-code", RedemptionResult, idempotent=False
)
REDEMPTIONS_CANCEL = stamps("POST", "/api/redemptions/cancel", RedemptionResult, idempotent=True)
REDEMPTIONS_AUTHORIZE = stamps("POST", "/api/redemptions/authorize", Status, idempotent=False)


def channel_code(value: object) -> int | None:
    """``None`` or a :class:`Channel` code."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigurationError(f"channel must be an integer code (Channel), got {value!r}")
    return int(value)


class SpendKeywords(TypedDict, total=False):
    """Where a redemption is made, as :meth:`Redemptions.redeem_reward`,
    :meth:`Redemptions.redeem_voucher` and :meth:`Vouchers.deduct_value
    <stampsync.stamps.Vouchers.deduct_value>` take it: ``store`` (default: the
    client's), ``invoice_number``, ``channel`` (a :class:`Channel` code), ``request_id``
    (ties the redemption to a PIN authorization) and ``extra_data``."""

    store: int | None
    invoice_number: str | None
    channel: Channel | int | None
    request_id: str | None
    extra_data: dict[str, Any] | None


def spend_fields(
    section: StampsResource,
    *,
    store: int | None = None,
    invoice_number: str | None = None,
    channel: Channel | int | None = None,
    request_id: str | None = None,
    extra_data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The :class:`SpendKeywords` of a call, checked; those left out are not sent."""
    return compact(
        store=section._store(store, required=True),
        invoice_number=optional_text(invoice_number, "invoice_number"),
        channel=channel_code(channel),
        request_id=optional_text(request_id, "request_id"),
        extra_data=extra_data,
    )


class Redemptions(StampsResource):
    """``stamps.redemptions``: redeem rewards, vouchers and promo codes; cancel; authorize.

    Every redemption spends something (stamps, a voucher) and is **not idempotent**:
    never retried once sent. ``request_id`` ties a redemption to a PIN authorization
    (:meth:`authorize`).
    """

    async def redeem_reward(
        self,
        *,
        user: str | int,
        reward: int,
        stamps: int | None = None,
        qty: int | None = None,
        **where: Unpack[SpendKeywords],
    ) -> RedemptionResult:
        """POST /api/v2/redemptions/redeem-reward: spend stamps on a reward (``stamps``
        for a flexible reward). **Not idempotent.**"""
        body = compact(
            user=user_ref(user),
            reward=positive(reward, "reward"),
            stamps=None if stamps is None else positive(stamps, "stamps"),
            qty=None if qty is None else positive(qty, "qty"),
        )
        body.update(spend_fields(self, **where))
        return await self._call(REDEMPTIONS_REDEEM_REWARD, body=body)

    async def redeem_voucher(
        self, *, user: str | int, voucher: int, **where: Unpack[SpendKeywords]
    ) -> RedemptionResult:
        """POST /api/v2/redemptions/redeem-voucher: use one of the customer's vouchers
        (by id). **Not idempotent.**"""
        body = {"user": user_ref(user), "voucher": positive(voucher, "voucher")}
        body.update(spend_fields(self, **where))
        return await self._call(REDEMPTIONS_REDEEM_VOUCHER, body=body)

    async def redeem_multiple_rewards(
        self,
        *,
        user: str | int,
        rewards: Iterable[MultipleRewardRedemption],
        store: int | None = None,
        invoice_number: str | None = None,
        channel: Channel | int | None = None,
    ) -> RedemptionResult:
        """POST /api/v2/redemptions/redeem-multiple-rewards: several rewards in one call.
        **Not idempotent.**"""
        chosen = list(rewards)
        if not chosen:
            raise ConfigurationError("rewards must list at least one reward")
        body = compact(
            user=user_ref(user),
            store=self._store(store, required=True),
            rewards=chosen,
            invoice_number=optional_text(invoice_number, "invoice_number"),
            channel=channel_code(channel),
        )
        return await self._call(REDEMPTIONS_REDEEM_MULTIPLE_REWARDS, body=body)

    async def redeem_promo_code(
        self,
        *,
        user: str | int,
        promo_code: str,
        invoice_number: str,
        store: int | None = None,
        channel: Channel | int | None = None,
        request_id: str | None = None,
    ) -> RedemptionResult:
        """POST /api/v3/redemptions/redeem-promo-code: redeem a promo code.
        **Not idempotent.**"""
        body = compact(
            user=user_ref(user),
            promo_code=text(promo_code, "promo_code"),
            store=self._store(store, required=True),
            invoice_number=text(invoice_number, "invoice_number"),
            channel=channel_code(channel),
            request_id=optional_text(request_id, "request_id"),
        )
        return await self._call(REDEMPTIONS_REDEEM_PROMO_CODE, body=body)

    async def by_voucher_code(
        self,
        *,
        identifier: str | int,
        voucher_code: str,
        voucher_template: int,
        store: int | None = None,
    ) -> RedemptionResult:
        """POST /api/redemptions/by-voucher-code: redeem a voucher by its code.
        **Not idempotent.**"""
        body = compact(
            identifier=user_ref(identifier, "identifier"),
            voucher_code=text(voucher_code, "voucher_code"),
            voucher_template=positive(voucher_template, "voucher_template"),
            store=self._store(store, required=True),
        )
        return await self._call(REDEMPTIONS_BY_VOUCHER_CODE, body=body)

    async def cancel(
        self,
        *,
        id: int,
        create_replacement_voucher: bool | None = None,
    ) -> RedemptionResult:
        """POST /api/redemptions/cancel: cancel a redemption by id; its stamps come back.
        Idempotent: cancelling a cancelled redemption changes nothing."""
        body = compact(id=positive(id, "id"), create_replacement_voucher=create_replacement_voucher)
        return await self._call(REDEMPTIONS_CANCEL, body=body)

    async def authorize(
        self,
        *,
        user: str | int,
        pin: str,
        request_id: str,
        timeout: int,  # noqa: ASYNC109
    ) -> Status:
        """POST /api/redemptions/authorize: authorize the redemption of ``request_id`` with
        the customer's PIN for ``timeout`` seconds. **Not idempotent**: each wrong PIN
        spends one of the customer's few attempts."""
        if not isinstance(pin, str) or not pin.isdigit() or len(pin) != 6:
            raise ConfigurationError("pin must be a string of 6 digits")
        body = {
            "user": user_ref(user),
            "pin": pin,
            "request_id": text(request_id, "request_id"),
            "timeout": positive(timeout, "timeout"),
        }
        return await self._call(REDEMPTIONS_AUTHORIZE, body=body)
