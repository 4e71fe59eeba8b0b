"""A fleet's progress, per store, from the shared journal (and the queue's depth)."""

from __future__ import annotations

from ..batch.postgres import PgJournal


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
