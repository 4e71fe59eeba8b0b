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
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from stampsync.batch import Journal
from stampsync.sandbox import Fault, Sandbox
from tests._cli import FAST, ROUTE, env_for, good_rows, partial_report, wait_for_lines, write_awards

KEYS = 500


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
        [sys.executable, "-m", "stampsync.cli", *args, "--report", str(report), *FAST],
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
    victim_partial = partial_report(tmp_path / "victim.jsonl")
    wait_for_lines(victim_partial, 60)
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=30)
    survivor.communicate(timeout=120)
    rerun = start(sandbox, src, journal, tmp_path / "rerun.jsonl")
    _, err = rerun.communicate(timeout=120)

    on_server = ledger(sandbox, prefix)
    assert max(on_server.values()) == 1  # zero duplicates
    with Journal(journal) as j:
        counts = j.counts()
        ambiguous = {e.key for e in j.entries("ambiguous")}
    assert counts["pending"] == 0
    assert counts["applied"] + counts["ambiguous"] == KEYS
    # Ambiguous keys are only the victim's in-flight awards: at most its 10 batch tasks,
    # none with an outcome in its report, and every other key applied exactly once.
    assert len(ambiguous) <= 10
    finished_by_victim = {r["key"] for r in rows(victim_partial)}
    assert not ambiguous & finished_by_victim
    assert set(on_server) >= {f"{prefix}k{i}" for i in range(KEYS)} - ambiguous
    assert rerun.returncode == (3 if ambiguous else 0), err.decode()
