"""``stampsync fleet ...``: queue a campaign, run workers, watch progress per store."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from pathlib import Path
from typing import Annotated

import typer

from ..batch._runs import LEASE_SECONDS
from ..batch.journal import STATUSES, is_database_url
from ..errors import ConfigurationError
from ._common import ThrottleLimit, ThrottleSeconds, api_errors, err, fail

app = typer.Typer(
    help="Many stores, many workers: award campaigns queued on Redis (arq), journaled in "
    "PostgreSQL. Needs the fleet extra: pip install 'stampsync[fleet]'.",
    no_args_is_help=True,
)

FleetRedis = Annotated[
    str,
    typer.Option(
        "--redis-url",
        envvar="STAMPSYNC_REDIS_URL",
        help="Redis of the job queue and the per-store quotas.",
    ),
]
FleetJournal = Annotated[
    str,
    typer.Option(
        "--journal",
        envvar="STAMPSYNC_JOURNAL",
        help="The shared journal: postgresql://user:password@host/db",
    ),
]
Queue = Annotated[str | None, typer.Option("--queue", help="arq queue name (default: arq's)")]


def _need_fleet() -> None:
    try:
        import arq  # noqa: F401
        import asyncpg  # noqa: F401
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
            "--input", help="CSV: account,key,user,number_of_stamps[,store,notes,expiration_date]"
        ),
    ],
    redis_url: FleetRedis,
    job_rows: Annotated[int, typer.Option("--job-rows", min=1, help="rows per job")] = 100,
    campaign: Annotated[
        str | None,
        typer.Option(help="the campaign's name in job ids (default: a digest of the file)"),
    ] = None,
    queue: Queue = None,
) -> None:
    """Queue a campaign file as award jobs: bounded size, one store each, round-robin."""
    _need_fleet()
    from ..fleet.campaign import enqueue_campaign

    with api_errors():
        queued, rows = asyncio.run(
            enqueue_campaign(
                input, redis_url, job_rows=job_rows, campaign=campaign, queue_name=queue
            )
        )
    err.print(f"queued {queued} job(s) for {rows} row(s)")


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
    throttle_key: Annotated[
        str, typer.Option("--throttle-key", help="per-store quota key template")
    ] = "stamps:{account}",
    host_id: Annotated[
        str | None, typer.Option("--host-id", help="this worker's host in the journal")
    ] = None,
    job_timeout: Annotated[float, typer.Option(min=1, help="arq's limit per job (s)")] = 120.0,
    max_jobs: Annotated[int, typer.Option(min=1, help="jobs at once in this process")] = 50,
    concurrency: Annotated[int, typer.Option(min=1, help="awards claimed at once per job")] = 1,
    lease_seconds: Annotated[
        float, typer.Option(min=0.1, help="journal lease of a job's run (s)")
    ] = LEASE_SECONDS,
    queue: Queue = None,
) -> None:
    """Run a fleet worker until SIGINT/SIGTERM (jobs in flight finish or are retried)."""
    _need_fleet()
    _need_database(journal)
    from arq.worker import Worker

    from ..fleet.credentials import load_provider
    from ..fleet.worker import FleetSettings, worker_settings

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with api_errors():
        settings = FleetSettings(
            redis_url=redis_url,
            journal=journal,
            credentials=load_provider(credentials),
            throttle_key=throttle_key,
            throttle_limit=throttle_limit,
            throttle_seconds=throttle_seconds,
            job_timeout=job_timeout,
            max_jobs=max_jobs,
            concurrency=concurrency,
            lease_seconds=lease_seconds,
            queue_name=queue,
        )
        if host_id:
            settings.host = host_id
        arq_worker = Worker(**worker_settings(settings))
    try:
        arq_worker.run()
    except ConfigurationError as exc:
        fail(str(exc))


@app.command()
def status(
    journal: FleetJournal,
    redis_url: Annotated[
        str | None,
        typer.Option("--redis-url", envvar="STAMPSYNC_REDIS_URL", help="also count queued jobs"),
    ] = None,
    queue: Queue = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object")] = False,
) -> None:
    """Outcome counts per store and status, from the shared journal."""
    _need_fleet()
    _need_database(journal)
    from ..fleet.status import FailedJob, failed_jobs, fleet_status, queued_jobs

    async def gather() -> tuple[dict[str, dict[str, int]], int | None, list[FailedJob] | None]:
        counts = await fleet_status(journal)
        if redis_url is None:
            return counts, None, None
        return counts, await queued_jobs(redis_url, queue), await failed_jobs(redis_url, queue)

    with api_errors():
        counts, jobs, failed = asyncio.run(gather())
    total = {s: sum(c[s] for c in counts.values()) for s in STATUSES}
    if as_json:
        shown = None if failed is None else [dataclasses.asdict(f) for f in failed]
        typer.echo(
            json.dumps(
                {"accounts": counts, "total": total, "queued_jobs": jobs, "failed_jobs": shown}
            )
        )
        return
    width = max([len("account"), *(len(a) for a in counts)])
    typer.echo(f"{'account':<{width}}  " + "  ".join(f"{s:>9}" for s in STATUSES))
    for account, c in counts.items():
        typer.echo(f"{account:<{width}}  " + "  ".join(f"{c[s]:>9}" for s in STATUSES))
    typer.echo(f"{'total':<{width}}  " + "  ".join(f"{total[s]:>9}" for s in STATUSES))
    if jobs is not None:
        err.print(f"{jobs} job(s) queued or running")
    for job in failed or []:
        err.print(
            f"job {job.job_id} ({job.account}, {job.rows} rows) failed for good: {job.error}",
            markup=False,
        )
    if failed:
        err.print(
            f"{len(failed)} job(s) failed for good: their rows missing from the journal were "
            "never sent; enqueue the campaign again with a new --campaign name",
            markup=False,
        )
