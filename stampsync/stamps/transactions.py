"""Transactions: what a point of sale sends, and what stamps are earned from."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Required, TypedDict, Unpack, cast

import msgspec

from .._admission import QuotaStart
from .._endpoint import stamps
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
    from .._engine.journal import WriteJournal
    from .._engine.writes import BatchKeywords, BatchReport, Rejected
    from .._options import ClientOptions

__all__ = [
    "ByUserFilters",
    "EarningsKeywords",
    "PosTransaction",
    "SaleKeywords",
    "TransactionBody",
    "Transactions",
]

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


class _Sale(msgspec.Struct, kw_only=True, frozen=True):
    """What a point of sale writes of a sale, the same in a request body and in a
    day-end import row (which differ only in their store and what they add)."""

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
    employee_code: str | None = None
    extra_data: dict[str, Any] | None = None

    def _sale_keywords(self, store: int | None) -> SaleKeywords:
        """The sale's fields, and ``store``, as :meth:`Transactions.add_body` takes them."""
        fields = {name: getattr(self, name) for name in _SALE_FIELDS}
        return cast(SaleKeywords, {**fields, "store": store})


_SALE_FIELDS = _Sale.__struct_fields__


class TransactionBody(_Sale, omit_defaults=True, kw_only=True, frozen=True):
    """Body of ``POST /api/v2/transactions/add`` (and of ``add-or-update`` and
    ``add-with-redemptions``, which take the same fields and a few more)."""

    store: int
    require_email_notification: bool | None = None
    reward_redemptions: list[RewardRedemption] | None = None
    voucher_redemptions: list[VoucherRedemption] | None = None
    issue_voucher: IssueVoucher | None = None


class EarningsKeywords(TypedDict, total=False):
    """The fields of a sale that decide the stamps it earns, as
    :meth:`Transactions.preview_earnings` takes them (and, with the rest of the sale,
    :meth:`Transactions.add`); see :meth:`Transactions.add` for each one's meaning."""

    total_value: Required[int | float]
    store: int | None
    user: str | int | None
    sub_total: int | float | None
    discount: int | float | None
    service_charge: int | float | None
    tax: int | float | None
    channel: Channel | int | None
    type: TransactionType | int | None
    items: Iterable[Item] | None
    payments: Iterable[Payment] | None


class SaleKeywords(EarningsKeywords, total=False):
    """The keyword arguments of a sale, as :meth:`Transactions.add` takes them and
    :meth:`Transactions.add_body` checks them (see there for each one's meaning)."""

    invoice_number: Required[str]
    number_of_people: Required[int]
    created: Required[dt.datetime | str]
    stamps: int | None
    require_email_notification: bool | None
    employee_code: str | None
    extra_data: dict[str, Any] | None


class ByUserFilters(TypedDict, total=False):
    """Which of a customer's transactions :meth:`Transactions.by_user` and
    :meth:`Transactions.all_by_user` list."""

    merchant_id: Sequence[int] | None
    channel: Sequence[Channel | int] | None
    start_date: dt.date | str | None
    end_date: dt.date | str | None


class PosTransaction(_Sale, kw_only=True, frozen=True):
    """One transaction of a day-end import (:meth:`Transactions.add_many`).

    ``key`` defaults to the invoice's natural key, ``"<store>:<invoice_number>:<day>"``
    (the UTC date of ``created``): with a journal, a key is applied at most once across runs.
    Values are checked when the batch reaches the row, so a bad row fails alone.
    """

    store: int | None = None
    key: str | None = None
    row: int | None = None
    """Where the row came from (the CLI gives the input file's line); reported back."""

    def journal_key(self, default_store: int | None = None) -> str:
        """The key this sale is journaled by: ``key`` when given, else its natural key."""
        return self.key if self.key is not None else self.natural_key(default_store)

    def natural_key(self, default_store: int | None = None) -> str:
        """``"<store>:<invoice_number>:<day>"``, the key an unkeyed row is journaled by.

        The day is the UTC date of the ``created`` instant, whatever offset the row
        wrote it in: one sale written ``+07:00`` and ``Z`` has one key.
        """
        created: object = self.created
        try:
            if not isinstance(created, dt.datetime):
                created = dt.datetime.fromisoformat(str(created))
            if created.utcoffset() is not None:
                created = created.astimezone(dt.UTC)
            day = created.date().isoformat()
        except (ValueError, OverflowError):
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
    """The Unix time of ``created`` (ISO text with an offset, or a Unix time), or None.

    ISO text without an offset is None: the instant it names depends on a time zone
    nobody stated, so it proves nothing.
    """
    if isinstance(created, int) and not isinstance(created, bool):
        return created
    if isinstance(created, str):
        try:
            parsed = dt.datetime.fromisoformat(created)
            if parsed.utcoffset() is None:
                return None
            return int(parsed.timestamp())
        except (ValueError, OverflowError, OSError):
            return None
    return None


class Transactions(StampsResource):
    """``stamps.transactions``: add, update, cancel, modify and read transactions."""

    def _earnings(
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
    ) -> dict[str, Any]:
        """The :class:`EarningsKeywords` checked, each amount within ``max_value``: one
        check for what :meth:`add` sends and what :meth:`preview_earnings` asks about."""
        limits = self._client.options
        return {
            "store": positive(self._store(store, required=True), "store"),
            "total_value": _money(total_value, "total_value", limits),
            "user": None if user is None else user_ref(user),
            "sub_total": _optional_money(sub_total, "sub_total", limits),
            "discount": _optional_money(discount, "discount", limits),
            "service_charge": _optional_money(service_charge, "service_charge", limits),
            "tax": _optional_money(tax, "tax", limits),
            "channel": _code(channel, Channel, "channel"),
            "type": _code(type, TransactionType, "type"),
            "items": _items(items, limits),
            "payments": _payments(payments, limits),
        }

    def add_body(
        self,
        *,
        invoice_number: str,
        number_of_people: int,
        created: dt.datetime | str,
        stamps: int | None = None,
        require_email_notification: bool | None = None,
        employee_code: str | None = None,
        extra_data: dict[str, Any] | None = None,
        **earnings: Unpack[EarningsKeywords],
    ) -> TransactionBody:
        """Check the arguments of :meth:`add` and build its body, sending nothing."""
        checked = self._earnings(**earnings)
        return TransactionBody(
            invoice_number=text(invoice_number, "invoice_number").strip(),
            number_of_people=bounded(
                number_of_people, "number_of_people", limit=MAX_PEOPLE, setting=None
            ),
            created=created_text(created),
            stamps=None
            if stamps is None
            else bounded(stamps, "stamps", limit=self._client.options.max_stamps),
            require_email_notification=require_email_notification,
            employee_code=optional_text(employee_code, "employee_code"),
            extra_data=extra_data,
            **checked,
        )

    async def add(self, *, resolve: bool = True, **sale: Unpack[SaleKeywords]) -> TransactionResult:
        """POST /api/v2/transactions/add: record a sale; the customer earns stamps.

        ``invoice_number`` must be unique per store and day. Not idempotent, and never
        retried once sent; but when the answer is lost after sending, the invoice is
        the transaction's natural key, so (with ``resolve``, the default) the client
        finds out: it looks the invoice up in the customer's transactions
        (``by-user``), and if it is not there it replays the same body through the
        ``add-or-update`` upsert, which cannot record it twice. The result is marked
        ``recovered`` only when the server shows the transaction is this sale (store,
        customer, value, ``created`` instant); otherwise, or when the lookup fails,
        :class:`~stampsync.errors.AmbiguousWriteError` remains (see :meth:`resolve`).

        Args:
            resolve: look the invoice up after a lost answer (see above).

        Keyword Args:
            invoice_number (str): the POS's transaction number.
            total_value (int | float): the grand total. Every amount (totals, items, payments) must
                be a finite number, not negative, and at most the client's ``max_value``.
            number_of_people (int): how many people the sale was for.
            created (datetime | str): when the sale happened, an aware ``datetime`` or ISO 8601 with
                an offset.
            store (int | None): the store id (defaults to the client's ``store``).
            user (str | int | None): the customer's email or member id; leave out for an
                open transaction.
            channel (Channel | int | None): a :class:`Channel` code.
            type (TransactionType | int | None): a :class:`TransactionType` code.
            items (Iterable[Item] | None): :class:`Item` lines.
            payments (Iterable[Payment] | None): :class:`Payment` lines.
            stamps (int | None): a custom number of stamps instead of the merchant's rule (at most
                the client's ``max_stamps``).
        """
        body = self.add_body(**sale)
        return await self.send_add(body, resolve=resolve)

    async def send_add(
        self, body: TransactionBody, *, resolve: bool = True, start: QuotaStart | None = None
    ) -> TransactionResult:
        """POST /api/v2/transactions/add with a body built by :meth:`add_body`; a lost
        answer is resolved as :meth:`add` says. ``start``: a slot and quota start taken
        ahead (:meth:`StampsClient.take_start`), if any."""
        try:
            return await self._call(TRANSACTIONS_ADD, body=body, start=start)
        except AmbiguousWriteError as lost:
            if not resolve:
                raise
            return await self.resolve(body, lost)

    async def resolve(self, body: TransactionBody, lost: AmbiguousWriteError) -> TransactionResult:
        """What became of an ``add`` whose answer was lost: the transaction, marked
        ``recovered``, only when the server shows it is this body's; otherwise
        :class:`~stampsync.errors.AmbiguousWriteError` (``lost``, or one saying what
        could not be proven).

        1. With a customer, their transactions of the ``created`` day are searched
           for this sale: same invoice, same ``created`` instant, same value, and (by
           its details) same store.
        2. Otherwise, or if not found, the same body goes to ``add-or-update``, an upsert
           keyed on (store, invoice_number) that cannot add a second transaction. What
           it answers is proven the same way: a transaction it names must be this sale
           (the customer's, at this instant, value and store), since the key may hold
           another customer's sale or another day's. An answer that the invoice's
           details are "already complete" says nothing of whose sale it is, and is not
           taken as proof.
        """
        try:
            return await self.settle(body)
        except AmbiguousWriteError as unproven:
            log.warning("transactions.add: %s", unproven)
            raise unproven from lost
        except StampsyncError as failed:
            log.warning(
                "transactions.add: invoice %r stays ambiguous: the lookup failed (%s)",
                body.invoice_number,
                type(failed).__name__,
            )
            raise lost from failed

    async def settle(self, body: TransactionBody) -> TransactionResult:
        """Make sure the transaction of ``body`` exists exactly once, sending no ``add``,
        and prove that what the server shows is this sale (see :meth:`resolve`).

        Raises :class:`~stampsync.errors.AmbiguousWriteError` when the server's answers
        do not prove it (a listing without a readable ``created``, an "already complete"
        answer, an upsert that landed on another sale); otherwise what the lookup or the
        upsert raised.
        """
        if _instant(body.created) is None:
            raise _unproven(body, "its created is not an ISO 8601 instant with an offset")
        found = await self.find(body) if body.user is not None else None
        if found is not None:
            log.info("transactions.add: invoice %r found after a lost answer", body.invoice_number)
            return TransactionResult(transaction=found, recovered=True)
        try:
            replayed = await self._call(TRANSACTIONS_ADD_OR_UPDATE, body=body)
        except ValidationError as refused:
            if not _already_complete(refused):
                raise
            # The lost add may have landed since the lookup; only the customer's own
            # listing can say so. The refusal itself names no sale.
            found = await self.find(body) if body.user is not None else None
            if found is not None:
                return TransactionResult(transaction=found, recovered=True)
            raise _unproven(
                body,
                "add-or-update answered that the invoice's transaction is already "
                "complete, which does not say whose sale it is",
            ) from refused
        return await self._prove(body, replayed)

    async def _prove(self, body: TransactionBody, replayed: TransactionResult) -> TransactionResult:
        """``replayed``, marked recovered, if the transaction the upsert names is ``body``'s."""
        tx = replayed.transaction
        if tx is None or tx.id is None:
            raise _unproven(body, "add-or-update's answer names no transaction")
        if body.user is not None:
            found = await self.find(body)
            if found is None or found.id != tx.id:
                raise _unproven(
                    body,
                    f"add-or-update landed on transaction {tx.id}, which is not the "
                    "customer's at this sale's instant, value and store",
                )
            return msgspec.structs.replace(replayed, recovered=True)
        if replayed.customer is not None:
            raise _unproven(
                body, f"add-or-update landed on transaction {tx.id}, which has a customer"
            )
        detail = await self.details(transaction_id=tx.id)
        why = _mismatch(body, detail, check_invoice=False)
        if why is not None:
            raise _unproven(body, f"add-or-update landed on transaction {tx.id}: {why}")
        return msgspec.structs.replace(replayed, recovered=True)

    async def resolve_journal(
        self, journal: str | Path | WriteJournal, *, account: str | None = None
    ) -> dict[str, int | None]:
        """Settle the ambiguous ``transactions.add`` keys of a journal by looking them up,
        sending no write.

        ``journal`` is a SQLite path, a ``postgresql://`` URL (this client's account) or
        an open journal. A stored request is data, not a command: it is only read to
        look the sale up in the customer's transactions (:meth:`find`), and a key is
        marked applied when the lookup proves the sale is there. Nothing is replayed:
        a key the lookup cannot prove (an open transaction, say) stays ambiguous, and
        the import of the input file that holds its row settles it
        (:meth:`add_many`). Keys a live run is sending are left alone. Returns the keys
        settled and their transaction ids.

        ``account``: a database journal's account, as for :meth:`add_many` (default: the
        client's merchant).
        """
        from ._pos_batch import resolve_journal

        return await resolve_journal(self, journal, account=account)

    async def find(self, body: TransactionBody) -> Transaction | None:
        """The customer's transaction that is ``body``'s sale, or None.

        Searched on the ``created`` day through ``GET /api/transactions/by-user``: same
        invoice, same ``created`` instant, same value; then its store is checked
        through ``GET /api/transactions/details``. Raises
        :class:`~stampsync.errors.AmbiguousWriteError` when a listed transaction of the
        same invoice cannot be compared (its ``created`` or value missing or unreadable)
        and none other matches.
        """
        if body.user is None:
            return None
        try:
            day = dt.datetime.fromisoformat(body.created).date()
        except ValueError:
            raise _unproven(body, "its created is not an ISO 8601 instant") from None
        cursor: int | None = None
        unreadable: Transaction | None = None
        for _ in range(LOOKUP_PAGES):
            page = await self.by_user(
                user=body.user, last_transaction_id=cursor, start_date=day, end_date=day
            )
            for listed in page.transactions:
                why = _mismatch(body, listed, check_store=False)
                if why is None and listed.id is None:
                    why = _UNREADABLE
                if why is None and listed.id is not None:
                    detail = await self.details(transaction_id=listed.id)
                    why = _mismatch(body, detail, check_invoice=False)
                    if why is None:
                        return msgspec.structs.replace(listed, store=detail.store)
                if why == _UNREADABLE:
                    unreadable = unreadable or listed
            if not page.has_next or not page.transactions:
                break
            cursor = page.transactions[-1].id
        if unreadable is not None:
            raise _unproven(
                body,
                f"transaction {unreadable.id} of the same invoice is listed without a "
                "readable created instant, value or store, so it cannot be told apart",
            )
        return None

    async def add_many(
        self,
        rows: Iterable[PosTransaction | Rejected] | AsyncIterable[PosTransaction | Rejected],
        *,
        recovered: set[str] | None = None,
        settle_first: bool = True,
        **batch: Unpack[BatchKeywords],
    ) -> BatchReport:
        """Add many transactions (a POS day-end import), each at most once.

        The same protocol as :meth:`Stamps.add_many <stampsync.stamps.Stamps.add_many>`:
        with ``journal``, each key's intent is recorded before its request and its
        outcome after, so a rerun after a crash skips what was applied and never
        repeats what is ambiguous. On top of it, a lost answer is resolved by the
        invoice (see :meth:`add`): such a row is ``applied`` with the transaction's id
        only when the server proves it is this sale, and its key is added to
        ``recovered`` (and counted in ``counts["recovered"]``). ``award_id`` in each
        outcome is the transaction's id. With ``settle_first`` (the default), a row
        whose key an earlier run left ambiguous (a run killed mid-request, say) is
        settled the same way when the batch reaches it: from this input's row, checked
        like any row, and only if the journal's stored request is the same (a changed
        row fails as a conflicting key). Each such settlement counts in ``sent``. Keys
        the journal holds that this input does not name are never touched. ``batch``:
        the :class:`~stampsync.batch.writes.BatchKeywords` (``journal``, ``account``,
        ``on_outcome``, ``keep_outcomes``, ``stop``, ``check_first``, ``breaker``), as
        for :meth:`Stamps.add_many <stampsync.stamps.Stamps.add_many>`.
        """
        from ._pos_batch import add_many

        return await add_many(self, rows, batch, recovered=recovered, settle_first=settle_first)

    async def add_with_redemptions(
        self,
        *,
        reward_redemptions: Iterable[RewardRedemption] | None = None,
        voucher_redemptions: Iterable[VoucherRedemption] | None = None,
        issue_voucher: IssueVoucher | None = None,
        resolve: bool = True,  # taken as add takes it; nothing here is found by its key
        **sale: Unpack[SaleKeywords],
    ) -> TransactionResult:
        """POST /api/v2/transactions/add-with-redemptions: a sale, with rewards and
        vouchers redeemed and a voucher issued in the same call. **Not idempotent.**

        Takes every argument of :meth:`add` (``sale``) and the three lists. Never
        retried once sent; a lost answer raises
        :class:`~stampsync.errors.AmbiguousWriteError` (the redemptions have no key to
        look them up by).
        """
        base = self.add_body(**sale)
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

    async def send_add_or_update(
        self, body: TransactionBody, *, start: QuotaStart | None = None
    ) -> TransactionResult:
        """POST /api/v2/transactions/add-or-update with a body built by :meth:`add_body`;
        ``start`` as :meth:`send_add` takes it."""
        return await self._call(TRANSACTIONS_ADD_OR_UPDATE, body=body, start=start)

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
        self, *, user: str | int, prefetch: int = 2, **filters: Unpack[ByUserFilters]
    ) -> KeysetPages[Transaction, int]:
        """GET /api/transactions/by-user, every page: an async iterator over all of a
        customer's transactions, newest first, fetching up to ``prefetch`` pages ahead."""
        user = user_ref(user)

        async def fetch(cursor: int | None) -> tuple[list[Transaction], int | None]:
            page = await self.by_user(user=user, last_transaction_id=cursor, **filters)
            last = page.transactions[-1].id if page.transactions else None
            return page.transactions, last if page.has_next else None

        return KeysetPages(fetch, prefetch=prefetch, what="transactions by user")

    async def preview_earnings(self, **earnings: Unpack[EarningsKeywords]) -> EarningsPreview:
        """GET /api/v2/transactions/preview-earnings: the stamps a transaction would earn.

        The document says GET and shows a JSON body (items and payments do not fit a
        query string): the fields go as a JSON body on the GET.
        """
        body = compact(**self._earnings(**earnings))
        return await self._call(TRANSACTIONS_PREVIEW_EARNINGS, body=body)


#: What :func:`_mismatch` says of a transaction that cannot be compared.
_UNREADABLE = "unreadable"


def _mismatch(
    body: TransactionBody,
    seen: Transaction,
    *,
    check_invoice: bool = True,
    check_store: bool = True,
) -> str | None:
    """Why ``seen`` is not ``body``'s sale; :data:`_UNREADABLE` when a field to compare is
    missing or unreadable; None when it matches (the customer is the caller's to check)."""
    if (check_invoice or seen.invoice_number is not None) and (
        seen.invoice_number != body.invoice_number
    ):
        return "another invoice"
    instant, expected = _instant(seen.created), _instant(body.created)
    if instant is None or expected is None or seen.value is None:
        return _UNREADABLE
    if instant != expected:
        return "created at another instant"
    if abs(float(seen.value) - float(body.total_value)) > 0.005:
        return "another value"
    if check_store:
        store = seen.store.id if seen.store is not None else None
        if store is None:
            return _UNREADABLE
        if str(store) != str(body.store):
            return "another store"
    return None


def _unproven(body: TransactionBody, reason: str) -> AmbiguousWriteError:
    """The error of an ``add`` whose sale the server's answers do not prove recorded."""
    return AmbiguousWriteError(
        f"invoice {body.invoice_number!r} of store {body.store} not proven recorded "
        f"after the lost answer: {reason}",
        method=TRANSACTIONS_ADD.method,
        path=TRANSACTIONS_ADD.path,
    )


def _already_complete(error: ValidationError) -> bool:
    return any(ALREADY_COMPLETE in message.lower() for message in error.errors.values()) or (
        ALREADY_COMPLETE in str(error).lower()
    )
