"""sync-customers and export-customers follow the award's table: signals, refusals, crashes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from stampsync import StampedClient
from stampsync._engine._runs import exclusive
from stampsync._engine.writes import ExitCode
from stampsync.batch.sync import sync_customers
from stampsync.cli import main
from stampsync.sandbox import Fault, Sandbox, free_port
from tests._cli import (
    FAST,
    arrivals,
    cli_process,
    partial_report,
    report_rows,
    run_cli,
    wait_for_lines,
)

PREVIOUS = '{"email": "from-the-last-run@x.co", "status": "sent"}\n'


def people(path: Path, n: int) -> Path:
    path.write_text(
        "email,first_name\n" + "".join(f"p{i}@x.co,P{i}\n" for i in range(n)), encoding="utf-8"
    )
    return path


def sync_args(src: Path, tmp_path: Path, *extra: str) -> list[str]:
    return [
        "stamped",
        "sync-customers",
        "--input",
        str(src),
        "--state",
        str(tmp_path / "s.db"),
        "--report",
        str(tmp_path / "r.jsonl"),
        *FAST,
        *extra,
    ]


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("email,first_name,first_name", "columns 2 ('first_name') and 3 ('first_name') both"),
        ("email,firstname,First Name", "columns 2 ('firstname') and 3 ('First Name') both"),
        ("email,,first_name", "line 1: header cell 2 is blank"),
        ("mail,first_name", "has no email column"),
    ],
    ids=["repeated", "aliases", "blank", "no-email"],
)
def test_a_sync_csv_with_a_malformed_header_is_refused_whole(
    stampsync_sandbox: Sandbox, tmp_path: Path, header: str, message: str
) -> None:
    src = tmp_path / "p.csv"
    src.write_text(f"{header}\nok1@x.co,Ann,Bo\nok2@x.co,Cy,Di\n", encoding="utf-8")
    (tmp_path / "r.jsonl").write_text(PREVIOUS)
    code, _, err = run_cli(sync_args(src, tmp_path), stampsync_sandbox)
    assert code == ExitCode.REFUSED, err
    assert message in " ".join(err.split())
    assert arrivals(stampsync_sandbox) == 0
    assert (tmp_path / "r.jsonl").read_text() == PREVIOUS


def test_a_jsonl_row_naming_a_field_twice_fails_alone(
    stampsync_sandbox: Sandbox, tmp_path: Path
) -> None:
    src = tmp_path / "p.jsonl"
    rows = [
        {"email": "a@x.co", "first_name": "Ann"},
        {"email": "b@x.co", "first_name": "Bo", "firstName": "Bob"},
        {"email": "c@x.co", "first_name": "Cy"},
    ]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    code, _, err = run_cli(sync_args(src, tmp_path), stampsync_sandbox)
    assert code == ExitCode.FAILED, err
    outcomes = {r["email"]: r for r in report_rows(tmp_path / "r.jsonl")}
    assert outcomes["b@x.co"]["status"] == "failed"
    assert "first_name is given twice" in str(outcomes["b@x.co"]["error"])
    assert [outcomes[e]["row"] for e in ("a@x.co", "b@x.co", "c@x.co")] == [1, 2, 3]
    assert outcomes["a@x.co"]["status"] == outcomes["c@x.co"]["status"] == "sent"


@pytest.mark.stampsync_sandbox(faults=[Fault("latency", route="POST *", seconds=0.05)])
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
def test_a_signal_mid_sync_exits_interrupted_and_a_rerun_finishes(
    stampsync_sandbox: Sandbox, tmp_path: Path, signum: signal.Signals
) -> None:
    src = people(tmp_path / "p.csv", 300)
    proc = cli_process(sync_args(src, tmp_path), stampsync_sandbox)
    wait_for_lines(partial_report(tmp_path / "r.jsonl"), 20)
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 128 + signum, stderr.decode()
    assert b"interrupted" in stderr
    assert b"Traceback" not in stderr
    done = report_rows(tmp_path / "r.jsonl")
    assert 20 <= len(done) < 300
    assert all(r["status"] == "sent" for r in done)  # rows in hand finished

    code, _, err = run_cli(sync_args(src, tmp_path), stampsync_sandbox)
    assert code == ExitCode.OK, err
    rerun = report_rows(tmp_path / "r.jsonl")
    assert len(rerun) == 300
    assert sum(r["status"] == "unchanged" for r in rerun) == len(done)
    for i in (0, 299):
        assert anyio.run(stampsync_sandbox.customer, f"p{i}@x.co") is not None


@pytest.mark.stampsync_sandbox(faults=[Fault("latency", route="POST *", seconds=0.2)])
def test_a_second_signal_aborts_a_sync_quietly(stampsync_sandbox: Sandbox, tmp_path: Path) -> None:
    src = people(tmp_path / "p.csv", 300)
    proc = cli_process(sync_args(src, tmp_path), stampsync_sandbox)
    wait_for_lines(partial_report(tmp_path / "r.jsonl"), 5)
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 143, stderr.decode()
    assert b"Traceback" not in stderr
    assert b"aborted" in stderr


@pytest.mark.stampsync_sandbox(
    customers=3000, faults=[Fault("latency", route="GET *", seconds=0.03)]
)
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
def test_a_signal_mid_export_exits_interrupted_and_resume_completes(
    stampsync_sandbox: Sandbox, tmp_path: Path, signum: signal.Signals
) -> None:
    out = tmp_path / "c.jsonl"
    args = ["stamped", "export-customers", "--out", str(out), "--batch", "2", *FAST]
    proc = cli_process(args, stampsync_sandbox)
    wait_for_lines(out.with_name(out.name + ".partial"), 500)
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 128 + signum, stderr.decode()
    assert b"--resume" in stderr
    assert b"Traceback" not in stderr
    assert out.with_name(out.name + ".state").exists()
    code, _, err = run_cli([*args, "--resume"], stampsync_sandbox)
    assert code == ExitCode.OK, err
    ids = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    assert ids == list(range(1, 3001))


def test_a_crash_mid_sync_exits_70_naming_the_bug(
    stampsync_sandbox: Sandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from stampsync.cli import _stamped

    def rows_then_a_bug(path: Path) -> Iterator[dict[str, Any]]:
        yield {"email": "first@x.co"}
        raise RuntimeError("a bug")

    monkeypatch.setattr(_stamped, "read_records", rows_then_a_bug)
    for name, value in {
        "STAMPED_API_URL": stampsync_sandbox.url,
        "STAMPED_PUBLIC_KEY": stampsync_sandbox.config.public_key,
        "STAMPED_PRIVATE_KEY": stampsync_sandbox.config.private_key,
        "STAMPED_STORE_HASH": stampsync_sandbox.config.store_hash,
    }.items():
        monkeypatch.setenv(name, value)
    src = people(tmp_path / "p.csv", 3)
    with pytest.raises(SystemExit) as exited:
        main(sync_args(src, tmp_path))
    assert exited.value.code == ExitCode.CRASHED
    assert "internal error (RuntimeError)" in capsys.readouterr().err


async def test_sync_report_exit_code_says_interrupted(
    stampsync_sandbox: Sandbox, tmp_path: Path
) -> None:
    stop = anyio.Event()
    c = stampsync_sandbox.config

    def rows() -> Iterator[dict[str, Any]]:
        for i in range(50):
            if i == 10:
                stop.set()
            yield {"email": f"q{i}@x.co"}

    async with StampedClient(
        c.public_key, c.private_key, c.store_hash, api_url=stampsync_sandbox.url
    ) as client:
        report = await sync_customers(client, rows(), state=tmp_path / "s.db", stop=stop)
    assert report.interrupted
    assert 10 <= report.counts["sent"] < 50
    assert report.exit_code == ExitCode.INTERRUPTED
    report.interrupted_by = signal.SIGTERM
    assert report.exit_code == ExitCode.TERMINATED


def sync_process(
    args: list[str], api_url: str, private_key: str, store_hash: str
) -> tuple[int, str, float]:
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "stampsync.cli", *args],
        env={
            **os.environ,
            "STAMPED_API_URL": api_url,
            "STAMPED_PUBLIC_KEY": "pub",
            "STAMPED_PRIVATE_KEY": private_key,
            "STAMPED_STORE_HASH": store_hash,
        },
        capture_output=True,
        timeout=60,
        check=False,
    )
    return proc.returncode, proc.stderr.decode(), time.monotonic() - started


def test_a_refused_key_stops_a_sync_after_one_read_and_a_rerun_sends_everything(
    stampsync_sandbox: Sandbox, tmp_path: Path
) -> None:
    src = people(tmp_path / "p.csv", 300)
    store = stampsync_sandbox.config.store_hash
    code, err, _ = sync_process(
        sync_args(src, tmp_path), stampsync_sandbox.url, "key-WRONG-SECRET", store
    )
    assert code == ExitCode.STOPPED, err
    assert "credentials refused (401)" in err
    assert "key-WRONG-SECRET" not in err
    assert arrivals(stampsync_sandbox) == 1  # the check, and not one write
    rows = report_rows(tmp_path / "r.jsonl")
    assert len(rows) <= 10  # rows in hand when the check answered; the rest untouched
    assert all(r["status"] == "failed" and "not sent" in str(r["error"]) for r in rows)

    code, _, err = run_cli(sync_args(src, tmp_path), stampsync_sandbox)
    assert code == ExitCode.OK, err
    assert "sent 300, unchanged 0, failed 0" in err


def sync_to_an_unreachable_host(tmp_path: Path) -> float:
    """A sync whose server cannot be reached stops (exit 4), having sent nothing past the
    rows in hand; returns the seconds the process took."""
    src = people(tmp_path / "p.csv", 300)
    code, err, elapsed = sync_process(
        sync_args(src, tmp_path), f"http://127.0.0.1:{free_port()}", "key-123456", "1"
    )
    assert code == ExitCode.STOPPED, err
    assert "cannot reach the server" in err
    assert len(report_rows(tmp_path / "r.jsonl")) <= 10
    return elapsed


def test_an_unreachable_host_stops_a_sync(tmp_path: Path) -> None:
    sync_to_an_unreachable_host(tmp_path)


@pytest.mark.timing
def test_an_unreachable_host_stops_a_sync_within_15_seconds(tmp_path: Path) -> None:
    assert sync_to_an_unreachable_host(tmp_path) < 15


def export_process(
    out: Path, api_url: str, private_key: str, store_hash: str
) -> tuple[int, str, float]:
    return sync_process(
        ["stamped", "export-customers", "--out", str(out), *FAST],
        api_url,
        private_key,
        store_hash,
    )


@pytest.mark.stampsync_sandbox(customers=10)
def test_an_export_refused_at_its_first_request_exits_4_and_keeps_the_last_export(
    stampsync_sandbox: Sandbox, tmp_path: Path
) -> None:
    out = tmp_path / "c.jsonl"
    out.write_text('{"id": 1, "email": "from-the-last-export@x.co"}\n')
    previous = out.read_text()
    code, err, _ = export_process(
        out, stampsync_sandbox.url, "key-WRONG-SECRET", stampsync_sandbox.config.store_hash
    )
    assert code == ExitCode.STOPPED, err
    assert "credentials refused (401)" in err
    assert "key-WRONG-SECRET" not in err
    assert out.read_text() == previous

    code, err, _ = export_process(out, f"http://127.0.0.1:{free_port()}", "key-123456", "1")
    assert code == ExitCode.STOPPED, err
    assert "cannot reach the server" in err
    assert out.read_text() == previous

    code, _, err = run_cli(
        ["stamped", "export-customers", "--out", str(out), *FAST], stampsync_sandbox
    )
    assert code == ExitCode.OK, err
    assert len(out.read_text().splitlines()) == 10


@pytest.mark.timing
def test_an_export_to_an_unreachable_host_stops_within_15_seconds(tmp_path: Path) -> None:
    out = tmp_path / "c.jsonl"
    code, err, elapsed = export_process(out, f"http://127.0.0.1:{free_port()}", "key-123456", "1")
    assert code == ExitCode.STOPPED, err
    assert elapsed < 15


def test_a_sync_refused_by_its_state_file_keeps_the_last_report(
    stampsync_sandbox: Sandbox, tmp_path: Path
) -> None:
    src = people(tmp_path / "p.csv", 3)
    report = tmp_path / "r.jsonl"
    report.write_text(PREVIOUS)
    store = stampsync_sandbox.config.store_hash
    key = stampsync_sandbox.config.private_key
    with exclusive(tmp_path / "s.db", "sync state"):  # another live sync holds it
        code, err, _ = sync_process(sync_args(src, tmp_path), stampsync_sandbox.url, key, store)
    assert code == ExitCode.REFUSED, err
    assert "in use by another run" in err
    assert report.read_text() == PREVIOUS

    (tmp_path / "s.db").write_bytes(b"not a database, " * 100)
    code, err, _ = sync_process(sync_args(src, tmp_path), stampsync_sandbox.url, key, store)
    assert code == ExitCode.REFUSED, err
    assert report.read_text() == PREVIOUS
    assert arrivals(stampsync_sandbox) == 0
    assert not list(tmp_path.glob(".r.jsonl.*"))  # no partial left behind either


@pytest.mark.stampsync_sandbox(
    members=5, faults=[Fault("drop_after", route="POST /api/stamps/add", times=1)]
)
def test_resolve_finds_a_key_typed_in_another_unicode_form(
    stampsync_sandbox: Sandbox, tmp_path: Path
) -> None:
    src = tmp_path / "a.csv"
    src.write_text(
        "key,user,store,number_of_stamps\ncaf\u00e9,member1@example.com,1,1\n", encoding="utf-8"
    )
    journal = tmp_path / "j.sqlite"
    award = ["stamps", "award", "--input", str(src), "--journal", str(journal)]
    award += ["--report", str(tmp_path / "r.jsonl"), *FAST]
    code, _, err = run_cli(award, stampsync_sandbox)
    assert code == ExitCode.AMBIGUOUS, err
    resolve = ["stamps", "journal", "resolve", "cafe\u0301", "--journal", str(journal)]
    code, _, err = run_cli([*resolve, "--applied"], stampsync_sandbox)
    assert code == ExitCode.OK, err
    code, _, err = run_cli(award, stampsync_sandbox)
    assert code == ExitCode.OK, err
    assert arrivals(stampsync_sandbox) == 2  # the ping and the one award; none after


def test_sync_report_lines_carry_the_input_line(stampsync_sandbox: Sandbox, tmp_path: Path) -> None:
    src = tmp_path / "p.csv"
    src.write_text(
        'email,first_name\nok1@x.co,Ann\n\nbad@x.co,Bo,surplus\nok2@x.co,"Cy\nCy"\nnot-an-email,Di\n',
        encoding="utf-8",
    )
    code, _, err = run_cli(sync_args(src, tmp_path), stampsync_sandbox)
    assert code == ExitCode.FAILED, err
    rows = {r["email"]: r["row"] for r in report_rows(tmp_path / "r.jsonl")}
    # Blank line 3 is skipped; ok2's quoted value spans lines 5-6.
    assert rows == {"ok1@x.co": 2, "bad@x.co": 4, "ok2@x.co": 5, "not-an-email": 7}


@pytest.mark.stampsync_sandbox(customers=10)
def test_an_unreadable_resume_state_is_refused_not_a_crash(
    stampsync_sandbox: Sandbox, tmp_path: Path
) -> None:
    out = tmp_path / "c.jsonl"
    partial = tmp_path / "c.jsonl.partial"
    partial.write_text('{"id": 1}\n')
    state = tmp_path / "c.jsonl.state"
    state.write_text("")  # what a kill between truncating and writing it once left
    args = ["stamped", "export-customers", "--out", str(out), "--resume", *FAST]
    code, _, err = run_cli(args, stampsync_sandbox)
    assert code == ExitCode.REFUSED, err
    assert "export again without --resume" in " ".join(err.split())
    assert partial.read_text() == '{"id": 1}\n'
    assert not out.exists()
    assert arrivals(stampsync_sandbox) == 0
