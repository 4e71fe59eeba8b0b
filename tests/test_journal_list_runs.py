"""``journal list`` tells a live run's claims (pending) from a dead run's (ambiguous),
in a SQLite file and in a PostgreSQL journal."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from stampsync._engine._runs import RunInfo
from stampsync._engine.postgres import PgJournal
from stampsync.batch import Journal
from stampsync.cli._app import app

REQUEST = {"user": "a@b.co", "store": 1, "number_of_stamps": 2}


def dead_run() -> RunInfo:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()  # reaped: no process has its pid
    return RunInfo("r-killed", proc.pid, RunInfo.current().host, time.time())


def listed(journal: str, status: str) -> tuple[list[dict[str, object]], str]:
    args = ["stamps", "journal", "list", "--journal", journal, "--status", status]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()], result.stderr


def test_a_dead_runs_claim_is_listed_ambiguous_and_a_live_runs_stays_pending(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.sqlite"

    async def claim() -> None:
        async with Journal(path) as j:
            killed, live = dead_run(), RunInfo.current()
            # The dead run last: a run that starts ends the dead ones it finds.
            for run, key in ((live, "k-live"), (killed, "k-dead")):
                await j.astart_run(run)
                assert (await j.aclaim(key, "stamps.add", REQUEST, run)).kind == "claimed"

    asyncio.run(claim())
    ambiguous, _ = listed(str(path), "ambiguous")
    assert [e["key"] for e in ambiguous] == ["k-dead"]
    pending, err = listed(str(path), "pending")
    assert [e["key"] for e in pending] == ["k-live"]
    assert "1 pending: claimed by a run that is still running" in " ".join(err.split())


def test_a_dead_runs_claim_in_postgresql_is_listed_ambiguous(pg_dsn: str) -> None:
    async def claim() -> None:
        async with PgJournal(pg_dsn, account="shop-1") as j:
            killed = dead_run()
            await j.astart_run(killed)
            assert (await j.aclaim("k-dead", "stamps.add", REQUEST, killed)).kind == "claimed"

    asyncio.run(claim())
    ambiguous, _ = listed(pg_dsn, "ambiguous")
    assert [(e["account"], e["key"]) for e in ambiguous] == [("shop-1", "k-dead")]
    assert listed(pg_dsn, "pending")[0] == []
