"""Stamps: awarding, cancelling and deducting stamps."""

from __future__ import annotations

import datetime as dt

import msgspec

from .._validate import iso_date, optional_text, positive, text, user_ref
from ._resource import StampsResource
from .models import AddStampsResult, DeductStampsResult

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

    def add_body(
        self,
        *,
        user: str | int,
        number_of_stamps: int,
        store: int | None = None,
        notes: str | None = None,
        expiration_date: dt.date | str | None = None,
        require_email_notification: bool | None = None,
    ) -> AddStampsBody:
        """Check the arguments of :meth:`add` and build its body, sending nothing."""
        return AddStampsBody(
            user=user_ref(user),
            store=positive(self._store(store, required=True), "store"),
            number_of_stamps=positive(number_of_stamps, "number_of_stamps"),
            notes=optional_text(notes, "notes"),
            expiration_date=iso_date(expiration_date, "expiration_date"),
            require_email_notification=require_email_notification,
        )

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

        Args:
            user: the customer's email or member id.
            number_of_stamps: how many stamps, >= 1.
            store: the store id (defaults to the client's ``store``).
            notes: why the stamps are awarded.
            expiration_date: when they expire (defaults to the merchant's setting).
            require_email_notification: email the customer (the server's default: yes).

        Never retried once sent: a failure after sending raises
        :class:`~stampsync.errors.AmbiguousWriteError`. For mass awards that must not
        apply twice, use :meth:`add_many` with a journal.
        """
        body = self.add_body(
            user=user,
            number_of_stamps=number_of_stamps,
            store=store,
            notes=notes,
            expiration_date=expiration_date,
            require_email_notification=require_email_notification,
        )
        return await self.send_add(body)

    async def send_add(self, body: AddStampsBody) -> AddStampsResult:
        """POST /api/stamps/add with a body built by :meth:`add_body`."""
        return await self._call(
            "POST", "/api/stamps/add", AddStampsResult, body=body, idempotent=False
        )

    async def cancel(
        self, *, user: str | int, award_id: int, store: int | None = None
    ) -> AddStampsResult:
        """POST /api/stamps/cancel: cancel an award by its id. Idempotent.

        Cancelling the same award again changes nothing, so failures are retried.
        """
        body = {
            "user": user_ref(user),
            "id": positive(award_id, "award_id"),
            **({"store": s} if (s := self._store(store, required=False)) is not None else {}),
        }
        return await self._call(
            "POST", "/api/stamps/cancel", AddStampsResult, body=body, idempotent=True
        )

    async def deduct(self, *, user: str | int, stamps: int, notes: str) -> DeductStampsResult:
        """POST /api/memberships/deduct-stamps: take stamps away. **Not idempotent.**

        ``notes`` is required by the API. Never retried once sent.
        """
        body = {
            "user": user_ref(user),
            "stamps": positive(stamps, "stamps"),
            "notes": text(notes, "notes"),
        }
        return await self._call(
            "POST",
            "/api/memberships/deduct-stamps",
            DeductStampsResult,
            body=body,
            idempotent=False,
        )
