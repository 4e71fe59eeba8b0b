"""What a new user hit trying the command line (issue 21, point 7), each pinned down."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from stampsync.cli._stamped import ExportWriter
from stampsync.sandbox import Fault, Sandbox
from stampsync.stamped.models import Customer

from ._cli import FAST, ROUTE, env_for, good_rows, report_rows, run_cli, write_awards

ENV_VARS = {
    "STAMPED_API_URL",
    "STAMPED_PUBLIC_KEY",
    "STAMPED_PRIVATE_KEY",
    "STAMPED_STORE_HASH",
    "STAMPS_API_URL",
    "STAMPS_TOKEN",
    "STAMPSYNC_THROTTLE_LIMIT",
    "STAMPSYNC_THROTTLE_SECONDS",
    "STAMPSYNC_CONNECTIONS",
    "STAMPSYNC_BATCH",
    "STAMPSYNC_REDIS_URL",
    "STAMPSYNC_THROTTLE_KEY",
}
COMMANDS = [
    ["stamped", "export-customers"],
    ["stamped", "sync-customers"],
    ["stamps", "award"],
    ["stamps", "journal", "list"],
    ["stamps", "journal", "resolve"],
    ["demo"],
    ["sandbox"],
]


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The real command in a process of its own: no terminal, 80 columns."""
    return subprocess.run(
        [sys.executable, "-m", "stampsync.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "80", **(env or {})},
    )


def helps() -> dict[str, str]:
    return {" ".join(c): cli(*c, "--help").stdout for c in COMMANDS}


@pytest.fixture(scope="module")
def help_texts() -> dict[str, str]:
    return helps()


def test_help_at_80_columns_shows_every_env_var_in_full(help_texts: dict[str, str]) -> None:
    shown = " ".join(" ".join(text.split()) for text in help_texts.values())
    for name in ENV_VARS:
        assert f"{name}]" in shown or f"{name};" in shown, name
    assert "…" not in "".join(help_texts.values())


def test_every_command_lists_its_exit_codes(help_texts: dict[str, str]) -> None:
    for command, text in help_texts.items():
        assert "exit codes" in text.lower(), command


def test_sandbox_help_shows_its_options(help_texts: dict[str, str]) -> None:
    for flag in ("--port", "--customers", "--fault", "--limit", "--env"):
        assert flag in help_texts["sandbox"]


def test_version() -> None:
    from stampsync._version import __version__

    done = cli("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"stampsync {__version__}"


def test_export_to_a_missing_directory_is_one_line_and_exit_2(tmp_path: Path) -> None:
    out = tmp_path / "missing-dir" / "x.csv"
    done = cli(
        "stamped", "export-customers", "--out", str(out),
        env={"STAMPED_PUBLIC_KEY": "pk", "STAMPED_PRIVATE_KEY": "k", "STAMPED_STORE_HASH": "1"},
    )  # fmt: skip
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        f"error: cannot write {out}: the directory {out.parent} does not exist"
    ]
    assert not out.parent.exists()


def test_an_export_that_fails_leaves_the_last_one_and_no_partial_file(tmp_path: Path) -> None:
    out = tmp_path / "c.csv"
    out.write_text("the last complete export\n")
    writer = ExportWriter(out, resume=False)
    writer.open()  # the API answered, then the export failed before a page was whole
    writer.close(complete=False)
    assert out.read_text() == "the last complete export\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.csv", "c.csv.lock"]
    writer = ExportWriter(out, resume=False)
    writer.write(Customer(id=1, email="a@x.co"))
    writer.checkpoint(2)
    writer.close(complete=True)
    assert out.read_text().splitlines()[1].startswith("1,a@x.co")
    assert not writer.partial.exists()


@pytest.mark.stampsync_sandbox(customers=20)
@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_jsonl_and_csv_use_one_naming_convention(
    stampsync_sandbox: Sandbox, tmp_path: Path, suffix: str
) -> None:
    def names(out: Path) -> set[str]:
        if suffix == ".csv":
            with out.open(newline="") as fh:
                return set(next(csv.reader(fh)))
        return set(json.loads(out.read_text().splitlines()[0]))

    out = tmp_path / f"c{suffix}"
    args = ["stamped", "export-customers", "--out", str(out), *FAST]
    assert run_cli(args, stampsync_sandbox)[0] == 0
    assert {"first_name", "last_name", "customer_id"} <= names(out)
    assert run_cli([*args, "--field-names", "api"], stampsync_sandbox)[0] == 0
    assert {"firstName", "lastName", "customerId"} <= names(out)
    code, _, err = run_cli([*args, "--field-names", "camel"], stampsync_sandbox)
    assert code == 2
    assert "--field-names" in err


@pytest.mark.stampsync_sandbox(customers=2345)
def test_without_a_terminal_progress_is_a_line_per_1000_rows(
    stampsync_sandbox: Sandbox, tmp_path: Path
) -> None:
    done = cli(
        "stamped", "export-customers", "--out", str(tmp_path / "c.jsonl"), *FAST,
        env=env_for(stampsync_sandbox),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert any(line.startswith("exporting: 1000 of 2345") for line in lines), lines
    assert any(line.startswith("exporting: 2000 of 2345") for line in lines), lines
    assert any(line.startswith("exporting: 2345 of 2345") for line in lines), lines


@pytest.mark.stampsync_sandbox(members=20)
def test_a_blank_store_gets_command_line_advice(stampsync_sandbox: Sandbox, tmp_path: Path) -> None:
    src = write_awards(tmp_path / "a.csv", [["k1", "member1@example.com", "", 2, ""]])
    args = ["stamps", "award", "--input", str(src), "--journal", str(tmp_path / "j.sqlite"),
            "--report", str(tmp_path / "r.jsonl"), *FAST]  # fmt: skip
    code, _, _ = run_cli(args, stampsync_sandbox)
    assert code == 1
    [row] = report_rows(tmp_path / "r.jsonl")
    assert "--store N" in str(row["error"])
    assert "StampsClient" not in str(row["error"])
    code, _, err = run_cli([*args, "--store", "2"], stampsync_sandbox)
    assert code == 0, err
    assert [a["store"] for a in anyio.run(stampsync_sandbox.awards)] == [2]


@pytest.mark.stampsync_sandbox(members=50, faults=[Fault("drop_after", route=ROUTE, times=3)])
def test_journal_resolve_settles_many_keys_from_a_file(
    stampsync_sandbox: Sandbox, tmp_path: Path
) -> None:
    src = write_awards(tmp_path / "a.csv", good_rows(10))
    journal = tmp_path / "j.sqlite"
    args = ["stamps", "award", "--input", str(src), "--journal", str(journal),
            "--report", str(tmp_path / "r.jsonl"), *FAST]  # fmt: skip
    assert run_cli(args, stampsync_sandbox)[0] == 3
    ambiguous = [
        str(r["key"]) for r in report_rows(tmp_path / "r.jsonl") if r["status"] == "ambiguous"
    ]
    assert len(ambiguous) == 3
    settle = tmp_path / "settle.csv"
    settle.write_text(
        "key,outcome,award_id\n"
        f"{ambiguous[0]},applied,\n{ambiguous[1]},not_applied,\n{ambiguous[2]},applied,\n"
    )
    resolve = ["stamps", "journal", "resolve", "--journal", str(journal), "--from", str(settle)]
    code, _, err = run_cli(resolve, stampsync_sandbox)
    assert code == 0, err
    code, _, err = run_cli(args, stampsync_sandbox)
    assert code == 0, err
    # The one settled "not applied" was sent again; those settled "applied" were not.
    notes = [str(a["notes"]) for a in anyio.run(stampsync_sandbox.awards)]
    assert notes.count(ambiguous[1]) == 2
    assert notes.count(ambiguous[0]) == notes.count(ambiguous[2]) == 1
    # Settled already: named, and the exit code says some were not settled.
    code, _, err = run_cli(resolve, stampsync_sandbox)
    assert code == 1
    assert "not settled" in err
    bad = tmp_path / "bad.csv"
    bad.write_text("key,outcome\nk1,maybe\n")
    code, _, err = run_cli([*resolve[:-1], str(bad)], stampsync_sandbox)
    assert code == 2
    assert "line 2" in err


@pytest.mark.stampsync_sandbox(customers=10)
def test_sync_dry_run_lists_the_rows_it_would_send(
    stampsync_sandbox: Sandbox, tmp_path: Path
) -> None:
    src = tmp_path / "people.csv"
    src.write_text("email,first_name\nann@x.co,Ann\nbo@x.co,Bo\n")
    code, out, err = run_cli(
        ["stamped", "sync-customers", "--input", str(src), "--state", str(tmp_path / "s.db"),
         "--dry-run", *FAST],
        stampsync_sandbox,
    )  # fmt: skip
    assert code == 0, err
    listed: list[dict[str, Any]] = [json.loads(line) for line in out.splitlines()]
    assert listed == [{"row": 2, "email": "ann@x.co"}, {"row": 3, "email": "bo@x.co"}]
    assert anyio.run(stampsync_sandbox.customer, "ann@x.co") is None


async def test_sandbox_arrivals_are_tagged_by_credential(stampsync_sandbox: Sandbox) -> None:
    async with stampsync_sandbox.stamped_client() as stamped:
        await stamped.customers.list(limit=1)
        await stamped.customers.list(limit=1)
    async with stampsync_sandbox.stamps_client() as stamps:
        await stamps.stamps.add(user="member1@example.com", number_of_stamps=1)
    counters = await stampsync_sandbox.counters()
    c = stampsync_sandbox.config
    stamped_tag, stamps_tag = f"stamped:{c.store_hash}:{c.public_key}", f"stamps:{c.merchant}"
    tags = [r["credential"] for r in await stampsync_sandbox.requests()]
    # In order, by credential. (CI once saw a third read: the fake clock had jumped to
    # the read's timeout while this thread sandbox answered, and the client retried it.
    # The clock now waits in real time while a sandbox thread serves: tests/_clock.py.)
    assert tags == [stamped_tag, stamped_tag, stamps_tag]
    assert counters[f"arrivals:{stamped_tag}"] == 2
    assert counters[f"arrivals:{stamps_tag}"] == 1
