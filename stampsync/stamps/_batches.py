"""Mass awards and deductions of stamps: the batches behind
:meth:`Stamps.add_many <stampsync.stamps.Stamps.add_many>` and
:meth:`Stamps.deduct_many <stampsync.stamps.Stamps.deduct_many>`."""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec

from .._engine.journal import batch_account
from .._engine.writes import BatchReport, Prepared, Rejected, WriteRun, batch_options
from .._validate import positive

if TYPE_CHECKING:
    from .._admission import QuotaStart
    from .client import StampsClient
    from .stamps import StampAward, StampDeduction, Stamps

T = TypeVar("T")


async def add_many(
    stamps: Stamps,
    awards: Iterable[StampAward | Rejected] | AsyncIterable[StampAward | Rejected],
    batch: Mapping[str, Any],
    *,
    max_stamps: int | None,
) -> BatchReport:
    """Award stamps to many customers, each award at most once (see
    :meth:`Stamps.add_many <stampsync.stamps.Stamps.add_many>`)."""
    limit = stamps._client.options.max_stamps if max_stamps is None else max_stamps
    positive(limit, "max_stamps")

    def prepare(award: StampAward) -> Prepared:
        body = stamps.add_body(max_stamps=limit, **award._award_keywords())

        async def send(start: QuotaStart | None) -> int | None:
            return (await stamps.send_add(body, start=start)).award.id

        return Prepared(award.key, msgspec.to_builtins(body), send)

    client = stamps._client
    return await run_stamps_writes(client, awards, prepare, "stamps.add", batch, "add_many")


async def deduct_many(
    stamps: Stamps,
    deductions: Iterable[StampDeduction | Rejected] | AsyncIterable[StampDeduction | Rejected],
    batch: Mapping[str, Any],
) -> BatchReport:
    """Deduct stamps from many customers, each deduction at most once (see
    :meth:`Stamps.deduct_many <stampsync.stamps.Stamps.deduct_many>`)."""

    def prepare(item: StampDeduction) -> Prepared:
        body = stamps.deduct_body(user=item.user, stamps=item.stamps, notes=item.notes)

        async def send(start: QuotaStart | None) -> int | None:
            result = await stamps.send_deduct(body, start=start)
            return result.stamps_deduction.id if result.stamps_deduction else None

        return Prepared(item.key, dict(body), send)

    client = stamps._client
    return await run_stamps_writes(
        client, deductions, prepare, "stamps.deduct", batch, "deduct_many"
    )


async def run_stamps_writes(
    client: StampsClient,
    items: Iterable[T | Rejected] | AsyncIterable[T | Rejected],
    prepare: Callable[[T], Prepared],
    operation: str,
    batch: Mapping[str, Any],
    what: str,
) -> BatchReport:
    """A :class:`~stampsync.batch.writes.WriteRun` with a Stamps client's settings: its
    batch concurrency, its merchant (the journal account when none is given), and its
    ``auth.ping`` as the preflight."""
    options = batch_options(
        batch,
        what=what,
        client=client,
        preflight=client.auth.ping,
        account=batch_account(batch.get("journal"), batch.get("account"), client),
        merchant=client.merchant,
    )
    return await WriteRun(operation, prepare, options).run(items)
