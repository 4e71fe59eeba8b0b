"""Exit codes a script can trust, and input files refused whole before anything is sent."""

from __future__ import annotations

import csv
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest

from stampsync.batch import Journal
from stampsync.cli import main
from stampsync.sandbox import Fault, Sandbox, free_port
from tests._cli import (
    FAST,
    ROUTE,
    arrivals,
    cli_process,
    good_rows,
    partial_report,
    report_rows,
    run_cli,
    server_awards,
    wait_for_lines,
    write_awards,
)

PREVIOUS = '{"row": 2, "key": "from-the-last-run"}\n'


def award_args(src: Path, tmp_path: Path, *extra: str) -> list[str]:
    return [
        "stamps",
        "award",
        "--input",
        str(src),
        "--journal",
        str(tmp_path / "j.sqlite"),
        "--report",
        str(tmp_path / "r.jsonl"),
        *FAST,
        *extra,
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "key,user,store,number_of_stamps,number_of_stamps\nk1,a@b.co,1,5,500\n",
            "column 'number_of_stamps' appears twice (columns 4 and 5)",
        ),
        ("key,user,,store,number_of_stamps\nk1,a@b.co,,1,5\n", "header cell 3 is blank"),
        (
            "key,user,store,number_of_stamps\nk1,a@b.co,1,5\nk2,a@b.co,1,5\nk1,c@d.co,1,1\n",
            "line 4: key 'k1' is also on line 2",
        ),
        # "é" composed and decomposed: one key after NFC normalisation.
        (
            "key,user,store,number_of_stamps\ncaf\u00e9,a@b.co,1,5\ncafe\u0301,a@b.co,1,5\n",
            "line 3: key 'café' is also on line 2",
        ),
        ("key,user,store,number_of_stamps\nk1,a@b.co,1,5\n ,a@b.co,1,5\n", "line 3: the key"),
        (
            "key,user,store,number_of_stamps,colour\nk1,a@b.co,1,5,red\n",
            "unknown column(s) colour",
        ),
    ],
    ids=["duplicate-column", "blank-header", "duplicate-key", "nfc-key", "missing-key", "extra"],
)
def test_a_malformed_file_is_refused_whole_and_the_last_report_survives(
    stampsync_sandbox: Sandbox, tmp_path: Path, content: str, message: str
) -> None:
    src = tmp_path / "awards.csv"
    src.write_text(content, encoding="utf-8")
    (tmp_path / "r.jsonl").write_text(PREVIOUS)
    code, _, err = run_cli(award_args(src, tmp_path), stampsync_sandbox)
    assert code == 2, err
    assert message in err
    assert arrivals(stampsync_sandbox) == 0
    assert (tmp_path / "r.jsonl").read_text() == PREVIOUS
    assert not (tmp_path / "j.sqlite").exists()


def test_extra_columns_are_accepted_when_asked(stampsync_sandbox: Sandbox, tmp_path: Path) -> None:
    src = tmp_path / "awards.csv"
    src.write_text("key,user,store,number_of_stamps,colour\nk1,member1@example.com,1,5,red\n")
    code, _, err = run_cli(award_args(src, tmp_path, "--ignore-extra-columns"), stampsync_sandbox)
    assert code == 0, err
    assert sum(server_awards(stampsync_sandbox).values()) == 1


def test_a_journal_that_cannot_be_used_is_refused_before_the_report_is_touched(
    stampsync_sandbox: Sandbox, tmp_path: Path
) -> None:
    src = write_awards(tmp_path / "a.csv", good_rows(3))
    (tmp_path / "r.jsonl").write_text(PREVIOUS)
    (tmp_path / "j.sqlite").mkdir()  # a directory where the journal should be
    code, _, err = run_cli(award_args(src, tmp_path), stampsync_sandbox)
    assert code == 2, err
    assert "is a directory" in err
    assert (tmp_path / "r.jsonl").read_text() == PREVIOUS
    assert arrivals(stampsync_sandbox) == 0


@pytest.mark.stampsync_sandbox(members=100, faults=[Fault("latency", route=ROUTE, seconds=0.05)])
def test_sigterm_mid_run_exits_143_and_a_rerun_finishes(
    stampsync_sandbox: Sandbox, tmp_path: Path
) -> None:
    src = write_awards(tmp_path / "a.csv", good_rows(300))
    proc = cli_process(award_args(src, tmp_path), stampsync_sandbox)
    wait_for_lines(partial_report(tmp_path / "r.jsonl"), 30)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 143, stderr.decode()
    assert b"interrupted" in stderr
    done = report_rows(tmp_path / "r.jsonl")
    assert 30 <= len(done) < 300
    with Journal(tmp_path / "j.sqlite") as j:
        assert j.counts()["pending"] == 0
        assert j.counts()["ambiguous"] == 0  # in-flight awards finished before it stopped
    code, _, err = run_cli(award_args(src, tmp_path), stampsync_sandbox)
    assert code == 0, err
    assert server_awards(stampsync_sandbox) == {f"k{i}": 1 for i in range(300)}


@pytest.mark.stampsync_sandbox(members=100, faults=[Fault("latency", route=ROUTE, seconds=0.2)])
def test_a_second_ctrl_c_aborts_quietly_and_in_flight_awards_are_ambiguous(
    stampsync_sandbox: Sandbox, tmp_path: Path
) -> None:
    src = write_awards(tmp_path / "a.csv", good_rows(300))
    proc = cli_process(award_args(src, tmp_path), stampsync_sandbox)
    wait_for_lines(partial_report(tmp_path / "r.jsonl"), 10)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr.decode()
    assert b"Traceback" not in stderr
    assert b"aborted" in stderr
    with Journal(tmp_path / "j.sqlite") as j:
        counts = j.counts()
    assert counts["pending"] == 0  # cut off mid-send: ambiguous, never silently pending
    on_server = sum(server_awards(stampsync_sandbox).values())
    assert counts["applied"] <= on_server <= counts["applied"] + counts["ambiguous"]


def test_a_wrong_token_stops_before_any_award_with_exit_4(
    stampsync_sandbox: Sandbox, tmp_path: Path
) -> None:
    src = write_awards(tmp_path / "a.csv", good_rows(300))
    proc = subprocess.run(
        [sys.executable, "-m", "stampsync.cli", *award_args(src, tmp_path)],
        env={
            **os.environ,
            "STAMPS_API_URL": stampsync_sandbox.url,
            "STAMPS_TOKEN": "tok-WRONG-SECRET-1",
        },
        capture_output=True,
        timeout=60,
        check=False,
    )
    stderr = proc.stderr.decode()
    assert proc.returncode == 4, stderr
    assert "credentials refused (401)" in stderr
    rows = report_rows(tmp_path / "r.jsonl")
    assert len(rows) <= 10  # rows claimed before the ping answered; the rest untouched
    assert all(r["status"] == "failed" for r in rows)
    assert arrivals(stampsync_sandbox) == 1  # the ping, and not one award
    with Journal(tmp_path / "j.sqlite") as j:
        assert j.counts()["ambiguous"] == 0
    assert "tok-WRONG-SECRET-1" not in stderr


def award_to_an_unreachable_host(tmp_path: Path) -> float:
    """An award run whose server cannot be reached exits 4, nothing ambiguous; returns the
    seconds the process took."""
    port = free_port()  # nothing listens on it
    src = write_awards(tmp_path / "a.csv", good_rows(300))
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "stampsync.cli", *award_args(src, tmp_path)],
        env={
            **os.environ,
            "STAMPS_API_URL": f"http://127.0.0.1:{port}",
            "STAMPS_TOKEN": "tok-123456",
        },
        capture_output=True,
        timeout=60,
        check=False,
    )
    elapsed = time.monotonic() - started
    stderr = proc.stderr.decode()
    assert proc.returncode == 4, stderr
    assert "cannot reach the server" in stderr
    assert len(report_rows(tmp_path / "r.jsonl")) <= 10
    with Journal(tmp_path / "j.sqlite") as j:
        assert j.counts()["ambiguous"] == 0
    return elapsed


def test_an_unreachable_host_stops_with_exit_4(tmp_path: Path) -> None:
    award_to_an_unreachable_host(tmp_path)


@pytest.mark.timing
def test_an_unreachable_host_stops_within_15_seconds_with_exit_4(tmp_path: Path) -> None:
    assert award_to_an_unreachable_host(tmp_path) < 15


def test_an_internal_error_exits_70_not_1(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from stampsync.cli import _stamps

    def broken(*args: object, **kwargs: object) -> int:
        raise RuntimeError("a bug")

    monkeypatch.setattr(_stamps, "check_awards_file", broken)
    monkeypatch.setenv("STAMPS_TOKEN", "tok-123456")
    src = write_awards(tmp_path / "a.csv", good_rows(1))
    with pytest.raises(SystemExit) as exited:
        main(award_args(src, tmp_path))
    assert exited.value.code == 70
    assert "internal error (RuntimeError)" in capsys.readouterr().err


@pytest.mark.stampsync_sandbox(customers=0)
@pytest.mark.parametrize("raw", [False, True])
def test_export_csv_escapes_formulas_unless_raw(
    stampsync_sandbox: Sandbox, tmp_path: Path, raw: bool
) -> None:
    async def seed() -> None:
        async with stampsync_sandbox.stamped_client() as sd:
            await sd.customers.create(email="f1@x.co", first_name='=HYPERLINK("http://e.vil")')
            await sd.customers.create(email="f2@x.co", first_name="+1", last_name="@SUM(A1)")
            await sd.customers.create(email="f3@x.co", first_name="Ann", last_name="Lee")

    anyio.run(seed)
    out = tmp_path / "c.csv"
    code, _, err = run_cli(
        ["stamped", "export-customers", "--out", str(out), *FAST, *(["--raw-csv"] if raw else [])],
        stampsync_sandbox,
    )
    assert code == 0, err
    with out.open(newline="") as fh:
        rows = {r["email"]: r for r in csv.DictReader(fh)}
    mark = "" if raw else "'"
    assert rows["f1@x.co"]["first_name"] == mark + '=HYPERLINK("http://e.vil")'
    assert rows["f2@x.co"]["first_name"] == mark + "+1"
    assert rows["f2@x.co"]["last_name"] == mark + "@SUM(A1)"
    assert rows["f3@x.co"]["first_name"] == "Ann"  # ordinary text untouched
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


@pytest.mark.stampsync_sandbox(
    customers=3000, faults=[Fault("latency", route="GET *", seconds=0.05)]
)
def test_a_second_export_to_the_same_file_is_refused_naming_the_first(
    stampsync_sandbox: Sandbox, tmp_path: Path
) -> None:
    out = tmp_path / "c.jsonl"
    args = ["stamped", "export-customers", "--out", str(out), *FAST]
    first = cli_process(args, stampsync_sandbox)
    try:
        wait_for_lines(out.with_name(out.name + ".partial"), 100)
        code, _, err = run_cli(args, stampsync_sandbox)
        assert code == 2, err
        assert f"in use by another run: pid {first.pid}" in err
    finally:
        first.terminate()
        first.communicate(timeout=30)


@pytest.mark.stampsync_sandbox(faults=[Fault("latency", route="POST *", seconds=0.05)])
def test_a_second_sync_on_the_same_state_is_refused_and_the_first_is_unharmed(
    stampsync_sandbox: Sandbox, tmp_path: Path
) -> None:
    src = tmp_path / "people.csv"
    src.write_text("email\n" + "".join(f"s{i}@x.co\n" for i in range(100)), encoding="utf-8")
    state = tmp_path / "s.db"
    args = ["stamped", "sync-customers", "--input", str(src), "--state", str(state), *FAST]
    first = cli_process([*args, "--report", str(tmp_path / "r1.jsonl")], stampsync_sandbox)
    try:
        deadline = time.monotonic() + 30
        while arrivals(stampsync_sandbox) < 10:  # the first is sending
            assert time.monotonic() < deadline, "the first sync did not start"
            time.sleep(0.02)
        code, _, err = run_cli([*args, "--report", str(tmp_path / "r2.jsonl")], stampsync_sandbox)
        assert code == 2, err
        assert f"sync state {state} is in use by another run: pid {first.pid} on " in err
        _, first_err = first.communicate(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
            first.communicate()
    assert first.returncode == 0, first_err.decode()
    assert [r["status"] for r in report_rows(tmp_path / "r1.jsonl")] == ["sent"] * 100
    # The state the first run wrote is whole: a rerun finds every row unchanged.
    code, _, err = run_cli([*args, "--report", str(tmp_path / "r3.jsonl")], stampsync_sandbox)
    assert code == 0, err
    assert [r["status"] for r in report_rows(tmp_path / "r3.jsonl")] == ["unchanged"] * 100


@pytest.mark.stampsync_sandbox(customers=10)
def test_sync_a_bad_row_fails_alone_and_wrong_keys_stop_early(
    stampsync_sandbox: Sandbox, tmp_path: Path
) -> None:
    src = tmp_path / "people.csv"
    src.write_text(
        "email,first_name\nok1@x.co,Ann\nbad@x.co,Bo,surplus\nok2@x.co,Cy\n", encoding="utf-8"
    )
    report = tmp_path / "r.jsonl"
    args = ["stamped", "sync-customers", "--input", str(src), "--state", str(tmp_path / "s.db")]
    code, _, err = run_cli([*args, "--report", str(report), *FAST], stampsync_sandbox)
    assert code == 1, err
    outcomes = {r["email"]: r for r in report_rows(report)}
    assert outcomes["bad@x.co"]["status"] == "failed"
    assert "more cells than the header" in str(outcomes["bad@x.co"]["error"])
    assert outcomes["ok1@x.co"]["status"] == outcomes["ok2@x.co"]["status"] == "sent"
    assert stat.S_IMODE(report.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "s.db").stat().st_mode) == 0o600

    many = tmp_path / "many.csv"
    many.write_text("email\n" + "".join(f"p{i}@x.co\n" for i in range(300)), encoding="utf-8")
    wrong = subprocess.run(
        [
            sys.executable,
            "-m",
            "stampsync.cli",
            "stamped",
            "sync-customers",
            "--input",
            str(many),
            "--state",
            str(tmp_path / "s2.db"),
            *FAST,
        ],
        env={
            **os.environ,
            "STAMPED_API_URL": stampsync_sandbox.url,
            "STAMPED_PUBLIC_KEY": "pub",
            "STAMPED_PRIVATE_KEY": "key-WRONG",
            "STAMPED_STORE_HASH": stampsync_sandbox.config.store_hash,
        },
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert wrong.returncode == 4, wrong.stderr.decode()
    assert b"credentials refused" in wrong.stderr
    assert arrivals(stampsync_sandbox) - 3 <= 15  # the streak and what was in flight
