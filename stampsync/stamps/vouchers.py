"""Vouchers: issue, validate, read, and deduct value from them."""

from __future__ import annotations

import datetime as dt
from typing import Unpack

from .._endpoint import stamps
from .._request import compact
from .._validate import (
    iso_date,
    optional_finite,
    optional_text,
    positive,
    positive_amount,
    text,
    user_ref,
)
from ..errors import ConfigurationError
from ._resource import StampsResource
from .pos_models import (
    Channel,
    IssueVoucherResult,
    RedemptionResult,
    Voucher,
    VoucherCount,
    VoucherList,
    VoucherValidation,
)
from .redemptions import SpendKeywords, channel_code, spend_fields

__all__ = ["Vouchers"]

VOUCHERS_ISSUE = stamps("POST", "/api/vouchers/issue", IssueVoucherResult, idempotent=False)
VOUCHERS_VALIDATE = stamps("GET", "/api/vouchers/validate", VoucherValidation, idempotent=True)
VOUCHERS_DETAILS = stamps("GET", "/api/vouchers/details", Voucher, idempotent=True)
VOUCHERS_BY_MERCHANT_GROUP = stamps(
    "GET", "/api/vouchers/by-merchant-group", VoucherList, idempotent=True
)
VOUCHERS_COUNT_BY_MERCHANT_GROUP = stamps(
    "GET", "/api/vouchers/count-by-merchant-group", VoucherCount, idempotent=True
)
VOUCHERS_DEDUCT_VALUE = stamps(
    "POST", "/api/vouchers/deduct-value", RedemptionResult, idempotent=False
)


def _amount(value: object, name: str, limit: int | float, *, required: bool) -> int | float | None:
    if value is None and not required:
        return None
    return positive_amount(value, name, limit=limit)


class Vouchers(StampsResource):
    """``stamps.vouchers``: issue and validate vouchers, list a customer's, deduct value."""

    async def issue(
        self,
        *,
        user: str | int,
        voucher_template: int,
        start_date: dt.date | str,
        quantity: int,
        notes: str | None = None,
        value: int | float | None = None,
    ) -> IssueVoucherResult:
        """POST /api/vouchers/issue: give a customer vouchers of a template.
        **Not idempotent**: a repeat issues more."""
        start = iso_date(start_date, "start_date")
        if start is None:
            raise ConfigurationError("start_date is required (YYYY-MM-DD)")
        body = compact(
            user=user_ref(user),
            voucher_template=positive(voucher_template, "voucher_template"),
            start_date=start,
            quantity=positive(quantity, "quantity"),
            notes=optional_text(notes, "notes"),
            value=_amount(value, "value", self._client.options.max_value, required=False),
        )
        return await self._call(VOUCHERS_ISSUE, body=body)

    async def validate(
        self,
        *,
        voucher_code: str,
        store: int | None = None,
        merchant: int | None = None,
        user: str | int | None = None,
        transaction_value: int | float | None = None,
    ) -> VoucherValidation:
        """GET /api/vouchers/validate: whether a voucher code can be redeemed (by ``user``,
        for ``transaction_value``)."""
        query = compact(
            voucher_code=text(voucher_code, "voucher_code"),
            merchant=self._merchant(merchant),
            store=self._store(store, required=True),
            user=None if user is None else user_ref(user),
            transaction_value=optional_finite(
                transaction_value, "transaction_value", limit=self._client.options.max_value
            ),
        )
        return await self._call(VOUCHERS_VALIDATE, query=query)

    async def details(
        self,
        *,
        user: str | int,
        code: str,
        image_size: str | None = None,
        landscape_image_size: str | None = None,
    ) -> Voucher:
        """GET /api/vouchers/details: one of a customer's vouchers, by code."""
        query = compact(
            user=user_ref(user),
            code=text(code, "code"),
            image_size=image_size,
            landscape_image_size=landscape_image_size,
        )
        return await self._call(VOUCHERS_DETAILS, query=query)

    async def by_merchant_group(
        self,
        *,
        user: str | int,
        channel: Channel | int | None = None,
        image_size: str | None = None,
        landscape_image_size: str | None = None,
    ) -> VoucherList:
        """GET /api/vouchers/by-merchant-group: a customer's vouchers in the merchant group."""
        query = compact(
            user=user_ref(user),
            channel=channel_code(channel),
            image_size=image_size,
            landscape_image_size=landscape_image_size,
        )
        return await self._call(VOUCHERS_BY_MERCHANT_GROUP, query=query)

    async def count_by_merchant_group(self, *, user: str | int) -> int:
        """GET /api/vouchers/count-by-merchant-group: how many vouchers a customer has."""
        answer = await self._call(VOUCHERS_COUNT_BY_MERCHANT_GROUP, query={"user": user_ref(user)})
        return answer.count

    async def deduct_value(
        self, *, user: str | int, voucher: int, value: int | float, **where: Unpack[SpendKeywords]
    ) -> RedemptionResult:
        """POST /api/vouchers/deduct-value: spend part of a dynamic-value voucher.
        **Not idempotent**: a repeat deducts twice. ``where``: the
        :class:`~stampsync.stamps.redemptions.SpendKeywords`."""
        body = {
            "user": user_ref(user),
            "voucher": positive(voucher, "voucher"),
            "value": _amount(value, "value", self._client.options.max_value, required=True),
        }
        body.update(spend_fields(self, **where))
        return await self._call(VOUCHERS_DEDUCT_VALUE, body=body)
