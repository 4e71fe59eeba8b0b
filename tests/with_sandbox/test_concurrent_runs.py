"""Two `stampsync stamps award` runs on one journal, against a sandbox in its own process.

The overlap users meet: a cron job starting while a manual rerun is still going, and a
run killed with SIGKILL in the middle. The sandbox's award ledger is the judge.
"""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import pytest

from stampsync.batch import BatchReport, Journal
from stampsync.sandbox import Fault, Sandbox
from stampsync.stamps import StampAward, StampDeduction
from tests._barrier import start_together
from tests._cli import FAST, ROUTE, env_for, good_rows, write_awards

KEYS = 500
#: 20 awards in flight per run: more overlap between the two runs, and each run of 500
#: keys takes a few seconds at 50 ms a request (the default 2 connections would take 13).
WIDE = ["--batch", "20", "--connections", "20"]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    # In its own process, so the server's clock and loop are not the clients'.
    with Sandbox(
        process=True, members=100, faults=[Fault("latency", route=ROUTE, seconds=0.05)]
    ) as sb:
        yield sb


def start(sb: Sandbox, src: Path, journal: Path, report: Path) -> subprocess.Popen[bytes]:
    args = ["stamps", "award", "--input", str(src), "--journal", str(journal)]
    return subprocess.Popen(
        [sys.executable, "-m", "stampsync.cli", *args, "--report", str(report), *FAST, *WIDE],
        env={**os.environ, **env_for(sb)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def ledger(sb: Sandbox, prefix: str) -> collections.Counter[str]:
    notes = (str(a["notes"]) for a in anyio.run(sb.awards))
    return collections.Counter(n for n in notes if n.startswith(prefix))


def rows(report: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in report.read_text().splitlines()]


def awards_file(path: Path, prefix: str) -> Path:
    # The key goes in the notes too, so the server's ledger says which key each award is.
    return write_awards(
        path, [[prefix + str(k), u, s, n, prefix + str(k)] for k, u, s, n, _ in good_rows(KEYS)]
    )


@pytest.mark.parametrize("repetition", range(5))
def test_two_runs_on_one_journal_apply_each_key_once(
    sandbox: Sandbox, tmp_path: Path, repetition: int
) -> None:
    prefix = f"twice{repetition}-"
    src = awards_file(tmp_path / "a.csv", prefix)
    journal = tmp_path / "j.sqlite"
    first = start(sandbox, src, journal, tmp_path / "r1.jsonl")
    second = start(sandbox, src, journal, tmp_path / "r2.jsonl")
    _, err1 = first.communicate(timeout=120)
    _, err2 = second.communicate(timeout=120)

    on_server = ledger(sandbox, prefix)
    assert len(on_server) == KEYS  # every key applied...
    assert max(on_server.values()) == 1  # ...and none twice
    with Journal(journal) as j:
        assert j.counts() == {"pending": 0, "applied": KEYS, "failed": 0, "ambiguous": 0}
    for proc, err, report in ((first, err1, "r1.jsonl"), (second, err2, "r2.jsonl")):
        reported = rows(tmp_path / report)
        assert len(reported) == KEYS  # one line per row, whoever sent it
        held = [r for r in reported if "held by another run" in str(r["error"])]
        # 0 when it sent or skipped every key; 1 when the other run held some of them.
        assert proc.returncode == (1 if held else 0), err.decode()
        assert all(r["status"] in ("applied", "failed") for r in reported)
        other = second if proc is first else first
        assert all(f"(pid {other.pid} on " in str(r["error"]) for r in held)  # named
        if held:
            assert b"held by another run" in err
    sent_by = {
        name: {r["key"] for r in rows(tmp_path / name) if r["status"] == "applied"}
        for name in ("r1.jsonl", "r2.jsonl")
    }
    assert sent_by["r1.jsonl"] | sent_by["r2.jsonl"] == set(on_server)


def test_one_of_two_runs_killed_then_a_rerun_applies_each_key_once(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    prefix = "killed-"
    src = awards_file(tmp_path / "a.csv", prefix)
    journal = tmp_path / "j.sqlite"
    victim = start(sandbox, src, journal, tmp_path / "victim.jsonl")
    survivor = start(sandbox, src, journal, tmp_path / "survivor.jsonl")
    deadline = time.monotonic() + 60
    while sum(ledger(sandbox, prefix).values()) < KEYS // 4:  # both runs are well under way
        assert time.monotonic() < deadline, "the runs did not get going"
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=30)
    assert survivor.poll() is None, "kill the victim while the other run is still going"
    _, survivor_err = survivor.communicate(timeout=120)
    rerun = start(sandbox, src, journal, tmp_path / "rerun.jsonl")
    _, err = rerun.communicate(timeout=120)

    on_server = ledger(sandbox, prefix)
    assert max(on_server.values()) == 1  # zero duplicates
    with Journal(journal) as j:
        counts = j.counts()
        ambiguous = list(j.entries("ambiguous"))
        runs = j._run(lambda: j._open().execute("SELECT run, pid, ended FROM runs").fetchall())
    assert counts["pending"] == 0
    assert counts["applied"] + counts["ambiguous"] == KEYS
    assert set(on_server) >= {f"{prefix}k{i}" for i in range(KEYS)} - {e.key for e in ambiguous}
    # Ambiguous keys are only the victim's in-flight awards: claimed under its run (the
    # one whose pid was killed), at most its 20 tasks; every run is over.
    victim_runs = {run for run, pid, _ in runs if pid == victim.pid}
    assert len(victim_runs) == 1
    assert {e.run for e in ambiguous} <= victim_runs
    assert len(ambiguous) <= 20
    assert all(ended for _, _, ended in runs)
    # The survivor: 3 if it met the victim's lost keys, 1 if it only met keys held by the
    # victim while it lived, else 0. The rerun: 3 if any key is ambiguous, else 0.
    survived = rows(tmp_path / "survivor.jsonl")
    expected = (
        3
        if any(r["status"] == "ambiguous" for r in survived)
        else 1
        if any(r["status"] == "failed" for r in survived)
        else 0
    )
    assert survivor.returncode == expected, survivor_err.decode()
    assert all(
        r["status"] != "failed" or f"(pid {victim.pid} on " in str(r["error"]) for r in survived
    )
    assert rerun.returncode == (3 if ambiguous else 0), err.decode()


def test_two_deduct_many_runs_on_one_journal_deduct_each_key_once(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    # deduct_many shares the journal protocol with add_many: two runs in two threads
    # (one process, two journals' connections) race over the same 200 deductions.
    users = [f"member{i}@example.com" for i in range(1, 21)]

    async def fund() -> None:
        async with sandbox.stamps_client() as sp:
            for user in users:
                await sp.stamps.add(user=user, number_of_stamps=50, notes="fund")

    anyio.run(fund)
    deductions = [
        StampDeduction(key=f"d{i}", user=users[i % 20], stamps=1, notes=f"deduct-d{i}")
        for i in range(200)
    ]
    journal = tmp_path / "d.sqlite"
    reports: list[BatchReport] = []
    go = threading.Barrier(2)

    def run() -> None:
        async def deduct() -> None:
            fast = {"throttle_limit": 100_000, "throttle_seconds": 1.0}
            async with sandbox.stamps_client(concurrent_batch_executions=20, **fast) as sp:
                go.wait()
                reports.append(await sp.stamps.deduct_many(deductions, journal=journal))

        anyio.run(deduct)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)

    notes = collections.Counter(str(d["notes"]) for d in anyio.run(sandbox.deductions))
    ours = {n: c for n, c in notes.items() if n.startswith("deduct-d")}
    assert len(ours) == 200  # every deduction made...
    assert max(ours.values()) == 1  # ...none twice
    assert len(reports) == 2
    assert sum(r.sent for r in reports) == 200
    for report in reports:
        assert len(report.outcomes) == 200
        failed = [o for o in report if o.status == "failed"]
        assert report.held == len(failed)
        assert all(o.error and "held by another run" in o.error for o in failed)
    with Journal(journal) as j:
        assert j.counts() == {"pending": 0, "applied": 200, "failed": 0, "ambiguous": 0}


def test_a_live_run_meets_the_pending_key_of_a_run_killed_after_it_started(
    tmp_path: Path,
) -> None:
    """A run that was already going when another was SIGKILLed mid-send reaches that
    run's pending key: it must take it for ambiguous and not send it. Its own start-up
    sweep ran while the victim lived, so only the claim itself can see the death."""
    key = "orphan-k1"
    journal = tmp_path / "j.sqlite"
    # Only the first award is held (the victim's): it is in flight when the kill comes.
    held = Fault("latency", route=ROUTE, seconds=4.0, times=1)
    with Sandbox(process=True, members=20, faults=[held]) as sb:
        src = write_awards(tmp_path / "victim.csv", [[key, "member1@example.com", 1, 1, key]])
        victim = start(sb, src, journal, tmp_path / "victim.jsonl")
        deadline = time.monotonic() + 30
        while anyio.run(sb.counters).get("fault:latency", 0) < 1:
            assert victim.poll() is None, victim.communicate()[1].decode()
            assert time.monotonic() < deadline, "the victim's award never arrived"
            time.sleep(0.05)
        killed: list[str] = []

        async def survivor_rows() -> AsyncIterator[StampAward]:
            # The survivor's run is registered (and has swept) before its first row is
            # asked for: the victim dies only now.
            victim.send_signal(signal.SIGKILL)
            victim.communicate(timeout=30)  # and close its pipe
            with Journal(journal) as j:
                entry = j.get(key)
                assert entry is not None
                killed.append(entry.status)
            yield StampAward(key=key, user="member1@example.com", number_of_stamps=1, notes=key)
            yield StampAward(key="fresh-k2", user="member2@example.com", number_of_stamps=1)

        async def survive() -> BatchReport:
            async with sb.stamps_client() as sp:
                return await sp.stamps.add_many(survivor_rows(), journal=journal)

        report = anyio.run(survive)
        time.sleep(held.seconds)  # the victim's request, if the server kept it, is done
        on_server = collections.Counter(str(a["notes"]) for a in anyio.run(sb.awards))
    assert victim.returncode == -signal.SIGKILL
    assert killed == ["pending"]  # nothing had settled the key before the claim
    outcomes = {o.key: o.status for o in report}
    assert outcomes == {key: "ambiguous", "fresh-k2": "applied"}
    assert on_server[key] <= 1  # the victim's award at most, never a second one
    with Journal(journal) as j:
        entry = j.get(key)
        assert entry is not None
        assert entry.status == "ambiguous"


def test_two_deduct_many_processes_on_one_journal_deduct_each_key_once(tmp_path: Path) -> None:
    """The same race as above between two processes (each its own journal connection,
    nothing shared but the SQLite file), at a sandbox in a third process whose deductions
    take 20 ms, so many rows are in flight in both runs at once.

    The first 20 deductions to arrive are held 3 s: whichever run starts first keeps its
    first rows pending that long, so the other meets them even when a loaded machine starts
    it a few hundred milliseconds later (CI once saw the first run finish all 200 before
    the second had claimed a row, and nothing was raced)."""
    from tests._deduct_worker import DEDUCTIONS, USERS

    route = "POST /api/memberships/deduct-stamps"
    # The first matching fault applies: the hold, while it lasts, then the 20 ms.
    hold = Fault("latency", route=route, seconds=3.0, times=20)
    slow = Fault("latency", route=route, seconds=0.02)
    with Sandbox(process=True, members=100, faults=[hold, slow]) as sb:

        async def fund() -> None:
            async with sb.stamps_client() as sp:
                for user in USERS:
                    await sp.stamps.add(user=user, number_of_stamps=50, notes="fund")

        anyio.run(fund)
        journal = tmp_path / "d.sqlite"
        # Both begin at once, whatever each interpreter's start-up took.
        argv = [sys.executable, "-m", "tests._deduct_worker", sb.url, str(journal)]
        workers = start_together([argv, argv])
        outputs = [w.communicate(timeout=120) for w in workers]
        notes = collections.Counter(str(d["notes"]) for d in anyio.run(sb.deductions))
        counters = anyio.run(sb.counters)
    for worker, (_, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err.decode()[-2000:]
    reports = [json.loads(out) for out, _ in outputs]
    ours = {n: c for n, c in notes.items() if n.startswith("deduct-d")}
    assert len(ours) == len(DEDUCTIONS)  # every deduction made...
    assert max(ours.values()) == 1  # ...none twice
    assert counters.get("fault:latency", 0) >= len(DEDUCTIONS)  # the requests were slow
    assert sum(int(r["sent"]) for r in reports) == len(DEDUCTIONS)
    for report in reports:
        outcomes = report["outcomes"]
        assert len(outcomes) == len(DEDUCTIONS)
        failed = [o for o in outcomes if o[1] == "failed"]
        assert report["held"] == len(failed)
        assert all("held by another run" in str(o[2]) for o in failed)
        # A row the other (live) process was sending is held, never taken for ambiguous.
        assert all(o[1] in ("applied", "failed") for o in outcomes)
    assert sum(int(r["held"]) for r in reports) > 0, "the runs never met: nothing was raced"
    with Journal(journal) as j:
        assert j.counts() == {"pending": 0, "applied": 200, "failed": 0, "ambiguous": 0}
