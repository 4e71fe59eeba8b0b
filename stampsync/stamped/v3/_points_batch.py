"""Stamped V3 points adjusted in bulk: the batch behind
:meth:`Loyalty.adjust_points_many <stampsync.stamped.v3.Loyalty.adjust_points_many>`."""

from __future__ import annotations

from collections.abc import AsyncIterable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import msgspec

from ..._engine.writes import BatchReport, Prepared, Rejected, WriteRun, normal_key
from ..._validate import optional_text

if TYPE_CHECKING:
    from ..._admission import QuotaStart
    from .loyalty import Loyalty, PointsAdjustment

#: The journal's name for an adjustment (a key used for another kind is refused).
ADJUST_OPERATION = "stamped.v3.adjust_points"


def keyed_reason(reason: str | None, key: str) -> str:
    """The reason a batch sends: the caller's, followed by the row's key, so whoever reads
    the customer's history can tell which row an adjustment came from."""
    return f"{reason} [{key}]" if reason else f"[{key}]"


async def adjust_many(
    loyalty: Loyalty,
    rows: Iterable[PointsAdjustment | Rejected] | AsyncIterable[PointsAdjustment | Rejected],
    batch: Mapping[str, Any],
    *,
    key_in_reason: bool,
) -> BatchReport:
    """Adjust many customers' points, each key at most once (see :meth:`Loyalty.
    adjust_points_many <stampsync.stamped.v3.Loyalty.adjust_points_many>`)."""

    def prepare(row: PointsAdjustment) -> Prepared:
        reason = optional_text(row.reason, "reason")
        if key_in_reason:
            reason = keyed_reason(reason, normal_key(row.key))
        body = loyalty.adjust_body(customer_id=row.customer_id, points=row.points, reason=reason)

        async def send(start: QuotaStart | None) -> int | None:
            await loyalty.send_adjust(body, start=start)
            return None  # activity ids are text: the report has none

        return Prepared(row.key, msgspec.to_builtins(body), send)

    async def ping() -> object:
        return await loyalty.filter_rewards(limit=1)

    options = loyalty._batch_options(batch, what="adjust_points_many", ping=ping)
    return await WriteRun(ADJUST_OPERATION, prepare, options).run(rows)
