"""A point of sale's day-end import: the batch behind
:meth:`Transactions.add_many <stampsync.stamps.Transactions.add_many>`, and the settling
of a journal's ambiguous transactions
(:meth:`Transactions.resolve_journal <stampsync.stamps.Transactions.resolve_journal>`)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from .._engine.fanout import _aiter
from .._engine.journal import WriteJournal, batch_account, open_journal
from .._engine.writes import BatchReport, Prepared, Rejected
from ..errors import StampsyncError
from ._batches import run_stamps_writes
from .transactions import PosTransaction, TransactionBody

if TYPE_CHECKING:
    from .._admission import QuotaStart
    from .transactions import Transactions

log = logging.getLogger("stampsync")

#: Why a row with neither key nor store fails: its key is made from its store.
NO_STORE = (
    "the row has no store (and no key, which is made from the store): give the row's "
    "store, or a default store (StampsClient(store=...), --store N on the command line)"
)


class _Keyed(msgspec.Struct, frozen=True):
    """A row with its key filled in, as WriteRun reads it (``key``, ``user``, ``row``)."""

    key: str
    user: str | int | None
    row: int | None
    item: PosTransaction


async def resolve_journal(
    transactions: Transactions,
    journal: str | Path | WriteJournal,
    *,
    account: str | None = None,
) -> dict[str, int | None]:
    """Settle the ambiguous ``transactions.add`` keys of a journal by looking them up,
    sending no write (see
    :meth:`Transactions.resolve_journal <stampsync.stamps.Transactions.resolve_journal>`)."""
    own = not isinstance(journal, WriteJournal)
    client = transactions._client
    jrn = open_journal(
        journal,
        account=batch_account(journal, account, client),
        merchant=client.merchant,
    )
    settled: dict[str, int | None] = {}
    async with contextlib.AsyncExitStack() as stack:
        if own:
            await stack.enter_async_context(jrn)
        me = jrn.new_run()
        # Registering a run ends the dead ones: their pending keys become ambiguous.
        # A live run's pending keys stay pending, and are not touched here.
        await jrn.astart_run(me)
        try:
            for entry in await jrn.aentries("ambiguous"):
                if entry.operation != "transactions.add":
                    continue
                try:
                    # The stored request is only read, to look the sale up; whoever can
                    # write the journal must not be able to make this client send.
                    body = _checked(transactions, entry.request)
                    found = await transactions.find(body)
                except (StampsyncError, msgspec.ValidationError) as exc:
                    log.warning("journal key %r stays ambiguous: %s", entry.key, exc)
                    continue
                if found is None:
                    log.warning(
                        "journal key %r stays ambiguous: not found by lookup; the import "
                        "of the input file that holds its row settles it",
                        entry.key,
                    )
                    continue
                await jrn.aresolve(
                    entry.key, applied=True, result_id=found.id, note="settled by lookup"
                )
                settled[entry.key] = found.id
        finally:
            await jrn.aend_run(me)
    return settled


def _checked(transactions: Transactions, request: dict[str, object]) -> TransactionBody:
    """A stored request as a body, through the row path's own checks."""
    body = msgspec.convert(request, TransactionBody)
    return transactions.add_body(
        invoice_number=body.invoice_number,
        total_value=body.total_value,
        number_of_people=body.number_of_people,
        created=body.created,
        store=body.store,
        user=body.user,
    )


async def add_many(
    transactions: Transactions,
    rows: Iterable[PosTransaction | Rejected] | AsyncIterable[PosTransaction | Rejected],
    batch: Mapping[str, Any],
    *,
    recovered: set[str] | None,
    settle_first: bool,
) -> BatchReport:
    """Add many transactions, each at most once, a lost answer resolved by the invoice
    (see :meth:`Transactions.add_many <stampsync.stamps.Transactions.add_many>`)."""
    keys = recovered if recovered is not None else set()
    default_store = transactions._client.store

    async def keyed() -> AsyncIterable[_Keyed | Rejected]:
        async for row in _aiter(rows):
            if isinstance(row, Rejected):
                yield row
                continue
            if row.key is None and row.store is None and default_store is None:
                # Its natural key would read "None:<invoice>:<day>": fail it, unsent.
                where = f"row {row.row}" if row.row is not None else row.invoice_number
                yield Rejected(
                    where, NO_STORE, row.row, None if row.user is None else str(row.user)
                )
                continue
            key = row.journal_key(default_store)
            yield _Keyed(key, row.user, row.row, row)

    def prepare(keyed_row: _Keyed) -> Prepared:
        row = keyed_row.item
        body = transactions.add_body(**row._sale_keywords(row.store))

        async def send(start: QuotaStart | None) -> int | None:
            result = await transactions.send_add(body, start=start)
            if result.recovered:
                keys.add(keyed_row.key)
            return result.transaction.id if result.transaction else None

        async def settle() -> int | None:
            # An earlier run left this key ambiguous with this very request (the journal
            # compared them): the body is the input row's, checked above, not the stored one.
            result = await transactions.settle(body)
            keys.add(keyed_row.key)
            return result.transaction.id if result.transaction else None

        return Prepared(
            keyed_row.key, msgspec.to_builtins(body), send, settle if settle_first else None
        )

    report = await run_stamps_writes(
        transactions._client, keyed(), prepare, "transactions.add", batch, "transactions.add_many"
    )
    report.counts["recovered"] = len(keys)
    return report
