"""A fleet worker's liveness by its database session: whose running jobs run again at once."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import asyncpg
import pytest
from pgqueuer.queries import Queries

from stampsync.fleet import AWARD_JOB, FleetSettings
from stampsync.fleet.queue import ensure_queue_schema, queue_table
from stampsync.fleet.worker import _Life, _reap_dead

pytestmark = pytest.mark.postgres


def no_credentials(account: str) -> dict[str, str]:
    return {}


async def picked_job(con: asyncpg.Connection, manager: uuid.UUID, session_start: str) -> int:
    """A job running under ``manager``, a worker whose recorded session no longer exists
    and began at ``session_start`` (SQL)."""
    await con.execute(
        "INSERT INTO stampsync_fleet_workers (manager, backend, backend_start, host)"  # noqa: S608
        f" VALUES ($1, 2147483647, {session_start}, 'gone-host')",
        manager,
    )
    [job] = await Queries.from_asyncpg_connection(con).enqueue(AWARD_JOB, b"{}", 0)
    await con.execute(
        f"UPDATE {queue_table()} SET status = 'picked', queue_manager_id = $1,"  # noqa: S608
        " heartbeat = now() WHERE id = $2",
        manager,
        job,
    )
    return int(job)


async def test_only_a_session_that_ended_since_the_server_started_frees_its_jobs(
    pg_dsn: str,
) -> None:
    # A server restart ends every session, not every worker: their jobs are left to the
    # heartbeats, or each live worker's running jobs would run twice.
    con = await asyncpg.connect(pg_dsn)
    try:
        await ensure_queue_schema(con)
        died = await picked_job(con, uuid.uuid4(), "now()")
        before_restart = await picked_job(
            con, uuid.uuid4(), "pg_postmaster_start_time() - interval '1 hour'"
        )
        settings = FleetSettings(
            redis_url="redis://127.0.0.1:1/0", journal=pg_dsn, credentials=no_credentials
        )
        life = _Life(settings, uuid.uuid4())
        await life.register()
        reaper = asyncio.create_task(_reap_dead(life, 0.05))
        try:
            for _ in range(100):
                left = await con.fetchval("SELECT count(*) FROM stampsync_fleet_workers")
                if left == 1:  # only the reaper's own
                    break
                await asyncio.sleep(0.05)
        finally:
            reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reaper
            await life.unregister()
        rows = await con.fetch(
            f"SELECT id, extract(epoch FROM heartbeat) AS beat FROM {queue_table()}"  # noqa: S608
            " WHERE id = ANY($1::bigint[])",
            [died, before_restart],
        )
        beats = {r["id"]: float(r["beat"]) for r in rows}
        assert await con.fetchval("SELECT count(*) FROM stampsync_fleet_workers") == 0
    finally:
        await con.close()
    assert beats[died] == 0  # taken for stalled by the next dequeue
    assert beats[before_restart] > 0  # its heartbeats decide
