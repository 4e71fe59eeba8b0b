"""Journaled pushes of Stamped V3 orders: the batch behind
:meth:`Orders.push_many <stampsync.stamped.v3.orders.Orders.push_many>`."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import msgspec

from ..._engine.fanout import _aiter
from ..._engine.journal import Entry, Journal, WriteJournal, open_journal
from ..._engine.writes import BatchReport, Prepared, Rejected, WriteRun, normal_key
from ...errors import ConfigurationError
from .models import OrderData
from .orders import OrderPush

if TYPE_CHECKING:
    from ..._admission import QuotaStart
    from .orders import Orders, Pushable

#: The journal's name for an order push.
PUSH_OPERATION = "stamped.v3.orders.push"


#: The note of an upsert marked for sending again.
_RESENT = "an upsert by customOrderId: resent"


def _unsettled_upsert(entry: Entry) -> bool:
    return (
        entry.operation == PUSH_OPERATION
        and entry.status in ("ambiguous", "pending")
        and isinstance(entry.request, dict)
        and bool(entry.request.get("customOrderId"))
    )


def resend_upserts(journal: Journal) -> int:
    """Mark the journal's unsettled pushes that carry a ``customOrderId`` (upserts, safe
    to repeat) as not applied, so this run sends them again; return how many.

    Left ambiguous by a crash or by retries that ran out, an upsert needs no review:
    sending it again leaves one order. Keys a live run is sending are left alone.
    """
    resent = 0
    for entry in list(journal.entries()):
        if not _unsettled_upsert(entry):
            continue
        try:
            journal.resolve(entry.key, applied=False, note=_RESENT)
        except ConfigurationError:
            continue  # held by a live run
        resent += 1
    return resent


async def aresend_upserts(journal: WriteJournal) -> int:
    """:func:`resend_upserts` for any journal (SQLite or PostgreSQL), from async code."""
    resent = 0
    for entry in await journal.aentries():
        if not _unsettled_upsert(entry):
            continue
        try:
            await journal.aresolve(entry.key, applied=False, note=_RESENT)
        except ConfigurationError:
            continue  # held by a live run
        resent += 1
    return resent


async def push_many(
    orders: Orders,
    rows: Iterable[Pushable] | AsyncIterable[Pushable],
    batch: Mapping[str, Any],
    *,
    order_ids: dict[str, str] | None = None,
) -> BatchReport:
    """Push many orders, each key at most once (see
    :meth:`Orders.push_many <stampsync.stamped.v3.orders.Orders.push_many>`)."""

    async def ping() -> object:
        return await orders.filter(limit=1)

    options = orders._batch_options(batch, what="push_many", ping=ping)
    journal = options.journal
    jrn = None if journal is None else open_journal(journal, account=options.account)
    async with contextlib.AsyncExitStack() as stack:
        if jrn is not None:
            if jrn is not journal:  # opened here, closed here
                await stack.enter_async_context(jrn)
            await aresend_upserts(jrn)
        run = WriteRun(PUSH_OPERATION, _preparer(orders, order_ids), replace(options, journal=jrn))
        return await run.run(_keyed(rows))


def _preparer(orders: Orders, order_ids: dict[str, str] | None) -> Callable[[OrderPush], Prepared]:
    def prepare(item: OrderPush) -> Prepared:
        order = item.order
        if not isinstance(order, OrderData):
            raise ConfigurationError("order must be an OrderData")
        if order.customer_id is None and order.custom_customer_id is None:
            raise ConfigurationError("an order needs customer_id or custom_customer_id")
        if order.cart is None:
            raise ConfigurationError("an order needs a cart")
        orders.check(order)

        key = normal_key(item.key)

        async def send(start: QuotaStart | None) -> int | None:
            answer = await orders.push(order, start=start)
            if order_ids is not None:  # set before the outcome is emitted: on_outcome reads it
                order_ids[key] = answer.order_id
            return None

        return Prepared(item.key, msgspec.to_builtins(order), send)

    return prepare


async def _keyed(
    rows: Iterable[Pushable] | AsyncIterable[Pushable],
) -> AsyncIterator[OrderPush | Rejected]:
    async for item in _aiter(rows):
        if isinstance(item, OrderData):
            yield OrderPush(key=item.custom_order_id or "", order=item)
        else:
            yield item
