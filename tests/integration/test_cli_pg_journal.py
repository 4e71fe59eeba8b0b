"""``stampsync stamps award|journal`` with ``--journal postgresql://...``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stampsync.cli._app import app
from stampsync.sandbox import Fault, Sandbox
from tests._cli import FAST, ROUTE, good_rows, run_cli, runner, server_awards, write_awards
from tests._postgres import PASSWORD

pytestmark = pytest.mark.postgres


@pytest.mark.stampsync_sandbox(members=50, faults=[Fault("drop_after", route=ROUTE, times=2)])
def test_award_list_and_resolve_on_a_postgresql_journal(
    stampsync_sandbox: Sandbox, tmp_path: Path, pg_dsn: str
) -> None:
    src = write_awards(tmp_path / "a.csv", good_rows(10))
    args = [
        "stamps",
        "award",
        "--input",
        str(src),
        "--journal",
        pg_dsn,
        "--report",
        str(tmp_path / "r.jsonl"),
        *FAST,
    ]
    code, out, err = run_cli(args, stampsync_sandbox)
    assert code == 3, err
    assert PASSWORD not in out + err
    assert "journal resolve --journal postgresql://stampsync:***@" in err
    code, out, err = run_cli(
        ["stamps", "journal", "list", "--journal", pg_dsn, "--status", "ambiguous"],
        stampsync_sandbox,
    )
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == 2
    assert {line["account"] for line in lines} == {lines[0]["account"]}
    assert lines[0]["account"].startswith("stamps:token:")
    for line in lines:
        code, _, err = run_cli(
            ["stamps", "journal", "resolve", line["key"], "--journal", pg_dsn, "--applied"],
            stampsync_sandbox,
        )
        assert code == 0, err
    assert run_cli(args, stampsync_sandbox)[0] == 0
    assert max(server_awards(stampsync_sandbox).values()) == 1
    code, _, err = run_cli(
        ["stamps", "journal", "resolve", lines[0]["key"], "--journal", pg_dsn, "--applied"],
        stampsync_sandbox,
    )
    assert code == 2
    assert "not ambiguous" in err


def test_an_unreachable_journal_database_refuses_the_run(tmp_path: Path) -> None:
    src = write_awards(tmp_path / "a.csv", good_rows(2))
    dsn = f"postgresql://u:{PASSWORD}@127.0.0.1:1/db"
    result = runner.invoke(
        app,
        [
            "stamps",
            "award",
            "--input",
            str(src),
            "--journal",
            dsn,
            "--report",
            str(tmp_path / "r.jsonl"),
            "--token",
            "tok-123456",
            "--api-url",
            "http://127.0.0.1:1",
        ],
    )
    code, out, err = result.exit_code, result.stdout, result.stderr
    assert code == 2, err
    assert "cannot connect" in err
    assert PASSWORD not in out + err
