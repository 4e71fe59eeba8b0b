"""``stampsync stamps ...``: mass awards and their journal."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Annotated

import typer

from ..batch.journal import STATUSES, Journal
from ..batch.writes import BatchReport, Outcome, normal_key
from ..errors import ConfigurationError
from ..stamps.client import StampsClient
from ..stamps.stamps import DEFAULT_MAX_STAMPS
from ._common import (
    Batch,
    Connections,
    RedisUrl,
    ThrottleKey,
    ThrottleLimit,
    ThrottleSeconds,
    Tuning,
    api_errors,
    err,
    fail,
    progress,
    release,
)
from ._inputs import check_awards_file, read_awards
from ._report import Aborted, ReportFile
from ._secrets import TokenFile, resolve_secret, secret_option
from ._signals import GracefulStop

app = typer.Typer(
    help="Stamps (stamps.co.id): mass awards and their journal.", no_args_is_help=True
)
journal_app = typer.Typer(help="Inspect and resolve a mass-award journal.", no_args_is_help=True)
app.add_typer(journal_app, name="journal")

ApiUrl = Annotated[str, typer.Option("--api-url", envvar="STAMPS_API_URL", help="Base URL.")]
Token = Annotated[str | None, secret_option("--token", "STAMPS_TOKEN", "API token")]


async def award_file(
    client: StampsClient,
    rows_path: Path,
    journal: Journal,
    report: ReportFile,
    total: int,
    max_stamps: int,
) -> BatchReport:
    """Award every row of ``rows_path``; stream the report; SIGINT/SIGTERM stop gracefully.

    The first signal stops taking rows (those in flight finish and are journaled); a
    second one aborts at once, quietly (what was in flight becomes ambiguous).
    """
    started = time.monotonic()
    with GracefulStop("finishing awards in flight") as signals:
        try:
            with progress() as bar:
                task = bar.add_task("awarding", total=total, rate="")

                def record(outcome: Outcome) -> None:
                    report.write(outcome.as_dict())
                    done = bar.tasks[0].completed + 1
                    rate = done / max(time.monotonic() - started, 1e-6)
                    bar.update(task, advance=1, rate=f"{rate:.1f}/s")

                async with client:
                    result = await client.stamps.add_many(
                        read_awards(rows_path),
                        journal=journal,
                        on_outcome=record,
                        keep_outcomes=False,
                        stop=signals.event,
                        max_stamps=max_stamps,
                    )
        finally:
            await release(client)
    if result.interrupted:
        result.interrupted_by = signals.signum
    return result


def summary(report: BatchReport, journal: Path) -> None:
    """Print the outcome counts and what to do next."""
    c = report.counts
    err.print(
        f"applied {c['applied']} (of which {c['skipped']} already in the journal), "
        f"failed {c['failed']}, ambiguous {c['ambiguous']}; sent {report.sent} requests"
    )
    if report.held:
        err.print(
            f"[yellow]{report.held} row(s) held by another run on {journal}: not sent; "
            "rerun when it has finished"
        )
    if report.stopped:
        err.print(f"[bold red]stopped early:[/] {report.stopped}; rows not tried are untouched")
    if report.interrupted:
        err.print("[yellow]interrupted: rerun the same command to finish the rest")
    if c["ambiguous"]:
        err.print(
            f"[yellow]{c['ambiguous']} award(s) are ambiguous: sent, outcome unknown.[/] "
            f"Check them on Stamps, then: stampsync stamps journal resolve --journal "
            f"{journal} KEY --applied | --not-applied"
        )


@app.command()
def award(
    input: Annotated[
        Path, typer.Option("--input", help="CSV: key,user,store,number_of_stamps[,notes]")
    ],
    journal: Annotated[
        Path, typer.Option("--journal", help="SQLite journal: at most once per key, across runs")
    ],
    report: Annotated[
        Path, typer.Option("--report", help="JSONL: one outcome per row (written at the end)")
    ],
    api_url: ApiUrl = "https://stamps.co.id",
    token: Token = None,
    token_file: TokenFile = None,
    throttle_limit: ThrottleLimit = 500,
    throttle_seconds: ThrottleSeconds = 60.0,
    connections: Connections = 2,
    batch: Batch = 10,
    redis_url: RedisUrl = None,
    throttle_key: ThrottleKey = None,
    ignore_extra_columns: Annotated[
        bool, typer.Option(help="accept columns other than the award's (they are not sent)")
    ] = False,
    max_stamps: Annotated[
        int, typer.Option(min=1, help="most stamps one row may award; a row over it fails")
    ] = DEFAULT_MAX_STAMPS,
) -> None:
    """Award stamps to every row of a CSV, each key at most once.

    Exit codes: 0 all applied; 1 some rows failed (a rerun retries them); 2 refused
    before anything was sent (bad input, usage); 3 some ambiguous (resolve them first);
    4 stopped early (credentials refused or server unreachable); 130/143 interrupted by
    SIGINT/SIGTERM (rerun to finish); 70 internal error.
    """
    total = check_awards_file(input, ignore_extra_columns=ignore_extra_columns)
    tuning = Tuning(throttle_limit, throttle_seconds, connections, batch, redis_url, throttle_key)
    with api_errors():
        client = tuning.stamps(
            api_url,
            resolve_secret(
                token, token_file, flag="--token", env="STAMPS_TOKEN", what="Stamps API token"
            ),
        )
        jrn = Journal(journal).open()  # a journal that cannot be used refuses the run here
    try:
        with ReportFile(report) as out:
            result = asyncio.run(award_file(client, input, jrn, out, total, max_stamps))
    except Aborted as aborted:
        err.print("[yellow]aborted: awards in flight are ambiguous; see the journal")
        raise typer.Exit(128 + aborted.signum) from None
    finally:
        jrn.close()
    summary(result, journal)
    raise typer.Exit(result.exit_code)


@journal_app.command("list")
def journal_list(
    journal: Annotated[Path, typer.Option("--journal", help="the journal file")],
    status: Annotated[
        str | None, typer.Option(help="only this status: " + ", ".join(STATUSES))
    ] = None,
) -> None:
    """List journal entries as JSON lines (key, status, award id, error, request)."""
    if not journal.exists():
        fail(f"journal {journal} does not exist")
    if status is not None and status not in STATUSES:
        fail(f"--status must be one of {', '.join(STATUSES)}")
    with api_errors(), Journal(journal) as j:
        for e in j.entries(status):
            typer.echo(
                json.dumps(
                    {
                        "key": e.key,
                        "status": e.status,
                        "award_id": e.result_id,
                        "error": e.error,
                        "attempts": e.attempts,
                        "request": e.request,
                    }
                )
            )
        counts = j.counts()
    err.print(", ".join(f"{k} {v}" for k, v in counts.items()))


@journal_app.command("resolve")
def journal_resolve(
    key: Annotated[str, typer.Argument(help="the key of an ambiguous entry")],
    journal: Annotated[Path, typer.Option("--journal", help="the journal file")],
    applied: Annotated[
        bool | None,
        typer.Option(
            "--applied/--not-applied",
            help="applied: a rerun skips it; not applied: a rerun sends it again",
        ),
    ] = None,
    award_id: Annotated[int | None, typer.Option(help="the award id, if applied")] = None,
) -> None:
    """Settle an ambiguous entry after checking Stamps."""
    if applied is None:
        fail("say --applied or --not-applied")
    if not journal.exists():
        fail(f"journal {journal} does not exist")
    # As the award compared and journaled it: "café" typed decomposed (as macOS input
    # methods do) is the same key.
    key = normal_key(key)
    try:
        with Journal(journal) as j:
            j.resolve(key, applied=applied, result_id=award_id)
    except ConfigurationError as exc:
        fail(str(exc))
    err.print(f"{key}: {'applied' if applied else 'not applied'}")
