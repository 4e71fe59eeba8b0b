"""A fleet's progress, per store, from the shared journal (and the queue's depth)."""

from __future__ import annotations

from dataclasses import dataclass

from ..batch.postgres import PgJournal


@dataclass(frozen=True, slots=True)
class FailedJob:
    """An award job arq gave up on: its rows not yet in the journal were never tried."""

    job_id: str
    account: str
    rows: int
    error: str


async def fleet_status(journal: str) -> dict[str, dict[str, int]]:
    """``{account: {status: count}}`` for every account of the PostgreSQL ``journal``."""
    async with PgJournal(journal, account=None) as every:
        return await every.acounts_by_account()


async def queued_jobs(redis_url: str, queue_name: str | None = None) -> int:
    """How many jobs wait in (or are being run from) the arq queue."""
    from arq import create_pool
    from arq.connections import RedisSettings
    from arq.constants import default_queue_name

    pool = await create_pool(RedisSettings.from_dsn(redis_url))
    try:
        return int(await pool.zcard(queue_name or default_queue_name))
    finally:
        await pool.aclose()


async def failed_jobs(redis_url: str, queue_name: str | None = None) -> list[FailedJob]:
    """Award jobs whose kept result (an hour, by default) says they failed for good.

    A job fails for good only on a fault that outlasted its reruns (or on bad settings);
    its rows that the journal does not list were never sent. Queue the campaign again
    under a new ``--campaign`` name to send them: the journal skips every settled row.
    """
    from arq import create_pool
    from arq.connections import RedisSettings

    from .worker import AWARD_JOB

    pool = await create_pool(RedisSettings.from_dsn(redis_url))
    try:
        results = await pool.all_job_results()
    finally:
        await pool.aclose()
    found = []
    for result in results:
        if result.success or result.function != AWARD_JOB:
            continue
        if queue_name is not None and result.queue_name != queue_name:
            continue
        args = list(result.args)
        account = str(args[0]) if args else "?"
        rows = len(args[1]) if len(args) > 1 and isinstance(args[1], list) else 0
        error = f"{type(result.result).__name__}: {result.result}"
        found.append(FailedJob(result.job_id or "?", account, rows, error))
    return found
