"""The fleet's queue on PostgreSQL: every row accounted for through a Redis restart and a
``Retry-After: 3600``, hostile job rows refused, re-enqueueing explained, bad settings
stopping a worker at start. Real servers: redis-server, PostgreSQL, the sandbox and
``stampsync fleet worker`` processes, each stopped by its own pid."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import pickle
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from typer.testing import CliRunner

from stampsync._engine._runs import RunInfo
from stampsync._engine.postgres import PgJournal
from stampsync.cli._app import app
from stampsync.fleet import AWARD_JOB, failed_jobs, failed_rows, fleet_overview, queue_campaign
from stampsync.fleet.queue import queue_table
from stampsync.sandbox import Sandbox, free_port
from tests._fleet import Fleet, ledger, totals, wait_settled, write_campaign, write_credentials
from tests._postgres import PASSWORD, PgCluster
from tests._redis import redis_binary
from tests.integration.test_fleet import kill_while_sending

pytestmark = [pytest.mark.redis, pytest.mark.postgres]

LIMIT = 10  # per store, per second
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")


class RestartableRedis:
    """redis-server on a fixed port, non-persistent (as the docs allow for quotas), that
    a test can stop and start again; stopped by its own pid."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                redis_binary(),
                *("--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                import socket

                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.02)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None


@pytest.fixture
def redis() -> Iterator[RestartableRedis]:
    server = RestartableRedis()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def fleet_for(tmp_path: Path, redis_url: str, journal: str, sb: Sandbox, stores: int) -> Fleet:
    write_credentials(tmp_path / "credentials.json", sb, stores)
    return Fleet(tmp_path, redis_url, journal, sb, LIMIT, job_timeout=6.0, lease_seconds=6.0)


async def wait_sending(journal: str, account: str, within: float = 60.0) -> None:
    """Wait until ``account`` has an applied row: the workers are at work."""
    deadline = time.monotonic() + within
    while not (await fleet_overview(journal)).get(account, {}).get("applied"):
        assert time.monotonic() < deadline, f"{account} never applied a row"
        await asyncio.sleep(0.1)


async def accounted(journal: str) -> dict[str, int]:
    """Per store: rows applied, failed (with a reason) or ambiguous, plus rows waiting in
    the queue: every row of the campaign must be one of them."""
    by = await fleet_overview(journal)
    return {a: c["applied"] + c["failed"] + c["ambiguous"] + c["pending"] for a, c in by.items()}


async def test_a_redis_restart_mid_run_loses_no_row_and_the_workers_ride_it_out(
    tmp_path: Path, redis: RestartableRedis, pg_dsn: str
) -> None:
    stores, per_store = 3, 40
    total = write_campaign(tmp_path / "c.csv", stores, per_store)
    with Sandbox(process=True, extra_tokens=stores, limit=LIMIT, seconds=1.0, members=50) as sb:
        fleet = fleet_for(tmp_path, redis.url, pg_dsn, sb, stores)
        try:
            workers = [fleet.start_worker(None, "--max-jobs", "4") for _ in range(2)]
            await fleet.wait_ready()
            fleet.enqueue(tmp_path / "c.csv", job_rows=10)
            await wait_sending(pg_dsn, "store-1")
            await asyncio.to_thread(redis.stop)
            await asyncio.sleep(3.0)
            # Mid-campaign, Redis away: rows wait, none is lost, no worker exits.
            assert all(w.poll() is None for w in workers), fleet.logs()[-3000:]
            assert sum((await accounted(pg_dsn)).values()) == total
            await asyncio.to_thread(redis.start)
            by = await wait_settled(fleet, total, within=120)
            assert all(w.poll() is None for w in workers)
        finally:
            fleet.stop_all()
        applied_on_server = await ledger(sb)
    logs = fleet.logs()
    assert max(applied_on_server.values()) == 1, "an award was applied twice"
    assert totals(by) == {"applied": total, "failed": 0, "ambiguous": 0}, by
    assert len(applied_on_server) == total
    # One line per outage and worker, not one per row or job.
    down = logs.count("Redis (the stores' quotas) unavailable")
    assert 1 <= down <= len(workers), logs[-3000:]
    assert logs.count("Redis (the stores' quotas) is back") == down
    assert "retried in" in logs
    assert not EMAIL.findall(logs), "a worker logged an email address"
    # Every row applied within the last minute: the rate ``fleet status`` takes its ETA from.
    recent = {a: c["applied_last_minute"] for a, c in (await fleet_overview(pg_dsn)).items()}
    assert recent == dict.fromkeys(recent, per_store)
    assert len(recent) == stores


async def test_a_retry_after_of_an_hour_on_one_store_leaves_every_row_accounted_for(
    tmp_path: Path, redis: RestartableRedis, pg_dsn: str
) -> None:
    stores, per_store = 3, 40
    write_campaign(tmp_path / "c.csv", stores, per_store)
    with Sandbox(process=True, extra_tokens=stores, limit=LIMIT, seconds=1.0, members=50) as sb:
        fleet = fleet_for(tmp_path, redis.url, pg_dsn, sb, stores)
        try:
            for _ in range(2):
                fleet.start_worker(None, "--max-jobs", "4")
            await fleet.wait_ready()
            fleet.enqueue(tmp_path / "c.csv", job_rows=10)
            await wait_sending(pg_dsn, "store-1")
            # One answer says "come back in an hour": its store's quota pauses for it.
            await sb.set_faults("429_retry_after:1:3600:1@POST /api/stamps/add")
            deadline = time.monotonic() + 90
            while True:
                by = await fleet_overview(pg_dsn)
                done = {a for a, c in by.items() if c["applied"] == per_store}
                if len(done) == stores - 1 and all(c["running_jobs"] == 0 for c in by.values()):
                    break
                assert time.monotonic() < deadline, (by, fleet.logs()[-3000:])
                await asyncio.sleep(0.5)
        finally:
            fleet.stop_all()
        applied_on_server = await ledger(sb)
    [paused] = set(by) - done
    assert max(applied_on_server.values()) == 1, "an award was applied twice"
    # The paused store's rows: applied before the 429, the one answered 429 failed with
    # its reason in the journal, and the rest waiting in a retry job: none lost.
    assert await accounted(pg_dsn) == dict.fromkeys(by, per_store)
    stuck = by[paused]
    assert stuck["failed"] == 1, [(r.key, r.reason) for r in await failed_rows(pg_dsn)][:5]
    assert stuck["pending"] == per_store - stuck["applied"] - 1 > 0
    assert stuck["queued_jobs"] >= 1
    assert sum(1 for n in applied_on_server if n.startswith(f"{paused}/")) == stuck["applied"]
    shown = await asyncio.to_thread(
        CliRunner().invoke, app, ["fleet", "status", "--journal", pg_dsn, "--failed"]
    )
    assert shown.exit_code == 0, shown.stderr
    [line] = [ln for ln in shown.stdout.splitlines() if ln.startswith(f"{paused}\t")]
    assert "429" in line
    as_json = await asyncio.to_thread(
        CliRunner().invoke, app, ["fleet", "status", "--journal", pg_dsn, "--json"]
    )
    accounts = json.loads(as_json.stdout)["accounts"]
    assert accounts[paused]["eta_from"] == "rate"
    etas = {a: c["eta_s"] for a, c in accounts.items()}
    # Its pending rows at the rate it applied rows in the last minute; the others are done.
    assert etas.pop(paused) == pytest.approx(stuck["pending"] * 60 / stuck["applied"])
    assert set(etas.values()) == {0.0}


async def test_a_hostile_job_row_is_refused_not_run(
    tmp_path: Path, redis: RestartableRedis, pg_dsn: str
) -> None:
    """Rows inserted straight into the queue table that are not an award job's (a pickle,
    an unknown field, a wrong type) fail alone, unrun; the worker goes on."""
    write_campaign(tmp_path / "c.csv", 1, 5)
    with Sandbox(process=True, extra_tokens=1, limit=LIMIT, seconds=1.0, members=50) as sb:
        fleet = fleet_for(tmp_path, redis.url, pg_dsn, sb, 1)
        done = await queue_campaign(tmp_path / "c.csv", pg_dsn, job_rows=10)
        assert done.jobs == 1
        evil_row = {"row": 2, "key": "evil", "user": "member1@example.com"}
        evil_row |= {"number_of_stamps": "1", "store": "1", "notes": "store-1/evil"}
        hostile = [
            pickle.dumps({"account": "store-1", "rows": [evil_row]}),
            json.dumps(
                {"v": 1, "id": "x1", "campaign": "x", "account": "store-1", "rows": [evil_row]}
                | {"__reduce__": "os.system"}
            ).encode(),
            json.dumps(
                {"v": 1, "id": "x2", "campaign": "x", "account": "store-1"}
                | {"rows": [evil_row | {"number_of_stamps": 1}]}
            ).encode(),
        ]
        con = await asyncpg.connect(pg_dsn)
        try:
            for payload in hostile:
                await con.execute(
                    f"INSERT INTO {queue_table()} (priority, status, entrypoint, payload)"  # noqa: S608
                    " VALUES (10, 'queued', $1, $2)",
                    AWARD_JOB,
                    payload,
                )
        finally:
            await con.close()
        try:
            worker = fleet.start_worker()
            by = await wait_until_idle(pg_dsn, within=60)
            assert worker.poll() is None
        finally:
            fleet.stop_all()
        applied_on_server = await ledger(sb)
    assert "store-1/evil" not in applied_on_server
    assert len(applied_on_server) == 5
    refused = await failed_jobs(pg_dsn)
    assert len(refused) == len(hostile)
    assert all("not" in job.error for job in refused), refused
    # A refused job's arguments are not trusted, not even the account they name.
    assert by["?"]["failed_jobs"] == len(hostile)
    assert by["store-1"]["failed_jobs"] == 0
    assert by["store-1"]["applied"] == 5
    assert fleet.logs().count("refused, not run") == len(hostile)


async def wait_until_idle(journal: str, within: float) -> dict[str, dict[str, int]]:
    deadline = time.monotonic() + within
    while True:
        by = await fleet_overview(journal)
        if by and all(
            c["queued_jobs"] + c["running_jobs"] + c["pending"] == 0 for c in by.values()
        ):
            return by
        assert time.monotonic() < deadline, by
        await asyncio.sleep(0.3)


async def test_queueing_the_same_file_again_says_why_nothing_was_queued(
    tmp_path: Path, pg_dsn: str
) -> None:
    write_campaign(tmp_path / "c.csv", 2, 3)
    runner = CliRunner()
    argv = ["fleet", "enqueue", "--input", str(tmp_path / "c.csv"), "--journal", pg_dsn]
    first = await asyncio.to_thread(runner.invoke, app, argv)
    assert first.exit_code == 0, first.stderr
    assert "queued 2 job(s) for 6 row(s)" in first.stderr
    again = await asyncio.to_thread(runner.invoke, app, argv)
    assert again.exit_code == 0, again.stderr
    assert "queued 0 jobs: campaign" in again.stderr
    assert "queued already (2 job(s), 6 row(s)" in again.stderr
    assert "--campaign" in again.stderr
    anew = await asyncio.to_thread(runner.invoke, app, [*argv, "--campaign", "second"])
    assert "queued 2 job(s)" in anew.stderr
    assert PASSWORD not in first.stderr + again.stderr + anew.stderr


def start_worker_once(
    tmp_path: Path, journal: str, redis_url: str, **env: str
) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "stampsync.cli", "fleet", "worker"]
    environ = {
        **os.environ,
        "STAMPSYNC_FLEET_CREDENTIALS": str(tmp_path / "credentials.json"),
        "STAMPSYNC_JOURNAL": journal,
        "STAMPSYNC_REDIS_URL": redis_url,
        **env,
    }
    proc = subprocess.Popen(
        argv, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError(f"the worker did not stop at start: {err[-2000:]}") from None
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def refused_at_start(done: subprocess.CompletedProcess[str], *needles: str) -> None:
    """Exit 2, one line saying why (and no traceback), no password."""
    assert done.returncode == 2, done.stderr[-2000:]
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, lines
    for needle in needles:
        assert needle in lines[0], lines
    assert "Traceback" not in done.stderr
    assert PASSWORD not in done.stderr


async def test_bad_settings_stop_a_worker_at_start_with_one_line(
    tmp_path: Path, redis: RestartableRedis, pg_dsn: str
) -> None:
    creds = tmp_path / "credentials.json"
    creds.write_text(
        json.dumps({"store-1": {"token": "t-SECRET", "api_url": "http://127.0.0.1:9"}})
    )
    creds.chmod(0o600)
    wrong_password = pg_dsn.replace(PASSWORD, "not-the-password")
    refused_at_start(
        await asyncio.to_thread(start_worker_once, tmp_path, wrong_password, redis.url),
        "journal database",
    )
    nobody = f"redis://127.0.0.1:{free_port()}/0"
    refused_at_start(
        await asyncio.to_thread(start_worker_once, tmp_path, pg_dsn, nobody), "cannot reach Redis"
    )
    creds.chmod(0o644)
    refused_at_start(
        await asyncio.to_thread(start_worker_once, tmp_path, pg_dsn, redis.url),
        "readable by others",
    )
    creds.chmod(0o600)
    write_campaign(tmp_path / "c.csv", 2, 2)  # store-1 and store-2; the file names store-1
    assert (await queue_campaign(tmp_path / "c.csv", pg_dsn)).jobs == 2
    done = await asyncio.to_thread(start_worker_once, tmp_path, pg_dsn, redis.url)
    refused_at_start(done, "no credentials for account 'store-2'")
    assert "t-SECRET" not in done.stderr
    missing = await asyncio.to_thread(
        start_worker_once, tmp_path, pg_dsn, redis.url, STAMPSYNC_FLEET_CREDENTIALS=""
    )
    refused_at_start(missing, "names no credentials file")


@pytest.fixture
def restartable() -> Iterator[PgCluster]:
    cluster = PgCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


async def test_a_postgresql_restart_mid_run_logs_one_line_each_way_and_loses_no_row(
    tmp_path: Path, redis: RestartableRedis, restartable: PgCluster
) -> None:
    """The queue and the journal share the database: the workers wait while it is away
    (nothing is claimed, so nothing is sent), say so once, and go on when it is back."""
    stores, per_store = 3, 40
    total = write_campaign(tmp_path / "c.csv", stores, per_store)
    journal = restartable.dsn
    with Sandbox(process=True, extra_tokens=stores, limit=LIMIT, seconds=1.0, members=50) as sb:
        fleet = fleet_for(tmp_path, redis.url, journal, sb, stores)
        try:
            workers = [fleet.start_worker(None, "--max-jobs", "4") for _ in range(2)]
            await fleet.wait_ready()
            fleet.enqueue(tmp_path / "c.csv", job_rows=10)
            await wait_sending(journal, "store-1")
            await asyncio.to_thread(restartable.stop)
            await asyncio.sleep(3.0)
            assert all(w.poll() is None for w in workers), fleet.logs()[-3000:]
            await asyncio.to_thread(restartable.start)
            by = await wait_settled(fleet, total, within=120)
            assert all(w.poll() is None for w in workers)
        finally:
            fleet.stop_all()
        applied_on_server = await ledger(sb)
    logs = fleet.logs()
    assert max(applied_on_server.values()) == 1, "an award was applied twice"
    assert totals(by) == {"applied": total, "failed": 0, "ambiguous": 0}, by
    down = logs.count("unavailable (")
    assert 1 <= down <= len(workers), logs[-3000:]
    assert logs.count(" is back") == down
    assert PASSWORD not in logs
    assert "Traceback" not in logs
    assert not EMAIL.findall(logs), "a worker logged an email address"


async def test_bad_rows_fail_alone_and_fleet_status_names_them(
    tmp_path: Path, redis: RestartableRedis, pg_dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A row read from the queue is checked like an input row: a bad one fails with its
    reason in the fleet's failed list (it never reached the journal), the others go on."""
    from stampsync.fleet import FleetSettings, run_worker

    campaign = tmp_path / "c.csv"
    campaign.write_text(
        "account,key,user,number_of_stamps,store\n"
        "store-1,ok-1,member1@example.com,1,1\n"
        "store-1,bad-number,member2@example.com,lots,1\n"
        "store-1,ok-1,member3@example.com,1,1\n"  # the same key again
        "store-1,wide,member4@example.com,1,1,surplus\n"
        "store-1,,member5@example.com,1,1\n"
        "store-1,ok-2,member6@example.com,1,1\n"
    )
    async with Sandbox(extra_tokens=1, limit=LIMIT, seconds=1.0, members=50) as sb:
        write_credentials(tmp_path / "credentials.json", sb, 1)
        credentials = json.loads((tmp_path / "credentials.json").read_text())
        settings = FleetSettings(
            redis_url=redis.url,
            journal=pg_dsn,
            credentials=lambda account: credentials[account],
            throttle_limit=LIMIT,
            throttle_seconds=1.0,
            poll_seconds=0.2,
        )
        assert (await queue_campaign(campaign, pg_dsn)).jobs == 1
        with caplog.at_level("INFO", logger="stampsync"):
            await run_worker(settings, burst=True)
        applied_on_server = await sb.awards()
    assert len(applied_on_server) == 2
    by = await fleet_overview(pg_dsn)
    assert by["store-1"]["applied"] == 2
    assert by["store-1"]["failed"] == 4
    assert by["store-1"]["pending"] == by["store-1"]["queued_jobs"] == 0
    shown = await asyncio.to_thread(
        CliRunner().invoke, app, ["fleet", "status", "--journal", pg_dsn, "--failed", "--json"]
    )
    assert shown.exit_code == 0, shown.stderr
    reasons = {(r["row"], r["key"]): r["reason"] for r in json.loads(shown.stdout)["failed_rows"]}
    assert set(reasons) == {(3, "bad-number"), (4, "ok-1"), (5, "wide"), (6, "")}
    assert "number_of_stamps" in reasons[(3, "bad-number")]
    assert "duplicate key" in reasons[(4, "ok-1")]
    assert "header has 5" in reasons[(5, "wide")]
    assert "key is missing" in reasons[(6, "")]
    assert not EMAIL.findall(caplog.text), "the worker logged an email address"


def write_pos_campaign(path: Path, stores: int, sales: int, store_id: int) -> int:
    """Each store's day-end file in one campaign: the import's CSV plus ``account``."""
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(
            [
                *("account", "invoice_number", "total_value", "number_of_people"),
                *("created", "store", "user"),
            ]
        )
        for i in range(sales):
            for s in range(1, stores + 1):
                user = f"member{i % 50 + 1}@example.com"
                day = "2026-03-02T10:00:00+07:00"
                out.writerow(
                    [f"store-{s}", f"store-{s}-INV-{i}", 40_000 + i, 1, day, store_id, user]
                )
    return stores * sales


async def test_a_pos_campaign_with_lost_answers_and_a_killed_worker_records_every_sale_once(
    tmp_path: Path, redis: RestartableRedis, pg_dsn: str
) -> None:
    """Twenty stores' day-end files as one fleet campaign, through the transactions
    batch: 1 % of answers lost after the server applied the sale, one worker SIGKILLed. A
    lost answer is settled by the invoice; the killed worker's jobs run again elsewhere."""
    stores, sales = 20, 25
    route = "POST /api/v2/transactions/add"
    # 1 % of answers lost (the first one surely, so the test always proves something), and
    # every answer late enough that a worker is seen holding a claim.
    faults = [f"drop_after:1:1:1@{route}", f"drop_after:0.01@{route}", "latency:1:0.1"]
    with Sandbox(
        process=True, extra_tokens=stores, limit=LIMIT, seconds=1.0, members=50, faults=faults
    ) as sb:
        total = write_pos_campaign(tmp_path / "pos.csv", stores, sales, sb.config.stores[0])
        fleet = fleet_for(tmp_path, redis.url, pg_dsn, sb, stores)
        try:
            extra = ("--max-jobs", "6", "--stalled-seconds", "3")
            victim = fleet.start_worker(None, *extra)
            fleet.start_worker(None, *extra)
            await fleet.wait_ready()
            done = await queue_campaign(
                tmp_path / "pos.csv", pg_dsn, job_rows=10, kind="transactions.add"
            )
            assert (done.jobs, done.rows) == (stores * 3, total)  # 10 rows a job
            # SIGKILLed while it holds a claimed sale: its job runs again on the other.
            await kill_while_sending(fleet, pg_dsn, victim, within=60)
            by = await wait_settled(fleet, total, within=120)
        finally:
            fleet.stop_all()
        recorded = Counter(t["invoice_number"] for t in await sb.transactions())
        counters = await sb.counters()
    assert counters.get("fault:drop_after", 0) > 0, "no answer was lost: the test proved nothing"
    assert set(recorded.values()) == {1}, "a sale was recorded twice"
    t = totals(by)
    assert t["failed"] == 0, by
    assert t["applied"] + t["ambiguous"] == total, await failed_rows(pg_dsn)
    # Every sale the journal calls applied is on the server once; an ambiguous one (the
    # killed worker's in-flight row, if its settling could not prove it) may be.
    assert t["applied"] <= len(recorded) <= total
    assert not EMAIL.findall(fleet.logs()), "a worker logged an email address"


async def test_a_running_jobs_rows_already_in_the_journal_are_not_counted_twice(
    tmp_path: Path, pg_dsn: str
) -> None:
    """``fleet status`` counts each row once: a running job's rows that the journal holds
    (claimed or settled) or the fleet's failed list holds are not pending as well. The
    Redis-restart test caught 127 of 120 rows "accounted for" before this was so."""
    write_campaign(tmp_path / "c.csv", 1, 6)
    assert (await queue_campaign(tmp_path / "c.csv", pg_dsn, job_rows=6)).jobs == 1
    con = await asyncpg.connect(pg_dsn)
    try:
        await con.execute(f"UPDATE {queue_table()} SET status = 'picked'")  # noqa: S608
        [payload] = await con.fetch(f"SELECT payload FROM {queue_table()}")  # noqa: S608
        job = json.loads(payload["payload"])
        keys = [row["key"] for row in job["rows"]]
        campaign = job["campaign"]
        # The job has sent two rows, is sending a third, and failed a fourth.
        journal = PgJournal(pg_dsn, account="store-1")
        async with journal:
            run = RunInfo.current()
            for key in keys[:3]:
                claim = await journal.aclaim(key, "stamps.add", {"k": key}, run)
                assert claim.kind == "claimed"
            for key in keys[:2]:
                await journal.afinish(key, "applied", result_id=1, run=run)
        await con.execute(
            "INSERT INTO stampsync_fleet_failed (campaign, account, row, key, reason)"
            " VALUES ($1, 'store-1', $2, $3, 'bad')",
            campaign,
            job["rows"][3]["row"],
            keys[3],
        )
    finally:
        await con.close()
    by = (await fleet_overview(pg_dsn))["store-1"]
    assert (by["applied"], by["pending"], by["failed"]) == (2, 3, 1), by
    assert by["running_jobs"] == 1
    assert by["applied"] + by["pending"] + by["failed"] + by["ambiguous"] == 6
