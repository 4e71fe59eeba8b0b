"""Stamps: awarding, cancelling and deducting stamps."""

from __future__ import annotations

import datetime as dt

import msgspec

from ._resource import StampsResource
from ._validate import iso_date, positive, user_ref
from .models import AddStampsResult

__all__ = ["AddStampsBody", "Stamps"]


class AddStampsBody(msgspec.Struct, omit_defaults=True, kw_only=True):
    """Body of ``POST /api/stamps/add``."""

    user: str | int
    store: int
    number_of_stamps: int
    notes: str | None = None
    expiration_date: str | None = None
    require_email_notification: bool | None = None


class Stamps(StampsResource):
    """``stamps.stamps``: add, cancel and deduct stamps."""

    async def add(
        self,
        *,
        user: str | int,
        number_of_stamps: int,
        store: int | None = None,
        notes: str | None = None,
        expiration_date: dt.date | str | None = None,
        require_email_notification: bool | None = None,
    ) -> AddStampsResult:
        """POST /api/stamps/add: award stamps to a customer. **Not idempotent.**

        Never retried once sent: a failure after sending raises
        :class:`~stampsync.errors.AmbiguousWriteError`. Use ``add_many`` with a journal
        for mass awards that must not be applied twice.
        """
        body = AddStampsBody(
            user=user_ref(user),
            store=positive(self._store(store, required=True), "store"),
            number_of_stamps=positive(number_of_stamps, "number_of_stamps"),
            notes=notes,
            expiration_date=iso_date(expiration_date, "expiration_date"),
            require_email_notification=require_email_notification,
        )
        return await self._call(
            "POST", "/api/stamps/add", AddStampsResult, body=body, idempotent=False
        )
