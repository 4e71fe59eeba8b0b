"""What a SIGKILLed run leaves: its in-flight keys listed as ambiguous (not pending) by
``journal list``, and its partial report removed by the next run."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from stampsync.sandbox import Fault, Sandbox
from tests._cli import (
    FAST,
    ROUTE,
    cli_process,
    good_rows,
    partial_report,
    run_cli,
    wait_for_lines,
    wait_for_pending,
    write_awards,
)


def listed(journal: Path, sb: Sandbox, status: str) -> tuple[list[dict[str, object]], str]:
    args = ["stamps", "journal", "list", "--journal", str(journal), "--status", status]
    code, out, err = run_cli(args, sb)
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines()], err


@pytest.mark.stampsync_sandbox(members=100, faults=[Fault("latency", route=ROUTE, seconds=0.3)])
def test_a_killed_runs_keys_are_listed_ambiguous_and_its_partial_report_removed(
    stampsync_sandbox: Sandbox, tmp_path: Path
) -> None:
    sb = stampsync_sandbox
    src = write_awards(tmp_path / "awards.csv", good_rows(40))
    journal, report = tmp_path / "j.sqlite", tmp_path / "r.jsonl"
    args = ["stamps", "award", "--input", str(src), "--journal", str(journal)]
    args += ["--report", str(report), "--batch", "4", "--connections", "4", *FAST]
    proc = cli_process(args, sb)
    partial = partial_report(report)
    wait_for_lines(partial, 4)
    wait_for_pending(journal)
    proc.send_signal(signal.SIGKILL)  # requests in flight: their keys were claimed
    proc.communicate(timeout=10)

    ambiguous, _ = listed(journal, sb, "ambiguous")
    assert ambiguous, "the killed run's in-flight keys are not listed as ambiguous"
    assert all(e["status"] == "ambiguous" for e in ambiguous)
    pending, _ = listed(journal, sb, "pending")
    assert pending == []
    assert partial.exists()  # listing leaves the report alone

    code, _, err = run_cli(args, sb)
    assert code == 3, err  # the killed run's ambiguous keys are left for a person
    assert not partial.exists(), "the killed run's partial report was left behind"
    assert report.exists()
    assert list(tmp_path.glob(".r.jsonl.*.partial")) == []
