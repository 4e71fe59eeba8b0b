"""A fleet's progress, per store, from the shared journal (and the queue's depth)."""

from __future__ import annotations

from dataclasses import dataclass

from ..batch.postgres import PgJournal
from ..errors import ConfigurationError


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
    """Award jobs whose kept result (an hour, arq's ``keep_result``) says they failed for
    good, on ``queue_name`` (default: arq's queue).

    A job fails for good only on a fault that outlasted its reruns (or on bad settings);
    its rows that the journal does not list were never sent. Queue the campaign again
    under a new ``--campaign`` name to send them: the journal skips every settled row. A
    result that cannot be read back is listed too, its error saying so.
    """
    from arq import create_pool
    from arq.connections import RedisSettings
    from arq.constants import default_queue_name, result_key_prefix
    from arq.jobs import DeserializationError, deserialize_result

    from .campaign import _connect
    from .worker import AWARD_JOB

    try:
        settings = RedisSettings.from_dsn(redis_url)
    except (RuntimeError, ValueError) as exc:
        raise ConfigurationError(f"bad redis url: {exc}") from None
    settings.conn_retries = 0
    queue = queue_name or default_queue_name
    found = []
    pool = await _connect(create_pool, settings)
    try:
        for key in sorted(await pool.keys(result_key_prefix + "*")):
            name = key.decode() if isinstance(key, bytes) else str(key)
            job_id = name.removeprefix(result_key_prefix)
            raw = await pool.get(name)
            if raw is None:
                continue  # expired since it was listed
            try:
                result = deserialize_result(raw, deserializer=pool.job_deserializer)
            except DeserializationError as exc:
                found.append(FailedJob(job_id, "?", 0, f"its result cannot be read: {exc}"))
                continue
            if result.success or result.function != AWARD_JOB or result.queue_name != queue:
                continue
            args = list(result.args)
            account = str(args[0]) if args else "?"
            rows = len(args[1]) if len(args) > 1 and isinstance(args[1], list) else 0
            error = f"{type(result.result).__name__}: {result.result}"
            found.append(FailedJob(job_id, account, rows, error))
    finally:
        await pool.aclose()
    return found
