"""The stampsync command line, as a batch script would use it."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import anyio
import pytest

from stampsync.batch import Journal
from stampsync.cli._app import app
from stampsync.sandbox import Fault, Sandbox
from stampsync.testing import max_in_window
from tests._cli import (
    FAST,
    ROUTE,
    arrivals,
    cli_process,
    env_for,
    good_rows,
    partial_report,
    report_rows,
    run_cli,
    runner,
    server_awards,
    wait_for_lines,
    write_awards,
)


@pytest.mark.stampsync_sandbox(members=50)
def test_award_reports_every_row_and_fails_bad_rows(
    stampsync_sandbox: Sandbox, tmp_path: Path
) -> None:
    rows = [
        *good_rows(5),
        ["bad-n", "member1@example.com", 1, "many", ""],
        ["bad-store", "member1@example.com", "x", 1, ""],
        ["too-many", "member1@example.com", 1, 1, "", "surplus"],
        ["huge", "member1@example.com", 1, 10**23, ""],
    ]
    src = write_awards(tmp_path / "awards.csv", rows)
    code, _, err = run_cli(
        [
            "stamps",
            "award",
            "--input",
            str(src),
            "--journal",
            str(tmp_path / "j.sqlite"),
            "--report",
            str(tmp_path / "r.jsonl"),
            *FAST,
        ],
        stampsync_sandbox,
    )
    assert code == 1, err
    report = report_rows(tmp_path / "r.jsonl")
    assert len(report) == len(rows)
    assert all(set(r) == {"row", "key", "user", "status", "award_id", "error"} for r in report)
    by_key = {r["key"]: r for r in report}
    # Each row names its line in the file (the header is line 1) and its customer.
    assert {k: by_key[k]["row"] for k in ("k0", "bad-n", "huge")} == {
        "k0": 2,
        "bad-n": 7,
        "huge": 10,
    }
    assert by_key["k3"]["user"] == "member4@example.com"
    assert [by_key[f"k{i}"]["status"] for i in range(5)] == ["applied"] * 5
    assert by_key["bad-n"]["status"] == "failed"
    assert "number_of_stamps" in str(by_key["bad-n"]["error"])
    assert "store" in str(by_key["bad-store"]["error"])
    assert "6 cells but the header has 5" in str(by_key["too-many"]["error"])
    assert "over the limit" in str(by_key["huge"]["error"])
    assert server_awards(stampsync_sandbox) == Counter({f"k{i}": 1 for i in range(5)})
    assert "applied 5" in err


@pytest.mark.stampsync_sandbox(members=50)
def test_award_exit_0_and_rerun_sends_nothing(stampsync_sandbox: Sandbox, tmp_path: Path) -> None:
    src = write_awards(tmp_path / "a.csv", good_rows(30))
    args = [
        "stamps",
        "award",
        "--input",
        str(src),
        "--journal",
        str(tmp_path / "j.sqlite"),
        "--report",
        str(tmp_path / "r.jsonl"),
        *FAST,
    ]
    assert run_cli(args, stampsync_sandbox)[0] == 0
    before = arrivals(stampsync_sandbox)
    code, _, err = run_cli(args, stampsync_sandbox)
    assert code == 0
    assert arrivals(stampsync_sandbox) == before
    assert "already in the journal" in err
    assert len(report_rows(tmp_path / "r.jsonl")) == 30


@pytest.mark.stampsync_sandbox(members=50, faults=[Fault("drop_after", route=ROUTE, times=2)])
def test_award_exit_3_when_ambiguous_then_resolve(
    stampsync_sandbox: Sandbox, tmp_path: Path
) -> None:
    src = write_awards(tmp_path / "a.csv", good_rows(10))
    journal = tmp_path / "j.sqlite"
    args = [
        "stamps",
        "award",
        "--input",
        str(src),
        "--journal",
        str(journal),
        "--report",
        str(tmp_path / "r.jsonl"),
        *FAST,
    ]
    code, _, err = run_cli(args, stampsync_sandbox)
    assert code == 3
    assert "journal resolve" in err
    code, out, _ = run_cli(
        ["stamps", "journal", "list", "--journal", str(journal), "--status", "ambiguous"],
        stampsync_sandbox,
    )
    assert code == 0
    ambiguous = [json.loads(line)["key"] for line in out.splitlines()]
    assert len(ambiguous) == 2
    for key in ambiguous:
        assert (
            run_cli(
                ["stamps", "journal", "resolve", key, "--journal", str(journal), "--applied"],
                stampsync_sandbox,
            )[0]
            == 0
        )
    assert run_cli(args, stampsync_sandbox)[0] == 0
    assert max(server_awards(stampsync_sandbox).values()) == 1
    code, _, err = run_cli(
        ["stamps", "journal", "resolve", ambiguous[0], "--journal", str(journal), "--applied"],
        stampsync_sandbox,
    )
    assert code == 2
    assert "not ambiguous" in err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "does not exist"),
        (b"", "is empty"),
        (b"key,user,store,number_of_stamps\n\xff\xfe,bad\n", "not UTF-8"),
        (b"key,user,stamps\nk,u,1\n", "missing column"),
        (b"key,user,store,number_of_stamps,colour\nk,u,1,1,red\n", "unknown column"),
        (b"key,user,store,number_of_stamps\n", "no rows"),
    ],
    ids=["missing", "empty", "not-utf8", "wrong-columns", "extra-column", "header-only"],
)
def test_bad_input_files_exit_2_and_send_nothing(
    stampsync_sandbox: Sandbox, tmp_path: Path, content: bytes | None, message: str
) -> None:
    src = tmp_path / "awards.csv"
    if content is not None:
        src.write_bytes(content)
    code, _, err = run_cli(
        [
            "stamps",
            "award",
            "--input",
            str(src),
            "--journal",
            str(tmp_path / "j.sqlite"),
            "--report",
            str(tmp_path / "r.jsonl"),
        ],
        stampsync_sandbox,
    )
    assert code == 2
    assert message in err
    assert arrivals(stampsync_sandbox) == 0


def test_missing_credentials_are_named_and_secrets_never_echoed(
    stampsync_sandbox: Sandbox, tmp_path: Path
) -> None:
    src = write_awards(tmp_path / "a.csv", good_rows(2))
    base = [
        "stamps",
        "award",
        "--input",
        str(src),
        "--journal",
        str(tmp_path / "j.sqlite"),
        "--report",
        str(tmp_path / "r.jsonl"),
    ]
    result = runner.invoke(
        app, base, env={"STAMPS_API_URL": stampsync_sandbox.url, "STAMPS_TOKEN": ""}
    )
    assert result.exit_code == 2
    assert "STAMPS_TOKEN" in result.stderr
    wrong = runner.invoke(
        app, [*base, "--token", "tok-WRONG-SECRET-1"], env={"STAMPS_API_URL": stampsync_sandbox.url}
    )
    # The preflight ping meets the 401: stopped before any award, nothing ambiguous.
    assert wrong.exit_code == 4, wrong.stderr
    assert "credentials refused (401)" in wrong.stderr
    report = (tmp_path / "r.jsonl").read_text()
    assert not server_awards(stampsync_sandbox)
    assert '"ambiguous"' not in report
    helptext = runner.invoke(
        app, ["stamps", "award", "--help"], env={"STAMPS_TOKEN": "tok-ENV-SECRET-2"}
    ).stdout
    for text in (wrong.stdout, wrong.stderr, report, helptext):
        assert "tok-WRONG-SECRET-1" not in text
        assert "tok-ENV-SECRET-2" not in text
    assert "Invalid token" in report


def test_plain_http_to_a_remote_host_is_refused(tmp_path: Path) -> None:
    src = write_awards(tmp_path / "a.csv", good_rows(1))
    result = runner.invoke(
        app,
        [
            "stamps",
            "award",
            "--input",
            str(src),
            "--journal",
            str(tmp_path / "j"),
            "--report",
            str(tmp_path / "r"),
            "--api-url",
            "http://stamps.example",
            "--token",
            "t",
        ],
    )
    assert result.exit_code == 2
    assert "https is required" in result.stderr


@pytest.mark.stampsync_sandbox(customers=2345)
@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_export_customers(stampsync_sandbox: Sandbox, tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"customers{suffix}"
    code, _, err = run_cli(
        ["stamped", "export-customers", "--out", str(out), *FAST], stampsync_sandbox
    )
    assert code == 0, err
    if suffix == ".jsonl":
        rows = [json.loads(line) for line in out.read_text().splitlines()]
        assert [r["id"] for r in rows] == list(range(1, 2346))
        assert rows[0]["email"] == "customer1@example.com"
        assert "first_name" in rows[0]  # the SDK's names (--field-names api: firstName)
    else:
        with out.open() as fh:
            rows = list(csv.DictReader(fh))
        assert len(rows) == 2345
        assert rows[-1]["email"] == "customer2345@example.com"
    assert not out.with_name(out.name + ".state").exists()
    assert "exported 2345 customers" in err


@pytest.mark.stampsync_sandbox(
    customers=3000, faults=[Fault("latency", route="GET *", seconds=0.03)]
)
def test_export_resumes_after_kill_9(stampsync_sandbox: Sandbox, tmp_path: Path) -> None:
    out = tmp_path / "c.jsonl"
    args = ["stamped", "export-customers", "--out", str(out), "--batch", "2", *FAST]
    proc = cli_process(args, stampsync_sandbox)
    wait_for_lines(out.with_name(out.name + ".partial"), 700)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)
    assert out.with_name(out.name + ".state").exists()
    code, _, err = run_cli([*args, "--resume"], stampsync_sandbox)
    assert code == 0, err
    ids = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    assert ids == list(range(1, 3001))


@pytest.mark.stampsync_sandbox(members=100, faults=[Fault("latency", route=ROUTE, seconds=0.02)])
def test_award_killed_with_sigkill_then_rerun(stampsync_sandbox: Sandbox, tmp_path: Path) -> None:
    src = write_awards(tmp_path / "a.csv", good_rows(200))
    journal, report = tmp_path / "j.sqlite", tmp_path / "r.jsonl"
    args = [
        "stamps",
        "award",
        "--input",
        str(src),
        "--journal",
        str(journal),
        "--report",
        str(report),
        *FAST,
    ]
    proc = cli_process(args, stampsync_sandbox)
    wait_for_lines(partial_report(report), 40)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)
    # A killed run's rows stay in its partial report; the next run writes a whole one.
    assert len(report_rows(partial_report(report))) >= 40
    assert not report.exists()
    code, _, err = run_cli(args, stampsync_sandbox)
    assert code in (0, 3), err
    rows = report_rows(report)
    assert sorted(str(r["key"]) for r in rows) == sorted(f"k{i}" for i in range(200))
    on_server = server_awards(stampsync_sandbox)
    assert max(on_server.values()) == 1  # zero duplicates
    applied = {r["key"] for r in rows if r["status"] == "applied"}
    ambiguous = {r["key"] for r in rows if r["status"] == "ambiguous"}
    assert applied <= set(on_server)
    assert applied | ambiguous == {f"k{i}" for i in range(200)}
    assert len(ambiguous) <= 16  # at most what was in flight when killed


@pytest.mark.stampsync_sandbox(members=100, faults=[Fault("latency", route=ROUTE, seconds=0.05)])
def test_award_sigint_stops_gracefully(stampsync_sandbox: Sandbox, tmp_path: Path) -> None:
    src = write_awards(tmp_path / "a.csv", good_rows(300))
    journal, report = tmp_path / "j.sqlite", tmp_path / "r.jsonl"
    proc = cli_process(
        [
            "stamps",
            "award",
            "--input",
            str(src),
            "--journal",
            str(journal),
            "--report",
            str(report),
            *FAST,
        ],
        stampsync_sandbox,
    )
    wait_for_lines(partial_report(report), 30)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr.decode()
    assert b"interrupted" in stderr
    rows = report_rows(report)
    assert 30 <= len(rows) < 300
    with Journal(journal) as j:
        counts = j.counts()
    assert counts["pending"] == 0  # every sent award has its outcome
    assert counts["applied"] == len(rows) == sum(server_awards(stampsync_sandbox).values())


@pytest.mark.stampsync_sandbox(customers=100)
def test_sync_customers_sends_only_changes(stampsync_sandbox: Sandbox, tmp_path: Path) -> None:
    src = tmp_path / "customers.csv"
    rows = [["email", "first_name", "last_name", "subscribed"]] + [
        [f"person{i}@x.co", f"P{i}", "Lee", "yes" if i % 2 else "no"] for i in range(20)
    ]
    with src.open("w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    state = tmp_path / "sync.sqlite"
    base = ["stamped", "sync-customers", "--input", str(src), "--state", str(state), *FAST]
    code, _, err = run_cli([*base, "--dry-run"], stampsync_sandbox)
    assert (code, arrivals(stampsync_sandbox)) == (0, 0)
    assert "would send 20" in err
    code, _, err = run_cli(base, stampsync_sandbox)
    assert code == 0
    assert "sent 20" in err
    # The credentials check before the first write, then an upsert and a subscription each.
    assert arrivals(stampsync_sandbox) == 41
    person3 = anyio.run(stampsync_sandbox.customer, "person3@x.co")
    assert person3 is not None
    assert (person3["firstName"], person3["subscribed"]) == ("P3", True)
    code, _, err = run_cli(base, stampsync_sandbox)
    assert "sent 0, unchanged 20" in err
    assert arrivals(stampsync_sandbox) == 41  # nothing to write: not even the check
    rows[4][1] = "Changed"
    rows.append(["not-an-email", "X", "Y", "yes"])
    with src.open("w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    code, _, err = run_cli([*base, "--report", str(tmp_path / "s.jsonl")], stampsync_sandbox)
    assert code == 1
    assert "sent 1, unchanged 19, failed 1" in err
    assert arrivals(stampsync_sandbox) == 44
    failed = [r for r in report_rows(tmp_path / "s.jsonl") if r["status"] == "failed"]
    assert "email" in str(failed[0]["error"])


def test_demo_quick(tmp_path: Path) -> None:
    result = runner.invoke(app, ["demo", "--quick", "--dir", str(tmp_path / "demo")])
    assert result.exit_code == 0, result.stderr
    assert "FAIL" not in result.stderr
    assert (tmp_path / "demo" / "report.jsonl").exists()


#: Runs the command line in a subprocess with stampsync's DEBUG log on stderr, as a user
#: chasing a problem would (the CLI itself sets no log level).
DEBUG_CLI = (
    "import logging, sys\n"
    "logging.basicConfig(level=logging.DEBUG, format='%(levelname)s %(name)s %(message)s')\n"
    "from stampsync.cli import main\n"
    "main(sys.argv[1:])\n"
)


def test_award_keeps_its_throttle_limit_and_logs_no_secret_at_debug(tmp_path: Path) -> None:
    """``--throttle-limit``/``--throttle-seconds`` reach the requests: a strict sandbox in
    its own process, at that same quota, never sees more in a window nor answers 429. The
    run's DEBUG log on stderr has its requests and none of its credentials."""
    limit, seconds = 5, 1.0
    with Sandbox(process=True, members=20, limit=limit, seconds=seconds) as sb:
        src = write_awards(tmp_path / "a.csv", good_rows(20))
        args = ["stamps", "award", "--input", str(src), "--journal", str(tmp_path / "j.sqlite")]
        args += ["--report", str(tmp_path / "r.jsonl")]
        tuning = ["--throttle-limit", str(limit), "--throttle-seconds", "1"]
        done = subprocess.run(
            [sys.executable, "-c", DEBUG_CLI, *args, *tuning, "--connections", "4", "--batch", "8"],
            env={**os.environ, **env_for(sb)},
            capture_output=True,
            timeout=120,
            check=False,
        )
        times = anyio.run(sb.arrivals)
        counters = anyio.run(sb.counters)
        config = sb.config
    err = done.stderr.decode()
    assert done.returncode == 0, err
    assert len(report_rows(tmp_path / "r.jsonl")) == 20
    assert counters.get("rate_limited", 0) == 0
    assert len(times) == 21  # the preflight check, then 20 awards
    assert max_in_window(times, seconds) <= limit
    assert err.count("POST /api/stamps/add -> 200") == 20  # the DEBUG log was on
    secrets = (config.stamps_token, config.private_key, config.api_key)
    assert [s for s in secrets if s in err + done.stdout.decode()] == []
