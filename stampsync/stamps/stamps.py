"""Stamps: awarding, cancelling and deducting stamps."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterable, Iterable
from typing import TYPE_CHECKING, Required, TypedDict, Unpack, cast

import msgspec

from .._admission import QuotaStart
from .._endpoint import stamps
from .._validate import (
    DEFAULT_MAX_STAMPS as DEFAULT_MAX_STAMPS,  # its home before _validate; still imported
)
from .._validate import bounded, iso_date, optional_text, positive, text, user_ref
from . import _batches
from ._resource import StampsResource
from .models import AddStampsResult, DeductStampsResult

if TYPE_CHECKING:
    from .._engine.writes import BatchKeywords, BatchReport, Rejected

__all__ = ["AddStampsBody", "AwardKeywords", "StampAward", "StampDeduction", "Stamps"]

STAMPS_ADD = stamps("POST", "/api/stamps/add", AddStampsResult, idempotent=False)
STAMPS_CANCEL = stamps("POST", "/api/stamps/cancel", AddStampsResult, idempotent=True)
MEMBERSHIPS_DEDUCT_STAMPS = stamps(
    "POST", "/api/memberships/deduct-stamps", DeductStampsResult, idempotent=False
)


class _BatchRow(msgspec.Struct, kw_only=True, frozen=True):
    """What every row of a stamps batch has: its key, its customer, and where it came from."""

    key: str
    user: str | int
    row: int | None = None
    """Where the row came from (the CLI gives the input file's line); reported back."""


class StampAward(_BatchRow, kw_only=True, frozen=True):
    """One award of a mass award (:meth:`Stamps.add_many`).

    ``key`` is yours and unique per award (an order id, say): with a journal, a key is
    applied at most once across runs. Values are checked when the batch reaches the
    row, so a bad row fails alone and the batch goes on.
    """

    number_of_stamps: int
    store: int | None = None
    notes: str | None = None
    expiration_date: str | None = None

    def _award_keywords(self) -> AwardKeywords:
        """The award's fields as :meth:`Stamps.add_body` takes them."""
        fields = {name: getattr(self, name) for name in self.__struct_fields__}
        del fields["key"], fields["row"]
        return cast(AwardKeywords, fields)


class StampDeduction(_BatchRow, kw_only=True, frozen=True):
    """One deduction of a mass deduction (:meth:`Stamps.deduct_many`)."""

    stamps: int
    notes: str


class AwardKeywords(TypedDict, total=False):
    """The keyword arguments of an award, as :meth:`Stamps.add` takes them and
    :meth:`Stamps.add_body` checks them."""

    user: Required[str | int]
    number_of_stamps: Required[int]
    store: int | None
    notes: str | None
    expiration_date: dt.date | str | None
    require_email_notification: bool | None


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
        max_stamps: int | None = None,
    ) -> AddStampsBody:
        """Check the arguments of :meth:`add` and build its body, sending nothing.

        ``number_of_stamps`` may be at most ``max_stamps`` (default: the client's
        ``max_stamps`` setting)."""
        limit = self._client.options.max_stamps if max_stamps is None else max_stamps
        return AddStampsBody(
            user=user_ref(user),
            store=positive(self._store(store, required=True), "store"),
            number_of_stamps=bounded(number_of_stamps, "number_of_stamps", limit=limit),
            notes=optional_text(notes, "notes"),
            expiration_date=iso_date(expiration_date, "expiration_date"),
            require_email_notification=require_email_notification,
        )

    async def add(self, **award: Unpack[AwardKeywords]) -> AddStampsResult:
        """POST /api/stamps/add: award stamps to a customer. **Not idempotent.**

        Keyword Args:
            user (str | int): the customer's email or member id.
            number_of_stamps (int): how many stamps, >= 1 and at most the client's
                ``max_stamps`` (10,000 unless raised).
            store (int | None): the store id (defaults to the client's ``store``).
            notes (str | None): why the stamps are awarded.
            expiration_date (date | str | None): when they expire (defaults to the
                merchant's setting).
            require_email_notification (bool | None): email the customer (the server's
                default: yes).

        Never retried once sent: a failure after sending raises
        :class:`~stampsync.errors.AmbiguousWriteError`. For mass awards that must not
        apply twice, use :meth:`add_many` with a journal.
        """
        return await self.send_add(self.add_body(**award))

    async def send_add(
        self, body: AddStampsBody, *, start: QuotaStart | None = None
    ) -> AddStampsResult:
        """POST /api/stamps/add with a body built by :meth:`add_body`; ``start``, a slot
        and quota start taken ahead (:meth:`StampsClient.take_start`), if any."""
        return await self._call(STAMPS_ADD, body=body, start=start)

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
        return await self._call(STAMPS_CANCEL, body=body)

    def deduct_body(self, *, user: str | int, stamps: int, notes: str) -> dict[str, object]:
        """Check the arguments of :meth:`deduct` and build its body, sending nothing."""
        return {
            "user": user_ref(user),
            "stamps": bounded(stamps, "stamps", limit=self._client.options.max_stamps),
            "notes": text(notes, "notes"),
        }

    async def deduct(self, *, user: str | int, stamps: int, notes: str) -> DeductStampsResult:
        """POST /api/memberships/deduct-stamps: take stamps away. **Not idempotent.**

        ``notes`` is required by the API. Never retried once sent.
        """
        return await self.send_deduct(self.deduct_body(user=user, stamps=stamps, notes=notes))

    async def send_deduct(
        self, body: dict[str, object], *, start: QuotaStart | None = None
    ) -> DeductStampsResult:
        """POST /api/memberships/deduct-stamps with a body built by :meth:`deduct_body`;
        ``start`` as :meth:`send_add` takes it."""
        return await self._call(MEMBERSHIPS_DEDUCT_STAMPS, body=body, start=start)

    async def add_many(
        self,
        awards: Iterable[StampAward | Rejected] | AsyncIterable[StampAward | Rejected],
        *,
        max_stamps: int | None = None,
        **batch: Unpack[BatchKeywords],
    ) -> BatchReport:
        """Award stamps to many customers, each award at most once.

        Runs ``concurrent_batch_executions`` awards at a time through the throttle.
        With ``journal``, every key's intent is recorded before its
        request is sent and its outcome after, so a rerun after a crash skips what was
        applied, retries what provably failed, and reports what is ambiguous for review
        (``stampsync stamps journal list``). Each input item yields one
        :class:`~stampsync.batch.Outcome` (``key``, ``status``, ``award_id``, ``error``);
        a bad row fails alone and the batch goes on.

        Args:
            awards: :class:`StampAward` items, any iterable or async iterable (streamed).
            max_stamps: an award of more stamps fails its row, unsent (default: the
                client's ``max_stamps`` setting, 10,000 unless raised).
            batch: ``journal``, ``account`` (default: the client's merchant),
                ``on_outcome``, ``keep_outcomes``, ``stop``, ``check_first`` and
                ``breaker``, as :class:`~stampsync.batch.writes.BatchKeywords` describes.

        One run at a time per key: a second run on the same journal skips the keys the
        first is sending and reports them failed, ``held by another run``.
        """
        return await _batches.add_many(self, awards, batch, max_stamps=max_stamps)

    async def deduct_many(
        self,
        deductions: Iterable[StampDeduction | Rejected] | AsyncIterable[StampDeduction | Rejected],
        **batch: Unpack[BatchKeywords],
    ) -> BatchReport:
        """Deduct stamps from many customers, each deduction at most once.

        The same journal protocol and :class:`~stampsync.batch.writes.BatchKeywords` as
        :meth:`add_many`; ``award_id`` in each outcome is the deduction's id.
        """
        return await _batches.deduct_many(self, deductions, batch)
