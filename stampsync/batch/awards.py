"""Mass awards and deductions of stamps: the batches behind
:meth:`Stamps.add_many <stampsync.stamps.Stamps.add_many>` and
:meth:`Stamps.deduct_many <stampsync.stamps.Stamps.deduct_many>`."""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import msgspec

from .._validate import positive
from .fanout import StopEvent
from .journal import WriteJournal, batch_account
from .writes import BatchOptions, BatchReport, OnOutcome, Prepared, Rejected, WriteRun

if TYPE_CHECKING:
    from ..stamps.client import StampsClient
    from ..stamps.stamps import StampAward, StampDeduction, Stamps

T = TypeVar("T")


async def add_many(
    stamps: Stamps,
    awards: Iterable[StampAward | Rejected] | AsyncIterable[StampAward | Rejected],
    *,
    journal: str | Path | WriteJournal | None,
    account: str | None,
    on_outcome: OnOutcome | None,
    keep_outcomes: bool,
    stop: StopEvent | None,
    max_stamps: int | None,
    check_first: bool,
    breaker: int,
) -> BatchReport:
    """Award stamps to many customers, each award at most once (see
    :meth:`Stamps.add_many <stampsync.stamps.Stamps.add_many>`)."""
    limit = stamps._client.options.max_stamps if max_stamps is None else max_stamps
    positive(limit, "max_stamps")

    def prepare(award: StampAward) -> Prepared:
        body = stamps.add_body(
            max_stamps=limit,
            user=award.user,
            number_of_stamps=award.number_of_stamps,
            store=award.store,
            notes=award.notes,
            expiration_date=award.expiration_date,
        )

        async def send() -> int | None:
            return (await stamps.send_add(body)).award.id

        return Prepared(award.key, msgspec.to_builtins(body), send)

    return await run_stamps_writes(
        stamps._client,
        awards,
        prepare,
        "stamps.add",
        journal,
        on_outcome,
        keep_outcomes,
        stop,
        account=account,
        check_first=check_first,
        breaker=breaker,
    )


async def deduct_many(
    stamps: Stamps,
    deductions: Iterable[StampDeduction | Rejected] | AsyncIterable[StampDeduction | Rejected],
    *,
    journal: str | Path | WriteJournal | None,
    account: str | None,
    on_outcome: OnOutcome | None,
    keep_outcomes: bool,
    stop: StopEvent | None,
    check_first: bool,
    breaker: int,
) -> BatchReport:
    """Deduct stamps from many customers, each deduction at most once (see
    :meth:`Stamps.deduct_many <stampsync.stamps.Stamps.deduct_many>`)."""

    def prepare(item: StampDeduction) -> Prepared:
        body = stamps.deduct_body(user=item.user, stamps=item.stamps, notes=item.notes)

        async def send() -> int | None:
            result = await stamps.send_deduct(body)
            return result.stamps_deduction.id if result.stamps_deduction else None

        return Prepared(item.key, dict(body), send)

    return await run_stamps_writes(
        stamps._client,
        deductions,
        prepare,
        "stamps.deduct",
        journal,
        on_outcome,
        keep_outcomes,
        stop,
        account=account,
        check_first=check_first,
        breaker=breaker,
    )


async def run_stamps_writes(
    client: StampsClient,
    items: Iterable[T | Rejected] | AsyncIterable[T | Rejected],
    prepare: Callable[[T], Prepared],
    operation: str,
    journal: str | Path | WriteJournal | None,
    on_outcome: OnOutcome | None,
    keep_outcomes: bool,
    stop: StopEvent | None,
    *,
    account: str | None,
    check_first: bool,
    breaker: int,
) -> BatchReport:
    """:class:`~stampsync.batch.writes.WriteRun` with a Stamps client's settings: its
    batch concurrency, its merchant (the journal account when ``account`` is None), and
    its ``auth.ping`` as the preflight."""
    options = BatchOptions(
        concurrency=client.concurrent_batch_executions,
        journal=journal,
        account=batch_account(journal, account, client),
        merchant=client.merchant,
        on_outcome=on_outcome,
        keep_outcomes=keep_outcomes,
        stop=stop,
        preflight=client.auth.ping if check_first else None,
        breaker=positive(breaker, "breaker"),
        early_start=client._early_start,
    )
    return await WriteRun(operation, prepare, options).run(items)
