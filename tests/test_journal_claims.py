"""Journal claims: atomic across threads and processes, with leases that tell live from dead."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from stampsync._engine._runs import RunInfo, exclusive
from stampsync._engine.journal import SCHEMA_VERSION, Claim
from stampsync.batch import Journal
from stampsync.errors import ConcurrentRunError, ConfigurationError, StateFileError

REQUEST = {"user": "a@b.co", "store": 1, "number_of_stamps": 2}


def other_host_run(started: float | None = None) -> RunInfo:
    return RunInfo("r-elsewhere", 4242, "another-host.invalid", started or time.time())


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid  # reaped: no process has it (until the kernel reuses it, much later)


async def claim(j: Journal, run: RunInfo, key: str = "k1") -> Claim:
    return await j.aclaim(key, "stamps.add", REQUEST, run)


async def test_a_key_pending_under_a_live_run_is_held_not_sent_and_not_spoiled(
    tmp_path: Path,
) -> None:
    async with Journal(tmp_path / "j.sqlite") as j:
        first, second = RunInfo.current(), RunInfo.current()
        await j.astart_run(first)
        await j.astart_run(second)
        assert (await claim(j, first)).kind == "claimed"
        held = await claim(j, second)
        assert held.kind == "held"
        assert held.holder is not None
        assert held.holder.run == first.run
        assert f"pid {os.getpid()}" in held.holder.describe()
        entry = await j.aget("k1")
        assert entry is not None
        assert entry.status == "pending"
        assert entry.run == first.run


async def test_a_run_on_another_host_is_alive_until_its_lease_expires(tmp_path: Path) -> None:
    async with Journal(tmp_path / "j.sqlite") as j:
        away, me = other_host_run(), RunInfo.current()
        await j.astart_run(away)
        assert (await claim(j, away)).kind == "claimed"
        assert (await claim(j, me)).kind == "held"
        # Its lease runs out (it stopped renewing): its pending key becomes ambiguous.
        await j._arun(
            lambda: j._open().execute("UPDATE runs SET lease_until = 0 WHERE run = ?", (away.run,))
        )
        lost = await claim(j, me)
        assert lost.kind == "ambiguous"
        entry = await j.aget("k1")
        assert entry is not None
        assert entry.status == "ambiguous"
        # And stays so: never sent again until resolved.
        assert (await claim(j, me)).kind == "ambiguous"


async def test_a_run_whose_process_is_gone_on_this_host_is_dead_at_once(tmp_path: Path) -> None:
    async with Journal(tmp_path / "j.sqlite") as j:
        killed = RunInfo("r-killed", dead_pid(), RunInfo.current().host, time.time())
        await j.astart_run(killed)  # its lease is fresh, but its pid is gone
        assert (await claim(j, killed)).kind == "claimed"
        assert (await claim(j, RunInfo.current())).kind == "ambiguous"


async def test_ending_a_run_makes_its_cut_off_keys_ambiguous_and_frees_nothing_else(
    tmp_path: Path,
) -> None:
    async with Journal(tmp_path / "j.sqlite") as j:
        run = RunInfo.current()
        await j.astart_run(run)
        for key in ("sent", "cut-off"):
            assert (await claim(j, run, key)).kind == "claimed"
        await j.afinish("sent", "applied", result_id=7)
        await j.aend_run(run)
        assert j.counts() == {"pending": 0, "applied": 1, "failed": 0, "ambiguous": 1}
        assert (await claim(j, RunInfo.current(), "sent")).kind == "applied"


async def test_failed_keys_are_claimed_again_and_conflicting_requests_refused(
    tmp_path: Path,
) -> None:
    async with Journal(tmp_path / "j.sqlite") as j:
        run = RunInfo.current()
        await j.astart_run(run)
        await claim(j, run)
        await j.afinish("k1", "failed", error="400")
        again = await claim(j, RunInfo.current())
        assert again.kind == "claimed"
        other = await j.aclaim("k1", "stamps.add", {**REQUEST, "number_of_stamps": 3}, run)
        assert other.kind == "conflict"


async def test_a_journal_written_before_leases_opens_and_its_pending_keys_are_ambiguous(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.executescript(
        """
        CREATE TABLE writes (key TEXT PRIMARY KEY, operation TEXT NOT NULL, request TEXT NOT NULL,
          status TEXT NOT NULL, result_id INTEGER, error TEXT, attempts INTEGER NOT NULL DEFAULT 0,
          run TEXT, updated_at REAL NOT NULL);
        INSERT INTO writes VALUES ('k1', 'stamps.add',
          '{"number_of_stamps":2,"store":1,"user":"a@b.co"}', 'pending', NULL, NULL, 1, 'x', 0);
        INSERT INTO writes VALUES ('k2', 'stamps.add',
          '{"number_of_stamps":2,"store":1,"user":"a@b.co"}', 'applied', 5, NULL, 1, 'x', 0);
        """
    )
    db.commit()
    db.close()
    async with Journal(path) as j:
        run = RunInfo.current()
        await j.astart_run(run)
        assert (await claim(j, run, "k1")).kind == "ambiguous"
        assert (await claim(j, run, "k2")).kind == "applied"


def test_two_threads_racing_for_one_key_never_both_claim_it(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    with Journal(path):
        pass  # create the file and schema first
    results: list[str] = []
    start = threading.Barrier(8)

    def contender() -> None:
        async def go() -> None:
            async with Journal(path) as j:
                run = RunInfo.current()
                await j.astart_run(run)
                start.wait()
                for i in range(50):
                    results.append((await claim(j, run, f"k{i}")).kind)

        asyncio.run(go())

    threads = [threading.Thread(target=contender) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("claimed") == 50  # each key exactly once across 8 journals
    assert results.count("held") == 350


def test_journal_files_are_private(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        with Journal(tmp_path / "j.sqlite"):
            pass
    finally:
        os.umask(old)
    for name in ("j.sqlite",):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600


def test_a_sqlite_failure_is_a_typed_error(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    with Journal(path) as j:
        j._run(lambda: j._open().execute("DROP TABLE writes"))
        with pytest.raises(StateFileError, match="no such table"):
            j.get("k1")


def test_an_exclusive_file_refuses_a_second_live_run_naming_it(tmp_path: Path) -> None:
    target = tmp_path / "state.sqlite"
    with exclusive(target, "sync state") as me:
        holder = subprocess.run(
            [
                sys.executable,
                "-c",
                "from pathlib import Path\nfrom stampsync._engine._runs import exclusive\n"
                "try:\n"
                f"    with exclusive(Path({str(target)!r}), 'sync state'): pass\n"
                "except Exception as e: print(type(e).__name__, e)",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert "ConcurrentRunError" in holder
        assert f"pid {me.pid}" in holder
    with exclusive(target, "sync state"):
        pass  # released when the first run ended
    with (
        pytest.raises(ConcurrentRunError),
        exclusive(target, "sync state"),
        exclusive(target, "sync state"),
    ):
        pass


def user_version(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        return int(db.execute("PRAGMA user_version").fetchone()[0])
    finally:
        db.close()


def test_the_schema_version_is_recorded_and_an_old_journal_is_upgraded_in_place(
    tmp_path: Path,
) -> None:
    new = tmp_path / "new.sqlite"
    with Journal(new):
        pass
    assert user_version(new) == SCHEMA_VERSION == 2
    old = tmp_path / "old.sqlite"
    db = sqlite3.connect(old)  # a journal as written before leases: no runs, version 0
    db.execute(
        "CREATE TABLE writes (key TEXT PRIMARY KEY, operation TEXT NOT NULL, request TEXT NOT"
        " NULL, status TEXT NOT NULL, result_id INTEGER, error TEXT, attempts INTEGER NOT NULL"
        " DEFAULT 0, run TEXT, updated_at REAL NOT NULL)"
    )
    db.execute(
        "INSERT INTO writes VALUES ('k2', 'stamps.add', '{}', 'applied', 5, NULL, 1, 'x', 0)"
    )
    db.commit()
    db.close()
    with Journal(old) as j:
        entry = j.get("k2")
        assert entry is not None
        assert entry.result_id == 5
    assert user_version(old) == 2
    with contextlib.closing(sqlite3.connect(old)) as db:  # Python 3.13+ warns of an unclosed one
        tables = db.execute("SELECT name FROM sqlite_master").fetchall()
    assert ("runs",) in tables


def test_a_journal_from_a_newer_stampsync_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "future.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE writes (key TEXT PRIMARY KEY, shape TEXT)")
    db.execute("PRAGMA user_version = 3")
    db.commit()
    db.close()
    with pytest.raises(ConfigurationError, match=r"newer stampsync \(schema 3"), Journal(path):
        pass
    assert user_version(path) == 3
    with contextlib.closing(sqlite3.connect(path)) as db:
        names = db.execute("SELECT name FROM sqlite_master").fetchall()
    assert ("runs",) not in names  # nothing added to a file this version does not know


async def test_a_new_run_ends_the_dead_runs_it_finds_and_leaves_live_ones(
    tmp_path: Path,
) -> None:
    async with Journal(tmp_path / "j.sqlite") as j:
        here = RunInfo.current().host
        killed = RunInfo("r-killed", dead_pid(), here, time.time())
        away = other_host_run()
        for run, key in ((killed, "of-killed"), (away, "of-away")):
            await j.astart_run(run)
            assert (await claim(j, run, key)).kind == "claimed"
        await j.abegin("of-old-version", "stamps.add", REQUEST, "before-leases")
        await j.astart_run(RunInfo.current())  # no claim needed: starting is enough
        assert {e.key for e in j.entries("ambiguous")} == {"of-killed", "of-old-version"}
        pending = j.get("of-away")
        assert pending is not None
        assert pending.status == "pending"  # the other host's run holds a fresh lease


async def test_an_outcome_lands_only_on_its_own_runs_claim(tmp_path: Path) -> None:
    async with Journal(tmp_path / "j.sqlite") as j:
        slow, later = RunInfo.current(), RunInfo.current()
        await j.astart_run(slow)
        await claim(j, slow)
        await j.aend_run(slow)  # taken for ended: its key is ambiguous...
        j.resolve("k1", applied=False)  # ...a person says it was not applied...
        await j.astart_run(later)
        assert (await claim(j, later)).kind == "claimed"  # ...and a later run sends it
        assert not await j.afinish("k1", "failed", error="late answer", run=slow)
        assert await j.afinish("k1", "applied", result_id=9, run=later)
        entry = j.get("k1")
        assert entry is not None
        assert (entry.status, entry.result_id, entry.run) == ("applied", 9, later.run)


async def test_resolve_refuses_a_key_a_live_run_is_sending(tmp_path: Path) -> None:
    async with Journal(tmp_path / "j.sqlite") as j:
        live = RunInfo.current()
        await j.astart_run(live)
        await claim(j, live)
        with pytest.raises(ConfigurationError, match=f"live run \\(pid {os.getpid()} on"):
            j.resolve("k1", applied=False)
        entry = j.get("k1")
        assert entry is not None
        assert entry.status == "pending"
        killed = RunInfo("r-killed", dead_pid(), live.host, time.time())
        await j.astart_run(killed)
        await claim(j, killed, "k2")
        j.resolve("k2", applied=True, result_id=3)  # its run is gone: a person may settle it
        assert j.counts()["applied"] == 1


async def test_a_run_taken_for_dead_is_alive_again_once_it_renews(tmp_path: Path) -> None:
    async with Journal(tmp_path / "j.sqlite") as j:
        away, me = other_host_run(), RunInfo.current()
        await j.astart_run(away)
        await j._arun(
            lambda: j._open().execute("UPDATE runs SET lease_until = 0 WHERE run = ?", (away.run,))
        )
        await j.astart_run(me)  # ends the lapsed run
        await j.arenew_run(away)  # it was only paused
        assert (await claim(j, away)).kind == "claimed"
        assert (await claim(j, me)).kind == "held"


async def test_the_sqlite_journal_hints_settled_keys_too(tmp_path: Path) -> None:
    async with Journal(tmp_path / "j.sqlite") as j:
        run = RunInfo.current()
        await j.astart_run(run)
        await claim(j, run, "done")
        await j.afinish("done", "applied", run=run)
        await claim(j, run, "open")
        assert [await j.asettled(k) for k in ("done", "open", "new")] == [True, False, False]
