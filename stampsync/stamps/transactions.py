"""Transactions: what a point of sale sends, and what stamps are earned from."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from .._endpoint import stamps
from .._options import BREAKER_THRESHOLD
from .._paging import KeysetPages
from .._request import compact
from .._validate import (
    MAX_PEOPLE,
    bounded,
    finite,
    iso_date,
    optional_finite,
    optional_text,
    positive,
    positive_amount,
    text,
    user_ref,
)
from ..errors import AmbiguousWriteError, ConfigurationError, StampsyncError, ValidationError
from ._resource import StampsResource
from .pos_models import (
    Channel,
    EarningsPreview,
    IssueVoucher,
    Item,
    Payment,
    RewardRedemption,
    Transaction,
    TransactionDetails,
    TransactionResult,
    TransactionType,
    UserTransactions,
    VoucherRedemption,
)

if TYPE_CHECKING:
    from .._options import ClientOptions
    from ..batch.fanout import StopEvent
    from ..batch.journal import WriteJournal
    from ..batch.writes import BatchReport, OnOutcome, Rejected

__all__ = ["PosTransaction", "TransactionBody", "Transactions"]

log = logging.getLogger("stampsync")

TRANSACTIONS_ADD = stamps("POST", "/api/v2/transactions/add", TransactionResult, idempotent=False)
TRANSACTIONS_ADD_WITH_REDEMPTIONS = stamps(
    "POST", "/api/v2/transactions/add-with-redemptions", TransactionResult, idempotent=False
)
TRANSACTIONS_ADD_OR_UPDATE = stamps(
    "POST", "/api/v2/transactions/add-or-update", TransactionResult, idempotent=True
)
TRANSACTIONS_CANCEL = stamps(
    "POST", "/api/v2/transactions/cancel", TransactionResult, idempotent=True
)
TRANSACTIONS_MODIFY = stamps(
    "POST", "/api/v2/transactions/modify", TransactionResult, idempotent=False
)
TRANSACTIONS_DETAILS = stamps(
    "GET", "/api/transactions/details", TransactionDetails, idempotent=True
)
TRANSACTIONS_BY_USER = stamps("GET", "/api/transactions/by-user", UserTransactions, idempotent=True)
TRANSACTIONS_PREVIEW_EARNINGS = stamps(
    "GET", "/api/v2/transactions/preview-earnings", EarningsPreview, idempotent=True
)

#: Pages of ``by-user`` read when looking for a transaction after a lost answer.
LOOKUP_PAGES = 10
#: The documented answer of ``add-or-update`` for an invoice that exists with its items.
ALREADY_COMPLETE = "already complete"


class TransactionBody(msgspec.Struct, omit_defaults=True, kw_only=True, frozen=True):
    """Body of ``POST /api/v2/transactions/add`` (and of ``add-or-update`` and
    ``add-with-redemptions``, which take the same fields and a few more)."""

    store: int
    invoice_number: str
    total_value: int | float
    number_of_people: int
    created: str
    user: str | int | None = None
    sub_total: int | float | None = None
    discount: int | float | None = None
    service_charge: int | float | None = None
    tax: int | float | None = None
    channel: int | None = None
    type: int | None = None
    items: list[Item] | None = None
    payments: list[Payment] | None = None
    stamps: int | None = None
    require_email_notification: bool | None = None
    employee_code: str | None = None
    extra_data: dict[str, Any] | None = None
    reward_redemptions: list[RewardRedemption] | None = None
    voucher_redemptions: list[VoucherRedemption] | None = None
    issue_voucher: IssueVoucher | None = None


class PosTransaction(msgspec.Struct, kw_only=True, frozen=True):
    """One transaction of a day-end import (:meth:`Transactions.add_many`).

    ``key`` defaults to the invoice's natural key, ``"<store>:<invoice_number>:<day>"``
    (the day of ``created``): with a journal, a key is applied at most once across runs.
    Values are checked when the batch reaches the row, so a bad row fails alone.
    """

    invoice_number: str
    total_value: int | float
    number_of_people: int
    created: str
    store: int | None = None
    user: str | int | None = None
    key: str | None = None
    sub_total: int | float | None = None
    discount: int | float | None = None
    service_charge: int | float | None = None
    tax: int | float | None = None
    channel: int | None = None
    type: int | None = None
    items: list[Item] | None = None
    payments: list[Payment] | None = None
    stamps: int | None = None
    employee_code: str | None = None
    extra_data: dict[str, Any] | None = None
    row: int | None = None
    """Where the row came from (the CLI gives the input file's line); reported back."""

    def natural_key(self, default_store: int | None = None) -> str:
        """``"<store>:<invoice_number>:<day>"``, the key an unkeyed row is journaled by."""
        created: object = self.created
        try:
            if not isinstance(created, dt.datetime):
                created = dt.datetime.fromisoformat(str(created))
            day = created.date().isoformat()
        except ValueError:
            day = str(self.created)  # the row fails its check later; the key stays unique
        return (
            f"{self.store if self.store is not None else default_store}:{self.invoice_number}:{day}"
        )


def created_text(value: object, name: str = "created") -> str:
    """An ISO 8601 date-time with its offset, as the API wants ``created``.

    A naive ``datetime`` is refused: the day it falls on decides the invoice's
    uniqueness, and a guess at the time zone could move it to another day.
    """
    if isinstance(value, dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ConfigurationError(f"{name} must carry a time zone (an aware datetime)")
        return value.isoformat(timespec="seconds")
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is not None:
            return value
    raise ConfigurationError(
        f"{name} must be an aware datetime or ISO 8601 text with an offset "
        f"(2013-02-15T13:01:01+07), got {value!r}"
    )


def _code(value: object, kind: type[Channel] | type[TransactionType], name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigurationError(f"{name} must be an integer code ({kind.__name__}), got {value!r}")
    return int(value)


def _items(
    items: Iterable[Item] | None, limits: ClientOptions, *, signed: bool = False
) -> list[Item] | None:
    """The items, each amount finite and within ``max_value`` (negative only as the
    deltas of ``modify``), each count of stamps within ``max_stamps``."""
    if items is None:
        return None
    out = list(items)
    for at, item in enumerate(out):
        if not isinstance(item, Item):
            raise ConfigurationError(f"items must be stampsync.stamps.Item objects, got {item!r}")
        where = f"items[{at}]"
        finite(item.quantity, f"{where}.quantity", limit=limits.max_value, signed=signed)
        for name in ("subtotal", "price"):
            optional_finite(
                getattr(item, name), f"{where}.{name}", limit=limits.max_value, signed=signed
            )
        if item.stamps_subtotal is not None:
            finite(
                item.stamps_subtotal,
                f"{where}.stamps_subtotal",
                limit=limits.max_stamps,
                signed=signed,
                setting="max_stamps",
            )
    return out


def _payments(payments: Iterable[Payment] | None, limits: ClientOptions) -> list[Payment] | None:
    """The payments, each value finite, not negative and within ``max_value``."""
    if payments is None:
        return None
    out = list(payments)
    for at, payment in enumerate(out):
        if not isinstance(payment, Payment):
            raise ConfigurationError(
                f"payments must be stampsync.stamps.Payment objects, got {payment!r}"
            )
        finite(payment.value, f"payments[{at}].value", limit=limits.max_value)
    return out


def _money(value: object, name: str, limits: ClientOptions) -> int | float:
    return finite(value, name, limit=limits.max_value)


def _optional_money(value: object, name: str, limits: ClientOptions) -> int | float | None:
    return optional_finite(value, name, limit=limits.max_value)


def _instant(created: object) -> int | None:
    """The Unix time of ``created`` (ISO text or a Unix time), or None."""
    if isinstance(created, int) and not isinstance(created, bool):
        return created
    if isinstance(created, str):
        try:
            return int(dt.datetime.fromisoformat(created).timestamp())
        except ValueError:
            return None
    return None


class Transactions(StampsResource):
    """``stamps.transactions``: add, update, cancel, modify and read transactions."""

    def add_body(
        self,
        *,
        invoice_number: str,
        total_value: int | float,
        number_of_people: int,
        created: dt.datetime | str,
        store: int | None = None,
        user: str | int | None = None,
        sub_total: int | float | None = None,
        discount: int | float | None = None,
        service_charge: int | float | None = None,
        tax: int | float | None = None,
        channel: Channel | int | None = None,
        type: TransactionType | int | None = None,
        items: Iterable[Item] | None = None,
        payments: Iterable[Payment] | None = None,
        stamps: int | None = None,
        require_email_notification: bool | None = None,
        employee_code: str | None = None,
        extra_data: dict[str, Any] | None = None,
    ) -> TransactionBody:
        """Check the arguments of :meth:`add` and build its body, sending nothing."""
        limits = self._client.options
        store_id = positive(self._store(store, required=True), "store")
        return TransactionBody(
            store=store_id,
            invoice_number=text(invoice_number, "invoice_number").strip(),
            total_value=_money(total_value, "total_value", limits),
            number_of_people=bounded(
                number_of_people, "number_of_people", limit=MAX_PEOPLE, setting=None
            ),
            created=created_text(created),
            user=None if user is None else user_ref(user),
            sub_total=_optional_money(sub_total, "sub_total", limits),
            discount=_optional_money(discount, "discount", limits),
            service_charge=_optional_money(service_charge, "service_charge", limits),
            tax=_optional_money(tax, "tax", limits),
            channel=_code(channel, Channel, "channel"),
            type=_code(type, TransactionType, "type"),
            items=_items(items, limits),
            payments=_payments(payments, limits),
            stamps=None if stamps is None else bounded(stamps, "stamps", limit=limits.max_stamps),
            require_email_notification=require_email_notification,
            employee_code=optional_text(employee_code, "employee_code"),
            extra_data=extra_data,
        )

    async def add(
        self,
        *,
        invoice_number: str,
        total_value: int | float,
        number_of_people: int,
        created: dt.datetime | str,
        store: int | None = None,
        user: str | int | None = None,
        sub_total: int | float | None = None,
        discount: int | float | None = None,
        service_charge: int | float | None = None,
        tax: int | float | None = None,
        channel: Channel | int | None = None,
        type: TransactionType | int | None = None,
        items: Iterable[Item] | None = None,
        payments: Iterable[Payment] | None = None,
        stamps: int | None = None,
        require_email_notification: bool | None = None,
        employee_code: str | None = None,
        extra_data: dict[str, Any] | None = None,
        resolve: bool = True,
    ) -> TransactionResult:
        """POST /api/v2/transactions/add: record a sale; the customer earns stamps.

        ``invoice_number`` must be unique per store and day. Not idempotent, and never
        retried once sent; but when the answer is lost after sending, the invoice is
        the transaction's natural key, so (with ``resolve``, the default) the client
        finds out: it looks the invoice up in the customer's transactions
        (``by-user``), and if it is not there it replays the same body through the
        ``add-or-update`` upsert, which cannot record it twice. The result is then
        marked ``recovered``. Only when that lookup fails too does
        :class:`~stampsync.errors.AmbiguousWriteError` remain.

        Args:
            invoice_number: the POS's transaction number.
            total_value: the grand total. Every amount (totals, items, payments) must
                be a finite number, not negative, and at most the client's ``max_value``.
            number_of_people: how many people the sale was for.
            created: when the sale happened, an aware ``datetime`` or ISO 8601 with
                an offset.
            store: the store id (defaults to the client's ``store``).
            user: the customer's email or member id; leave out for an open transaction.
            channel: a :class:`Channel` code.
            type: a :class:`TransactionType` code.
            items: :class:`Item` lines.
            payments: :class:`Payment` lines.
            stamps: a custom number of stamps instead of the merchant's rule (at most
                the client's ``max_stamps``).
            resolve: look the invoice up after a lost answer (see above).
        """
        body = self.add_body(
            invoice_number=invoice_number,
            total_value=total_value,
            number_of_people=number_of_people,
            created=created,
            store=store,
            user=user,
            sub_total=sub_total,
            discount=discount,
            service_charge=service_charge,
            tax=tax,
            channel=channel,
            type=type,
            items=items,
            payments=payments,
            stamps=stamps,
            require_email_notification=require_email_notification,
            employee_code=employee_code,
            extra_data=extra_data,
        )
        return await self.send_add(body, resolve=resolve)

    async def send_add(self, body: TransactionBody, *, resolve: bool = True) -> TransactionResult:
        """POST /api/v2/transactions/add with a body built by :meth:`add_body`; a lost
        answer is resolved as :meth:`add` says."""
        try:
            return await self._call(TRANSACTIONS_ADD, body=body)
        except AmbiguousWriteError as lost:
            if not resolve:
                raise
            return await self.resolve(body, lost)

    async def resolve(self, body: TransactionBody, lost: AmbiguousWriteError) -> TransactionResult:
        """What became of an ``add`` whose answer was lost: the transaction, marked
        ``recovered``; or ``lost`` raised again when the API cannot tell.

        1. With a customer, their transactions of the ``created`` day are searched for
           the invoice (same ``invoice_number``, same ``created`` instant).
        2. Otherwise, or if not found, the same body goes to ``add-or-update``: an
           upsert on (store, invoice_number), so it adds the transaction if the lost
           request did not, and cannot add a second. An answer that the invoice's
           details are already complete means the transaction exists.
        """
        try:
            return await self.settle(body)
        except StampsyncError as failed:
            log.warning(
                "transactions.add: invoice %r stays ambiguous: the lookup failed (%s)",
                body.invoice_number,
                type(failed).__name__,
            )
            raise lost from failed

    async def settle(self, body: TransactionBody) -> TransactionResult:
        """Make sure the transaction of ``body`` exists exactly once, sending no ``add``:
        find it by its invoice, else write it through the ``add-or-update`` upsert (see
        :meth:`resolve`). Raises what the lookup or the upsert raised."""
        found = await self.find(body) if body.user is not None else None
        if found is not None:
            log.info("transactions.add: invoice %r found after a lost answer", body.invoice_number)
            return TransactionResult(transaction=found, recovered=True)
        try:
            replayed = await self._call(TRANSACTIONS_ADD_OR_UPDATE, body=body)
        except ValidationError as refused:
            if not _already_complete(refused):
                raise
            found = await self.find(body) if body.user is not None else None
            return TransactionResult(
                transaction=found
                or Transaction(invoice_number=body.invoice_number, value=body.total_value),
                recovered=True,
            )
        return msgspec.structs.replace(replayed, recovered=True)

    async def resolve_journal(self, journal: str | Path | WriteJournal) -> dict[str, int | None]:
        """Settle the ambiguous ``transactions.add`` keys of a journal by their invoices.

        ``journal`` is a SQLite path, a ``postgresql://`` URL (this client's account) or
        an open journal. A key is ambiguous when its request was sent and no answer was
        journaled (a lost answer the lookup could not resolve then, or a run killed
        mid-request). Each is settled as :meth:`settle` does and marked applied, with the
        transaction's id; one whose lookup fails again stays ambiguous. Keys a live run
        is sending are left alone (they are ``pending``, not ambiguous). Returns the keys
        settled and their transaction ids.
        """
        from ..batch.transactions import resolve_journal

        return await resolve_journal(self, journal)

    async def find(self, body: TransactionBody) -> Transaction | None:
        """The customer's transaction with ``body``'s invoice and ``created`` instant,
        searched on the ``created`` day through ``GET /api/transactions/by-user``."""
        if body.user is None:
            return None
        try:
            day = dt.datetime.fromisoformat(body.created).date()
        except ValueError:
            return None  # not from add_body (a hand-edited journal, say): nothing to match
        instant = _instant(body.created)
        cursor: int | None = None
        for _ in range(LOOKUP_PAGES):
            page = await self.by_user(
                user=body.user, last_transaction_id=cursor, start_date=day, end_date=day
            )
            for transaction in page.transactions:
                if transaction.invoice_number != body.invoice_number:
                    continue
                seen = _instant(transaction.created)
                if seen is None or instant is None or seen == instant:
                    return transaction
            if not page.has_next or not page.transactions:
                return None
            cursor = page.transactions[-1].id
        return None

    async def add_many(
        self,
        rows: Iterable[PosTransaction | Rejected] | AsyncIterable[PosTransaction | Rejected],
        *,
        journal: str | Path | WriteJournal | None = None,
        on_outcome: OnOutcome | None = None,
        keep_outcomes: bool = True,
        stop: StopEvent | None = None,
        check_first: bool = True,
        breaker: int = BREAKER_THRESHOLD,
        recovered: set[str] | None = None,
        settle_first: bool = True,
    ) -> BatchReport:
        """Add many transactions (a POS day-end import), each at most once.

        The same protocol as :meth:`Stamps.add_many <stampsync.stamps.Stamps.add_many>`:
        with ``journal``, each key's intent is recorded before its request and its
        outcome after, so a rerun after a crash skips what was applied and never
        repeats what is ambiguous. On top of it, a lost answer is resolved by the
        invoice (see :meth:`add`): such a row is ``applied`` with the transaction's id,
        and its key is added to ``recovered`` (and counted in ``counts["recovered"]``).
        ``award_id`` in each outcome is the transaction's id. With ``settle_first``
        (the default), the journal's ambiguous keys from earlier runs (a run killed
        mid-request, say) are first settled by their invoices (:meth:`resolve_journal`),
        so a rerun reports them applied.
        """
        from ..batch.transactions import add_many

        return await add_many(
            self,
            rows,
            journal=journal,
            on_outcome=on_outcome,
            keep_outcomes=keep_outcomes,
            stop=stop,
            check_first=check_first,
            breaker=breaker,
            recovered=recovered,
            settle_first=settle_first,
        )

    async def add_with_redemptions(
        self,
        *,
        invoice_number: str,
        total_value: int | float,
        number_of_people: int,
        created: dt.datetime | str,
        store: int | None = None,
        user: str | int | None = None,
        reward_redemptions: Iterable[RewardRedemption] | None = None,
        voucher_redemptions: Iterable[VoucherRedemption] | None = None,
        issue_voucher: IssueVoucher | None = None,
        **fields: Any,
    ) -> TransactionResult:
        """POST /api/v2/transactions/add-with-redemptions: a sale, with rewards and
        vouchers redeemed and a voucher issued in the same call. **Not idempotent.**

        Takes every argument of :meth:`add` (``fields``) and the three lists. Never
        retried once sent; a lost answer raises
        :class:`~stampsync.errors.AmbiguousWriteError` (the redemptions have no key to
        look them up by).
        """
        fields.pop("resolve", None)
        base = self.add_body(
            invoice_number=invoice_number,
            total_value=total_value,
            number_of_people=number_of_people,
            created=created,
            store=store,
            user=user,
            **fields,
        )
        limits = self._client.options
        rewards = None if reward_redemptions is None else list(reward_redemptions)
        for at, reward in enumerate(rewards or ()):
            if reward.stamps is not None:
                name = f"reward_redemptions[{at}].stamps"
                bounded(reward.stamps, name, limit=limits.max_stamps)
        if issue_voucher is not None and issue_voucher.value is not None:
            positive_amount(issue_voucher.value, "issue_voucher.value", limit=limits.max_value)
        body = msgspec.structs.replace(
            base,
            reward_redemptions=rewards,
            voucher_redemptions=None if voucher_redemptions is None else list(voucher_redemptions),
            issue_voucher=issue_voucher,
        )
        return await self._call(TRANSACTIONS_ADD_WITH_REDEMPTIONS, body=body)

    async def add_or_update(
        self,
        *,
        invoice_number: str,
        items: Iterable[Item],
        store: int | None = None,
        total_value: int | float | None = None,
        number_of_people: int | None = None,
        created: dt.datetime | str | None = None,
        **fields: Any,
    ) -> TransactionResult:
        """POST /api/v2/transactions/add-or-update: add a transaction, or complete the
        items of one added before. Idempotent: an upsert on (store, invoice_number).

        To update, ``store``, ``invoice_number`` and ``items`` suffice (the items must
        sum to the original value). To add, give what :meth:`add` needs.
        """
        store_id = positive(self._store(store, required=True), "store")
        if total_value is None and number_of_people is None and created is None and not fields:
            body: object = {
                "store": store_id,
                "invoice_number": text(invoice_number, "invoice_number").strip(),
                "items": _items(items, self._client.options),
            }
        else:
            if total_value is None or number_of_people is None or created is None:
                raise ConfigurationError(
                    "to add, give total_value, number_of_people and created as well"
                )
            fields.pop("resolve", None)
            body = self.add_body(
                invoice_number=invoice_number,
                total_value=total_value,
                number_of_people=number_of_people,
                created=created,
                store=store_id,
                items=items,
                **fields,
            )
        return await self._call(TRANSACTIONS_ADD_OR_UPDATE, body=body)

    async def send_add_or_update(self, body: TransactionBody) -> TransactionResult:
        """POST /api/v2/transactions/add-or-update with a body built by :meth:`add_body`."""
        return await self._call(TRANSACTIONS_ADD_OR_UPDATE, body=body)

    async def cancel(self, *, invoice_number: str, date: dt.date | str) -> TransactionResult:
        """POST /api/v2/transactions/cancel: cancel the transaction of an invoice and day;
        its stamps are taken back. Idempotent: cancelling again changes nothing."""
        body = {
            "invoice_number": text(invoice_number, "invoice_number").strip(),
            "date": iso_date(date, "date"),
        }
        if body["date"] is None:
            raise ConfigurationError("date is required (YYYY-MM-DD)")
        return await self._call(TRANSACTIONS_CANCEL, body=body)

    async def modify(
        self,
        *,
        id: int,
        total_value: int | float,
        subtotal: int | float,
        items: Iterable[Item],
    ) -> TransactionResult:
        """POST /api/v2/transactions/modify: take value and items off a transaction (the
        amounts are negative deltas). **Not idempotent**: a repeat takes them off twice."""
        limits = self._client.options
        body = {
            "id": positive(id, "id"),
            "total_value": finite(total_value, "total_value", limit=limits.max_value, signed=True),
            "subtotal": finite(subtotal, "subtotal", limit=limits.max_value, signed=True),
            "items": _items(items, limits, signed=True),
        }
        return await self._call(TRANSACTIONS_MODIFY, body=body)

    async def details(self, *, transaction_id: int) -> Transaction:
        """GET /api/transactions/details: one transaction with its items and payments."""
        query: dict[str, object] = {"transaction_id": positive(transaction_id, "transaction_id")}
        return (await self._call(TRANSACTIONS_DETAILS, query=query)).transaction

    async def by_user(
        self,
        *,
        user: str | int,
        last_transaction_id: int | None = None,
        merchant_id: Sequence[int] | None = None,
        channel: Sequence[Channel | int] | None = None,
        start_date: dt.date | str | None = None,
        end_date: dt.date | str | None = None,
    ) -> UserTransactions:
        """GET /api/transactions/by-user: one page of a customer's transactions, newest
        first; the next page is the one after the last id (``has_next`` says if any).
        ``merchant_id=[0]`` covers every merchant of the group."""
        query = compact(
            user=user_ref(user),
            last_transaction_id=last_transaction_id,
            merchant_id=None if merchant_id is None else [int(m) for m in merchant_id],
            channel=None if channel is None else [int(c) for c in channel],
            start_date=iso_date(start_date, "start_date"),
            end_date=iso_date(end_date, "end_date"),
        )
        return await self._call(TRANSACTIONS_BY_USER, query=query)

    def all_by_user(
        self,
        *,
        user: str | int,
        merchant_id: Sequence[int] | None = None,
        channel: Sequence[Channel | int] | None = None,
        start_date: dt.date | str | None = None,
        end_date: dt.date | str | None = None,
        prefetch: int = 2,
    ) -> KeysetPages[Transaction, int]:
        """GET /api/transactions/by-user, every page: an async iterator over all of a
        customer's transactions, newest first, fetching up to ``prefetch`` pages ahead."""
        user = user_ref(user)

        async def fetch(cursor: int | None) -> tuple[list[Transaction], int | None]:
            page = await self.by_user(
                user=user,
                last_transaction_id=cursor,
                merchant_id=merchant_id,
                channel=channel,
                start_date=start_date,
                end_date=end_date,
            )
            last = page.transactions[-1].id if page.transactions else None
            return page.transactions, last if page.has_next else None

        return KeysetPages(fetch, prefetch=prefetch)

    async def preview_earnings(
        self,
        *,
        total_value: int | float,
        store: int | None = None,
        user: str | int | None = None,
        sub_total: int | float | None = None,
        discount: int | float | None = None,
        service_charge: int | float | None = None,
        tax: int | float | None = None,
        channel: Channel | int | None = None,
        type: TransactionType | int | None = None,
        items: Iterable[Item] | None = None,
        payments: Iterable[Payment] | None = None,
    ) -> EarningsPreview:
        """GET /api/v2/transactions/preview-earnings: the stamps a transaction would earn.

        The document says GET and shows a JSON body (items and payments do not fit a
        query string): the fields go as a JSON body on the GET.
        """
        limits = self._client.options
        body = compact(
            store=positive(self._store(store, required=True), "store"),
            total_value=_money(total_value, "total_value", limits),
            user=None if user is None else user_ref(user),
            sub_total=_optional_money(sub_total, "sub_total", limits),
            discount=_optional_money(discount, "discount", limits),
            service_charge=_optional_money(service_charge, "service_charge", limits),
            tax=_optional_money(tax, "tax", limits),
            channel=_code(channel, Channel, "channel"),
            type=_code(type, TransactionType, "type"),
            items=_items(items, limits),
            payments=_payments(payments, limits),
        )
        return await self._call(TRANSACTIONS_PREVIEW_EARNINGS, body=body)


def _already_complete(error: ValidationError) -> bool:
    return any(ALREADY_COMPLETE in message.lower() for message in error.errors.values()) or (
        ALREADY_COMPLETE in str(error).lower()
    )
