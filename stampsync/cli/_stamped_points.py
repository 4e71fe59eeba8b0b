"""``stampsync stamped adjust-points``: Stamped V3 loyalty points in bulk, journaled."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Annotated

import typer

from .._engine.writes import BatchReport, Outcome
from ..batch.v3_rows import read_points
from ._common import Tuning, api_errors, with_options
from ._inputs import check_points_file
from ._report import ReportFile, run_batch_file
from ._stamped_v3 import StampedV3Access, finish_journaled, shop_journal
from ._stamps import Account, JournalSpec, run_journaled


def points_row(outcome: Outcome) -> dict[str, object]:
    """An adjust-points report line: row, key, customer_id, status, error."""
    return {
        "row": outcome.row,
        "key": outcome.key,
        "customer_id": outcome.user,
        "status": outcome.status,
        "error": outcome.error,
    }


@with_options(access=StampedV3Access, tuning=Tuning)
def adjust_points(
    input: Annotated[
        Path,
        typer.Option(
            "--input", help="CSV key,customer_id,points[,reason] (or JSONL with those fields)"
        ),
    ],
    journal: JournalSpec,
    report: Annotated[Path, typer.Option("--report", help="JSONL: one outcome per row")],
    account: Account = None,
    key_in_reason: Annotated[
        bool,
        typer.Option(
            "--key-in-reason/--no-key-in-reason",
            help="Send each row's key after its reason, so the customer's history names it.",
        ),
    ] = True,
    *,
    access: StampedV3Access,
    tuning: Tuning,
) -> None:
    """Add or subtract Stamped V3 loyalty points for every row of a file, each key at
    most once.

    A row names its key (yours, unique per adjustment), the customer's Stamped id, the
    points (negative subtracts) and an optional reason. The report has one line per
    row: row, key, customer_id, status, error. Exit codes: 0 all applied; 1 some rows
    failed (a rerun retries them); 2 refused before anything was sent; 3 some ambiguous
    (check the customers' points, then ``stampsync stamped journal resolve``); 4 stopped
    early (key refused or server unreachable); 130/143 interrupted (rerun to finish);
    70 internal error.
    """
    total = check_points_file(input)
    with api_errors():
        client = access.client(tuning)
        jrn = shop_journal(journal, client, account)

    async def run(out: ReportFile) -> BatchReport:
        adjust = partial(
            client.v3.loyalty.adjust_points_many,
            read_points(input),
            account=account,
            key_in_reason=key_in_reason,
        )
        doing = ("adjusting", "adjustments")
        return await run_journaled(client, jrn, out, total, doing, points_row, adjust)

    result = run_batch_file(jrn, report, run, "adjustments")
    finish_journaled(result, journal, "adjusted", "adjustment")
