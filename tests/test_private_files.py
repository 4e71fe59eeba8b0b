"""Files holding personal data are created 0600 whatever the umask (issue 16, item 4).

Journal (and its -wal/-shm), report, sync state, export and the export's resume file:
each holds emails, names or award history, so no other local user may read them.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from stampsync.batch import Journal
from stampsync.cli._stamped import ExportWriter
from stampsync.sandbox import Sandbox
from stampsync.stamped.models import Customer
from tests._cli import FAST, good_rows, run_cli, write_awards

UMASKS = [0o000, 0o022, 0o277]  # lax, usual, and one that would leave files unwritable


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(params=UMASKS, ids=lambda m: f"umask{m:03o}")
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def test_a_journal_and_its_wal_and_shm_are_0600_while_in_use(umask: int, tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    with Journal(path) as j:
        j._run(lambda: j._open().execute("CREATE TABLE IF NOT EXISTS probe (x)"))
        files = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
        assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}


@pytest.mark.stampsync_sandbox(customers=5)
def test_award_and_sync_leave_only_0600_files(
    umask: int, stampsync_sandbox: Sandbox, tmp_path: Path
) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    os.umask(0o022)  # inputs are the user's own files, made as usual
    src = write_awards(inputs / "a.csv", good_rows(3))
    people = inputs / "people.csv"
    people.write_text("email,first_name\nann@x.co,Ann\n")
    os.umask(umask)
    out = tmp_path / "out"
    out.mkdir(mode=0o700)
    code, _, err = run_cli(
        ["stamps", "award", "--input", str(src), "--journal", str(out / "j.sqlite"),
         "--report", str(out / "r.jsonl"), *FAST],
        stampsync_sandbox,
    )  # fmt: skip
    assert code == 0, err
    code, _, err = run_cli(
        ["stamped", "sync-customers", "--input", str(people), "--state", str(out / "s.sqlite"),
         "--report", str(out / "sr.jsonl"), *FAST],
        stampsync_sandbox,
    )  # fmt: skip
    assert code == 0, err
    code, _, err = run_cli(
        ["stamped", "export-customers", "--out", str(out / "c.csv"), *FAST], stampsync_sandbox
    )
    assert code == 0, err
    made = {p.name: mode(p) for p in out.iterdir()}
    assert {"j.sqlite", "r.jsonl", "s.sqlite", "sr.jsonl", "c.csv"} <= set(made)
    assert made == dict.fromkeys(made, 0o600)


def test_the_export_resume_file_is_0600(umask: int, tmp_path: Path) -> None:
    out = tmp_path / "c.jsonl"
    writer = ExportWriter(out, resume=False)
    try:
        writer.open()  # as the export does once the API has answered
        writer.write(Customer(id=1, email="a@x.co"))
        writer.checkpoint(2)  # an interrupted export leaves this for --resume
        assert mode(writer.state_path) == 0o600
        assert mode(writer.partial) == 0o600
    finally:
        writer.close(complete=False)
