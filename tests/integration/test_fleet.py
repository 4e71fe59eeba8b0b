"""The fleet on real servers: arq workers (processes) on redis-server, a PostgreSQL
journal, the sandbox in its own process with a quota per store.

arq delivers at least once; these check the journal makes each award's effect at most
once when a worker is SIGKILLed, when two "machines" (host ids) meet on one key, and
when PostgreSQL restarts mid-run.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import re
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from typer.testing import CliRunner

from stampsync.cli._app import app
from stampsync.errors import ConfigurationError
from stampsync.fleet import split_jobs
from stampsync.fleet.campaign import read_campaign
from stampsync.sandbox import Sandbox
from tests._fleet import (
    Fleet,
    ledger,
    totals,
    wait_settled,
    worst_windows,
    write_campaign,
    write_credentials,
)
from tests._postgres import PASSWORD, PgCluster
from tests._redis import redis_server

pytestmark = [pytest.mark.redis, pytest.mark.postgres]

LIMIT = 10  # per store, per second


@pytest.fixture
def redis_url() -> Iterator[str]:
    with redis_server() as (url, _):
        yield url


def sandbox(stores: int, *, latency: float = 0.0) -> Sandbox:
    """The sandbox, each store with its own quota; ``latency``: every answer that late,
    so a worker seen holding a claim still holds it when it is killed a moment later."""
    faults = [f"latency:1:{latency}"] if latency else []
    return Sandbox(
        process=True,
        extra_tokens=stores,
        limit=LIMIT,
        seconds=1.0,
        members=50,
        faults=faults,
    )


def fleet_for(
    tmp_path: Path,
    redis_url: str,
    journal: str,
    sb: Sandbox,
    stores: int,
    *,
    job_timeout: float,
    lease_seconds: float = 30.0,
    debug: bool = False,
) -> Fleet:
    write_credentials(tmp_path / "credentials.json", sb, stores)
    return Fleet(
        tmp_path,
        redis_url,
        journal,
        sb,
        LIMIT,
        job_timeout=job_timeout,
        lease_seconds=lease_seconds,
        debug=debug,
    )


def test_a_campaign_is_cut_into_bounded_jobs_per_store_round_robin(tmp_path: Path) -> None:
    total = write_campaign(tmp_path / "c.csv", stores=3, rows_per_store=25)
    rows = list(read_campaign(tmp_path / "c.csv"))
    assert len(rows) == total == 75
    jobs = split_jobs(rows, job_rows=10)
    assert [len(j.rows) for j in jobs] == [10] * 6 + [5] * 3
    assert [j.account for j in jobs[:3]] == ["store-1", "store-2", "store-3"]
    assert all(len({r["account"] for r in j.rows}) == 1 for j in jobs)
    assert len({j.job_id("c") for j in jobs}) == len(jobs)


async def pending_rows(journal: str, pid: int | None) -> int:
    """Rows worker ``pid`` (any worker: None) has claimed and not settled."""
    try:
        con = await asyncpg.connect(journal)
        try:
            return int(
                await con.fetchval(
                    "SELECT count(*) FROM stampsync_writes w JOIN stampsync_runs r"
                    " ON r.run = w.run WHERE w.status = 'pending'"
                    " AND ($1::int IS NULL OR r.pid = $1::int)",
                    pid,
                )
            )
        finally:
            await con.close()
    except (asyncpg.UndefinedTableError, OSError):
        return 0  # the schema is made by the first worker to claim


async def wait_until_sending(journal: str, pid: int | None, within: float) -> None:
    """Wait until worker ``pid`` (any worker: None) holds a claimed row it has not settled."""
    deadline = asyncio.get_running_loop().time() + within
    while not await pending_rows(journal, pid):
        assert asyncio.get_running_loop().time() < deadline, f"worker {pid} never sent"
        await asyncio.sleep(0.05)


async def kill_while_sending(fleet: Fleet, journal: str, proc: Any, within: float) -> None:
    """SIGKILL ``proc`` at a moment it holds a claimed row.

    A row is claimed only once its start is granted, for about one request: seen
    pending, it may be settled by the time the kill lands. So the worker is frozen
    (SIGSTOP) first, and killed only if it still holds a claim; else it goes on.
    """
    deadline = asyncio.get_running_loop().time() + within
    while True:
        await wait_until_sending(journal, proc.pid, within=within)
        os.kill(proc.pid, signal.SIGSTOP)
        if await pending_rows(journal, proc.pid):
            fleet.kill(proc)
            return
        os.kill(proc.pid, signal.SIGCONT)
        assert asyncio.get_running_loop().time() < deadline, "never caught sending"


#: A job's log line saying it found rows held by another live run.
HELD = re.compile(r"'held': [1-9]")


async def wait_for_log(fleet: Fleet, pattern: re.Pattern[str], within: float) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not pattern.search(fleet.logs()):
        assert asyncio.get_running_loop().time() < deadline, (
            f"no worker logged {pattern.pattern!r}:\n{fleet.logs()[-3000:]}"
        )
        await asyncio.sleep(0.1)


async def ambiguous_hosts(journal: str) -> list[tuple[str, int]]:
    con = await asyncpg.connect(journal)
    try:
        rows = await con.fetch(
            "SELECT r.host, r.pid FROM stampsync_writes w JOIN stampsync_runs r"
            " ON r.run = w.run WHERE w.status = 'ambiguous'"
        )
    finally:
        await con.close()
    return [(r["host"], r["pid"]) for r in rows]


async def test_a_sigkilled_workers_jobs_are_retried_and_nothing_applies_twice(
    tmp_path: Path, redis_url: str, pg_dsn: str
) -> None:
    stores, per_store = 4, 40
    total = write_campaign(tmp_path / "c.csv", stores, per_store)
    with sandbox(stores, latency=0.3) as sb:
        # At DEBUG, as a user chasing a problem runs them: every request is logged.
        fleet = fleet_for(tmp_path, redis_url, pg_dsn, sb, stores, job_timeout=4.0, debug=True)
        try:
            # Every worker up before any job is queued, and none may take more than two
            # of the 16 jobs: on a loaded CI machine a worker takes seconds to start, and
            # the first one up had taken (or finished) all the work before the others
            # (or, started first, the victim before the others) could send.
            victim = fleet.start_worker(None, "--max-jobs", "2")
            others = [fleet.start_worker(None, "--max-jobs", "2") for _ in range(2)]
            # The journal's password travels by environment, never in argv (ps shows it).
            assert PASSWORD.encode() not in fleet.cmdline(victim)
            await fleet.wait_ready()
            fleet.enqueue(tmp_path / "c.csv", job_rows=10)
            # All at work; the victim dies mid-send, holding a claimed row.
            await wait_until_sending(pg_dsn, others[0].pid, within=60)
            assert victim.poll() is None
            await kill_while_sending(fleet, pg_dsn, victim, within=60)
            by = await wait_settled(fleet, total, within=90)
        finally:
            fleet.stop_all()
        applied_on_server = await ledger(sb)
        windows = await worst_windows(sb, 1.0)
    logs = fleet.logs()
    assert "POST /api/stamps/add -> 200" in logs  # the DEBUG log was on
    assert PASSWORD not in logs
    assert fleet.leaked() == []  # nor any store's token
    assert max(applied_on_server.values()) == 1, "an award was applied twice"
    t = totals(by)
    assert t["applied"] + t["failed"] + t["ambiguous"] == total
    assert t["failed"] == 0
    # The journal's applied rows are exactly what the server applied; an ambiguous row
    # may or may not be on the server (that is what ambiguous means).
    assert t["applied"] <= len(applied_on_server) <= t["applied"] + t["ambiguous"]
    # Ambiguous only for the killed worker's in-flight rows: one per store at most.
    hosts = await ambiguous_hosts(pg_dsn)
    assert hosts, "the victim died with nothing in flight: the test proved nothing"
    assert {pid for _, pid in hosts} == {victim.pid}
    assert len(hosts) <= stores
    assert len(windows) == stores
    assert all(worst <= LIMIT for worst in windows.values()), windows
    # ``stampsync fleet status`` reads the same counts from the journal.
    runner = CliRunner()
    result = await asyncio.to_thread(
        runner.invoke, app, ["fleet", "status", "--journal", pg_dsn, "--json"]
    )
    assert result.exit_code == 0, result.stderr
    shown = json.loads(result.stdout)
    assert {a: {s: c[s] for s in by[a]} for a, c in shown["accounts"].items()} == by
    assert all(c["queued_jobs"] == c["running_jobs"] == 0 for c in shown["accounts"].values())
    assert PASSWORD not in result.stdout + result.stderr
    table = await asyncio.to_thread(runner.invoke, app, ["fleet", "status", "--journal", pg_dsn])
    assert table.stdout.splitlines()[0].split() == [
        "account",
        "applied",
        "failed",
        "ambiguous",
        "pending",
        "queued",
        "running",
        "stalled",
        "failed",
        "eta",
    ]
    assert len(table.stdout.splitlines()) == stores + 2


async def test_two_hosts_a_live_lease_is_never_taken_and_a_dead_ones_rows_turn_ambiguous(
    tmp_path: Path, redis_url: str, pg_dsn: str
) -> None:
    """Two "machines" (host ids) run the same campaign queued twice, so their jobs meet
    on every key; then host-a's worker dies. Its keys wait out its lease, then turn
    ambiguous; none is sent again, and no live worker's claim is ever taken."""
    stores, per_store = 3, 60
    total = write_campaign(tmp_path / "c.csv", stores, per_store)
    with sandbox(stores, latency=0.3) as sb:
        fleet = fleet_for(
            tmp_path, redis_url, pg_dsn, sb, stores, job_timeout=4.0, lease_seconds=3.0
        )
        try:
            # One job per store and campaign, at most three jobs per host: whichever host
            # starts first cannot take every job (CI once saw host-b start after host-a
            # had them all, and the hosts never met), and a job of each campaign walks
            # the same store's keys in the same order, so the hosts meet on them.
            a = fleet.start_worker("host-a", "--max-jobs", "3")
            b = fleet.start_worker("host-b", "--max-jobs", "3")
            await fleet.wait_ready()
            fleet.enqueue(tmp_path / "c.csv", job_rows=per_store, name="first")
            fleet.enqueue(tmp_path / "c.csv", job_rows=per_store, name="again")
            # Each host takes three of the six jobs, so one store's two jobs are on
            # different hosts: they meet. Once they did, host-a dies holding a claim.
            await wait_until_sending(pg_dsn, b.pid, within=60)
            await wait_for_log(fleet, HELD, within=60)
            assert a.poll() is None
            await kill_while_sending(fleet, pg_dsn, a, within=60)
            by = await wait_settled(fleet, total, within=120)
        finally:
            fleet.stop_all()
        applied_on_server = await ledger(sb)
    logs = fleet.logs()
    assert max(applied_on_server.values()) == 1, "an award was applied twice"
    assert "'held': 0" in logs
    assert fleet.leaked() == []
    t = totals(by)
    assert t["applied"] + t["failed"] + t["ambiguous"] == total
    assert t["failed"] == 0
    hosts = await ambiguous_hosts(pg_dsn)
    assert hosts, "host-a died with nothing in flight: the test proved nothing"
    assert {host for host, _ in hosts} == {"host-a"}


@pytest.fixture
def restartable() -> Iterator[PgCluster]:
    cluster = PgCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


async def test_postgresql_restarted_mid_run_workers_pause_and_resume(
    tmp_path: Path, redis_url: str, restartable: PgCluster
) -> None:
    stores, per_store = 3, 40
    total = write_campaign(tmp_path / "c.csv", stores, per_store)
    journal = restartable.dsn
    with sandbox(stores) as sb:
        fleet = fleet_for(tmp_path, redis_url, journal, sb, stores, job_timeout=8.0)
        try:
            for _ in range(2):
                fleet.start_worker()
            fleet.enqueue(tmp_path / "c.csv", job_rows=10)
            await wait_until_sending(journal, None, within=60)  # the workers are at work
            await asyncio.to_thread(restartable.stop)
            arrivals = len(await sb.arrivals())
            await asyncio.sleep(2.0)
            # Nothing is sent while the journal is away: an intent must be committed first.
            assert len(await sb.arrivals()) - arrivals <= 2 * 2 * stores
            await asyncio.to_thread(restartable.start)
            by = await wait_settled(fleet, total, within=90)
        finally:
            fleet.stop_all()
        applied_on_server = await ledger(sb)
    logs = fleet.logs()
    assert "unavailable" in logs
    assert "is back" in logs
    assert PASSWORD not in logs
    assert fleet.leaked() == []
    assert max(applied_on_server.values()) == 1, "an award was applied twice"
    t = totals(by)
    assert t == {"applied": total, "failed": 0, "ambiguous": 0}, t
    assert len(applied_on_server) == total


async def test_a_job_that_cannot_run_is_named_by_fleet_status(
    tmp_path: Path, redis_url: str, pg_dsn: str
) -> None:
    """A job whose account has no usable credentials is not run: the queue holds it as
    failed, and ``fleet status`` names it with the reason (its rows were not sent)."""
    from stampsync.fleet import FleetSettings, enqueue_campaign, failed_jobs, run_worker

    write_campaign(tmp_path / "c.csv", 2, 3)
    settings = FleetSettings(
        redis_url=redis_url,
        journal=pg_dsn,
        credentials=lambda account: {"private_key": "no token here"},
        poll_seconds=0.2,
    )
    assert await enqueue_campaign(tmp_path / "c.csv", pg_dsn, job_rows=10) == (2, 6)
    # A worker refuses to start when a queued job's account has no credentials...
    with pytest.raises(ConfigurationError, match="no token for account"):
        await run_worker(settings, burst=True)
    # ...and a job whose account loses them later fails alone, unrun.
    from stampsync.fleet.worker import FleetState, check_start

    state = FleetState(dataclasses.replace(settings, credentials=lambda a: {"token": "t"}))
    await check_start(state)
    await state.close()
    await run_worker_with_failing_credentials(settings)
    failed = await failed_jobs(pg_dsn)
    assert sorted((f.account, f.rows) for f in failed) == [("store-1", 3), ("store-2", 3)]
    assert all("no token" in f.error for f in failed)
    result = await asyncio.to_thread(
        CliRunner().invoke, app, ["fleet", "status", "--journal", pg_dsn, "--json"]
    )
    assert result.exit_code == 0, result.stderr
    shown = json.loads(result.stdout)
    assert {f["account"] for f in shown["failed_jobs"]} == {"store-1", "store-2"}
    assert shown["accounts"]["store-1"]["failed_jobs"] == 1
    text = await asyncio.to_thread(
        CliRunner().invoke, app, ["fleet", "status", "--journal", pg_dsn]
    )
    assert "failed, not run: ConfigurationError" in text.stderr


async def run_worker_with_failing_credentials(settings: Any) -> None:
    """A worker whose start-up check passes, then whose provider refuses every store."""
    from stampsync.fleet import run_worker
    from stampsync.fleet import worker as worker_module

    original = worker_module.check_start

    async def lenient(state: Any) -> None:
        await state.open()

    worker_module.check_start = lenient
    try:
        await run_worker(settings, burst=True)
    finally:
        worker_module.check_start = original


async def test_a_job_stopped_at_its_soft_deadline_hands_its_rest_on_ahead_of_fresh_jobs(
    tmp_path: Path, redis_url: str, pg_dsn: str
) -> None:
    """The rest of a job goes on in a job queued ahead of fresh jobs, not behind every
    other store's: at the back, a store was left with no job running for seconds at a
    time (1-4 s gaps per store at 50 stores)."""
    from stampsync.fleet import AwardJobArgs, FleetSettings, JobRow, decode_job
    from stampsync.fleet.queue import queue_table
    from stampsync.fleet.worker import FleetState, award_job

    async with sandbox(1) as sb:
        write_credentials(tmp_path / "credentials.json", sb, 1)
        credentials = json.loads((tmp_path / "credentials.json").read_text())
        settings = FleetSettings(
            redis_url=redis_url,
            journal=pg_dsn,
            credentials=lambda account: credentials[account],
            throttle_limit=LIMIT,
            throttle_seconds=1.0,
            job_timeout=2.0,  # stops taking rows after 1 s: about 10 of the 40
        )
        rows = [
            JobRow(
                row=i + 2,
                key=f"k{i}",
                user=f"member{i + 1}@example.com",
                store="1",
                number_of_stamps="1",
            )
            for i in range(40)
        ]
        args = AwardJobArgs(v=1, id="c:store-1:1", campaign="c", account="store-1", rows=rows)
        state = FleetState(settings)
        await state.open()
        try:
            counts = await award_job(state, args, priority=0)
        finally:
            await state.close()
    taken = 40 - counts["continued"]
    assert 0 < taken < 40
    assert counts["applied"] == taken
    con = await asyncpg.connect(pg_dsn)
    try:
        queued = await con.fetch(f"SELECT priority, payload FROM {queue_table()}")  # noqa: S608
    finally:
        await con.close()
    [(priority, payload)] = [(r["priority"], r["payload"]) for r in queued]
    assert priority == 1  # ahead of fresh jobs (priority 0)
    rest = decode_job(payload)
    assert [r.key for r in rest.rows] == [f"k{i}" for i in range(taken, 40)]


async def test_a_sigkilled_workers_jobs_run_again_as_soon_as_its_session_ends(
    tmp_path: Path, redis_url: str, pg_dsn: str
) -> None:
    """Stalled jobs are found by their heartbeats going stale (30 s by default). A worker
    that dies closes its database session at once: the other workers see it gone and
    run its jobs again within a second or two, whatever ``--stalled-seconds`` says."""
    stores, per_store = 2, 60
    total = write_campaign(tmp_path / "c.csv", stores, per_store)
    with sandbox(stores, latency=0.3) as sb:
        fleet = fleet_for(tmp_path, redis_url, pg_dsn, sb, stores, job_timeout=120.0)
        try:
            victim = fleet.start_worker(None, "--max-jobs", "2", "--stalled-seconds", "600")
            await fleet.wait_ready()
            fleet.enqueue(tmp_path / "c.csv", job_rows=per_store)  # one job per store
            await kill_while_sending(fleet, pg_dsn, victim, within=60)
            fleet.start_worker(None, "--max-jobs", "2", "--stalled-seconds", "600")
            # Each store's 60 rows take 6 s at its quota; a heartbeat would take 600 s.
            by = await wait_settled(fleet, total, within=60)
        finally:
            fleet.stop_all()
        applied_on_server = await ledger(sb)
    assert "session ended (it died)" in fleet.logs()
    assert max(applied_on_server.values()) == 1, "an award was applied twice"
    t = totals(by)
    assert t["applied"] + t["ambiguous"] == total
    assert 1 <= t["ambiguous"] <= stores  # the victim's rows in flight
