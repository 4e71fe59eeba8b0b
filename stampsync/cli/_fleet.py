"""``stampsync fleet ...``: queue a campaign, run workers, watch progress per store."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import signal
from pathlib import Path
from typing import Annotated

import typer

from .._engine._runs import LEASE_SECONDS
from .._engine.journal import is_database_url
from ._common import ThrottleLimit, ThrottleSeconds, api_errors, err, fail

app = typer.Typer(
    help="Many stores, many workers: award campaigns queued in the journal's PostgreSQL "
    "(pgqueuer), journaled there, each store's quota in Redis. Needs the fleet extra: "
    "pip install 'stampsync[fleet]'.",
    no_args_is_help=True,
)

FleetRedis = Annotated[
    str,
    typer.Option(
        "--redis-url",
        envvar="STAMPSYNC_REDIS_URL",
        help="Redis of the per-store quotas.",
    ),
]
FleetJournal = Annotated[
    str,
    typer.Option(
        "--journal",
        envvar="STAMPSYNC_JOURNAL",
        help="The shared journal and job queue: postgresql://user@host/db",
    ),
]


def _need_fleet() -> None:
    try:
        import asyncpg  # noqa: F401
        import pgqueuer  # noqa: F401
        import redis  # noqa: F401
    except ImportError as exc:
        fail(f"the fleet needs its extra: pip install 'stampsync[fleet]' ({exc.name} is missing)")


def _need_database(journal: str) -> None:
    if not is_database_url(journal):
        fail("--journal must be a postgresql:// URL: a fleet shares one journal database")


@app.command()
def enqueue(
    input: Annotated[
        Path,
        typer.Option(
            "--input",
            help="awards: CSV account,key,user,number_of_stamps[,store,notes,expiration_date];"
            " the other kinds: their command's file (transactions import, stamped push-orders,"
            " stamped adjust-points) with an account column or field",
        ),
    ],
    journal: FleetJournal,
    job_rows: Annotated[int, typer.Option("--job-rows", min=1, help="rows per job")] = 100,
    campaign: Annotated[
        str | None,
        typer.Option(help="the campaign's name (default: a digest of the file)"),
    ] = None,
    kind: Annotated[
        str,
        typer.Option(
            "--kind",
            help="what the rows write: stamps.add (awards), transactions.add (a point of "
            "sale's day-end file), v3.orders.push (Stamped orders, JSONL) or "
            "v3.points.adjust (Stamped points, CSV or JSONL)",
        ),
    ] = "stamps.add",
) -> None:
    """Queue a campaign file as jobs: bounded size, one store each, round-robin."""
    _need_fleet()
    _need_database(journal)
    from ..fleet.campaign import queue_campaign

    with api_errors():
        done = asyncio.run(
            queue_campaign(input, journal, job_rows=job_rows, campaign=campaign, kind=kind)
        )
    if done.why is not None:
        err.print(f"queued 0 jobs: {done.why}", markup=False)
        return
    err.print(f"queued {done.jobs} job(s) for {done.rows} row(s) as campaign {done.campaign}")


def _no_batch_stops(record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith("batch stopped")


@app.command()
def worker(
    redis_url: FleetRedis,
    journal: FleetJournal,
    credentials: Annotated[
        str,
        typer.Option(
            "--credentials",
            help="provider module:function giving each account's StampsClient arguments "
            "(stampsync.fleet:json_credentials reads $STAMPSYNC_FLEET_CREDENTIALS)",
        ),
    ] = "stampsync.fleet:json_credentials",
    throttle_limit: ThrottleLimit = 500,
    throttle_seconds: ThrottleSeconds = 60.0,
    throttle_reserve: Annotated[
        float,
        typer.Option(
            "--throttle-reserve",
            min=0.0,
            max=0.99,
            help="the share of each store's quota left to interactive callers (a store's "
            "bot) on the same Redis key; 0 when only the fleet sends for the stores",
        ),
    ] = 0.1,
    throttle_key: Annotated[
        str, typer.Option("--throttle-key", help="per-store quota key template")
    ] = "stamps:{account}",
    host_id: Annotated[
        str | None, typer.Option("--host-id", help="this worker's host in the journal")
    ] = None,
    job_timeout: Annotated[
        float, typer.Option(min=1, help="a job hands its rest on after half of this (s)")
    ] = 120.0,
    max_jobs: Annotated[int, typer.Option(min=1, help="jobs at once in this process")] = 50,
    concurrency: Annotated[
        int, typer.Option(min=1, help="rows of one store claimed at once in this process")
    ] = 1,
    lease_seconds: Annotated[
        float, typer.Option(min=0.1, help="journal lease of a job's run (s)")
    ] = LEASE_SECONDS,
    stalled_seconds: Annotated[
        float, typer.Option(min=1, help="a job whose worker is silent this long runs again (s)")
    ] = 30.0,
) -> None:
    """Run a fleet worker until SIGINT/SIGTERM (running jobs hand their rest on)."""
    _need_fleet()
    _need_database(journal)
    from ..fleet.credentials import load_provider
    from ..fleet.worker import FleetSettings, run_worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # The fleet logs one line per job and per outage; the batch's per-job "stopped" line
    # and the drivers' tracebacks would repeat them (and a traceback may quote a row).
    logging.getLogger("stampsync.batch").addFilter(_no_batch_stops)
    for noisy in ("pgqueuer", "asyncpg"):
        logging.getLogger(noisy).setLevel(logging.CRITICAL)
    with api_errors():
        settings = FleetSettings(
            redis_url=redis_url,
            journal=journal,
            credentials=load_provider(credentials),
            throttle_key=throttle_key,
            throttle_limit=throttle_limit,
            throttle_seconds=throttle_seconds,
            throttle_reserve=throttle_reserve,
            job_timeout=job_timeout,
            max_jobs=max_jobs,
            concurrency=concurrency,
            lease_seconds=lease_seconds,
            stalled_seconds=stalled_seconds,
        )
        if host_id:
            settings.host = host_id

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run_worker(settings, stop=stop)

    with api_errors():
        asyncio.run(main())


@app.command()
def status(
    journal: FleetJournal,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object")] = False,
    failed: Annotated[
        bool, typer.Option("--failed", help="name every failed row and why it failed")
    ] = False,
    stalled_seconds: Annotated[
        float, typer.Option(min=1, help="a running job silent this long is stalled (s)")
    ] = 30.0,
    throttle_limit: ThrottleLimit = 500,
    throttle_seconds: ThrottleSeconds = 60.0,
) -> None:
    """Per store: rows applied, failed, ambiguous, pending; jobs queued, running,
    stalled, failed; and how long its pending rows take (at the last minute's rate, else
    the planner's estimate at the workers' quota, ``--throttle-limit`` per
    ``--throttle-seconds``)."""
    _need_fleet()
    _need_database(journal)
    from ..fleet.status import (
        COLUMNS,
        FailedJob,
        FailedRow,
        failed_jobs,
        failed_rows,
        fleet_overview,
        store_eta,
    )

    async def gather() -> tuple[dict[str, dict[str, int]], list[FailedJob], list[FailedRow]]:
        counts = await fleet_overview(journal, stalled_seconds=stalled_seconds)
        return counts, await failed_jobs(journal), (await failed_rows(journal) if failed else [])

    with api_errors():
        counts, jobs, rows = asyncio.run(gather())
    total = {c: sum(by[c] for by in counts.values()) for c in COLUMNS}
    etas = {
        a: store_eta(
            c["pending"], c["applied_last_minute"], limit=throttle_limit, seconds=throttle_seconds
        )
        for a, c in counts.items()
    }
    if as_json:
        shown: dict[str, object] = {
            "accounts": {
                a: {**c, "eta_s": etas[a][0], "eta_from": etas[a][1]} for a, c in counts.items()
            },
            "total": total,
            "failed_jobs": [dataclasses.asdict(j) for j in jobs],
        }
        if failed:
            shown["failed_rows"] = [dataclasses.asdict(r) for r in rows]
        typer.echo(json.dumps(shown))
        return
    heads = [c.removesuffix("_jobs") if c.endswith("_jobs") else c for c in COLUMNS]
    width = max([len("account"), *(len(a) for a in counts)])
    typer.echo(f"{'account':<{width}}  " + "  ".join(f"{h:>9}" for h in [*heads, "eta"]))
    for account, c in counts.items():
        eta, source = etas[account]
        shown_eta = f"{'~' if source == 'plan' else ''}{eta:.0f}s"
        cells = [*(f"{c[s]:>9}" for s in COLUMNS), f"{shown_eta:>9}"]
        typer.echo(f"{account:<{width}}  " + "  ".join(cells))
    typer.echo(f"{'total':<{width}}  " + "  ".join(f"{total[s]:>9}" for s in COLUMNS))
    err.print(
        "rows: applied, failed, ambiguous, pending (claimed or in a queued job); "
        "jobs: queued, running, stalled (they run again), failed; eta: the pending rows "
        "at the last minute's rate (~: none applied in it, the planner's estimate at "
        f"{throttle_limit} per {throttle_seconds:g} s)",
        markup=False,
    )
    for job in jobs:
        err.print(
            f"job {job.job_id} ({job.account}, {job.rows} rows) failed, not run: {job.error}",
            markup=False,
        )
    if failed:
        for row in rows:
            where = f"line {row.row}" if row.row is not None else "journal"
            typer.echo(f"{row.account}\t{row.key}\t{where}\t{row.reason}")
