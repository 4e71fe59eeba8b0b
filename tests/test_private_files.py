"""Files holding personal data are created 0600 whatever the umask (issue 16, item 4),
never through a symbolic link, and an unusable path is an error, not a loop (issue 26,
item 5).

Journal (and its -wal/-shm), report, sync state, export and the export's resume file:
each holds emails, names or award history, so no other local user may read them.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import anyio
import msgspec
import pytest
from aiohttp import web

from stampsync._engine._runs import exclusive
from stampsync._engine.postgres import PgJournal, safe_dsn
from stampsync._engine.writes import ExitCode
from stampsync._files import create_private
from stampsync.batch import Journal
from stampsync.cli._app import app
from stampsync.cli._report import ReportFile
from stampsync.cli._stamped import ExportWriter
from stampsync.errors import ConfigurationError
from stampsync.sandbox import Sandbox
from stampsync.stamped.models import Customer
from stampsync.stamped.v3 import OrderData, OrderPush
from tests._cli import FAST, arrivals, env_for, good_rows, run_cli, runner, write_awards
from tests._postgres import PASSWORD as PG_PASSWORD
from tests._server import RecordingServer

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


# -- links, unusable paths, write-aside, full disks (issue 26, item 5) -----------------


def finishes(call: Callable[[], object], seconds: float = 10.0) -> BaseException | None:
    """Run ``call`` in a thread; what it raised (None if nothing), or fail if it spins.

    A daemon thread: on a build that loops forever the test fails instead of hanging.
    """
    raised: list[BaseException | None] = []

    def run() -> None:
        try:
            call()
            raised.append(None)
        except BaseException as exc:  # handed to the test
            raised.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds}s: a loop, not an error"
    return raised[0]


def _lock_of(out: Path) -> None:
    with exclusive(out, "export file"):
        pass


def _report_at(path: Path) -> None:
    with ReportFile(path):
        pass


def _partial_of(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.partial")


CREATORS: dict[str, tuple[Callable[[Path], object], Callable[[Path], Path]]] = {
    "journal": (lambda p: Journal(p).open().close(), lambda p: p),
    "lock": (_lock_of, lambda p: p.with_name(p.name + ".lock")),
    "report": (_report_at, _partial_of),
    "state": (create_private, lambda p: p),
}


@pytest.mark.parametrize("what", list(CREATORS))
def test_a_dangling_link_is_an_error_naming_the_path_not_a_loop(what: str, tmp_path: Path) -> None:
    create, at = CREATORS[what]
    path = tmp_path / "file"
    at(path).symlink_to(tmp_path / "nowhere")
    raised = finishes(lambda: create(path))
    assert isinstance(raised, ConfigurationError), raised
    assert str(at(path)) in str(raised)
    assert "symbolic link" in str(raised)
    assert not (tmp_path / "nowhere").exists()  # nothing created through the link


@pytest.mark.parametrize("what", list(CREATORS))
def test_a_link_to_a_real_file_is_never_written_through(what: str, tmp_path: Path) -> None:
    create, at = CREATORS[what]
    target = tmp_path / "precious.sqlite"
    Journal(target).open().close()  # a file each of them could use: a journal
    before = target.read_bytes()
    path = tmp_path / "file"
    at(path).symlink_to(target)
    raised = finishes(lambda: create(path))
    assert isinstance(raised, ConfigurationError), raised
    assert "symbolic link" in str(raised)
    assert target.read_bytes() == before  # a linked OUT.lock used to be truncated


def test_a_directory_where_a_file_goes_is_refused_by_name(tmp_path: Path) -> None:
    (tmp_path / "j.sqlite").mkdir()
    with pytest.raises(ConfigurationError, match="is a directory"):
        create_private(tmp_path / "j.sqlite")


@pytest.mark.stampsync_sandbox(members=20)
def test_the_cli_refuses_linked_journal_report_and_lock_paths_with_exit_2(
    stampsync_sandbox: Sandbox, tmp_path: Path
) -> None:
    src = write_awards(tmp_path / "a.csv", good_rows(3))
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    (tmp_path / "j.sqlite").symlink_to(tmp_path / "nowhere")
    (tmp_path / "r.jsonl").symlink_to(target)
    args = ["stamps", "award", "--input", str(src), "--report", str(tmp_path / "out.jsonl"), *FAST]
    code, _, err = run_cli([*args, "--journal", str(tmp_path / "j.sqlite")], stampsync_sandbox)
    assert code == 2, err
    assert "j.sqlite: it is a symbolic link" in err
    partial = tmp_path / f".r.jsonl.{os.getpid()}.partial"  # the report is written aside
    partial.symlink_to(target)
    code, _, err = run_cli(
        ["stamps", "award", "--input", str(src), "--journal", str(tmp_path / "ok.sqlite"),
         "--report", str(tmp_path / "r.jsonl"), *FAST],
        stampsync_sandbox,
    )  # fmt: skip
    assert code == 2, err
    assert "symbolic link" in err
    assert arrivals(stampsync_sandbox) == 0
    (tmp_path / "c.jsonl.lock").symlink_to(target)
    code, _, err = run_cli(
        ["stamped", "export-customers", "--api", "v3", "--out", str(tmp_path / "c.jsonl"), *FAST],
        stampsync_sandbox,
    )
    assert code == 2, err
    assert "c.jsonl.lock: it is a symbolic link" in err
    assert target.read_text() == "keep me"


@pytest.mark.stampsync_sandbox(customers=5)
def test_a_refused_v3_export_leaves_the_last_export_whole(
    stampsync_sandbox: Sandbox, tmp_path: Path
) -> None:
    out = tmp_path / "c.jsonl"
    out.write_text('{"customerId": "from the last export"}\n')
    result = runner.invoke(
        app,
        ["stamped", "export-customers", "--api", "v3", "--out", str(out), *FAST],
        env={**env_for(stampsync_sandbox), "STAMPED_API_KEY": "key-refused-000000"},
    )
    assert result.exit_code == 4, result.stderr
    assert out.read_text() == '{"customerId": "from the last export"}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.jsonl", "c.jsonl.lock"]
    code, _, err = run_cli(
        ["stamped", "export-customers", "--api", "v3", "--out", str(out), *FAST],
        stampsync_sandbox,
    )
    assert code == 0, err
    assert "from the last export" not in out.read_text()


ORDERS = "POST /api/v3/merchant/shops/270392/orders"


def order_lines(n: int) -> str:
    rows = [
        {
            "key": f"pos-{i}",
            "customCustomerId": "shop-1",
            "cart": {"lineItems": [{"sku": "A", "quantity": "1", "price": "1.00"}]},
        }
        for i in range(n)
    ]
    return "".join(json.dumps(r) + "\n" for r in rows)


@pytest.mark.stampsync_sandbox(customers=5)
def test_push_orders_takes_a_database_journal_and_never_prints_its_password(
    stampsync_sandbox: Sandbox, pg_dsn: str, tmp_path: Path
) -> None:
    src = tmp_path / "orders.jsonl"
    src.write_text(order_lines(3))
    anyio.run(stampsync_sandbox.set_faults, f"drop_after:1:1:1@{ORDERS}")
    args = ["stamped", "push-orders", "--input", str(src), "--journal", pg_dsn,
            "--report", str(tmp_path / "r.jsonl"), *FAST]  # fmt: skip
    code, out, err = run_cli(args, stampsync_sandbox)
    assert code == 3, err  # the dropped plain create is ambiguous
    assert PG_PASSWORD not in out + err
    assert f"--journal {safe_dsn(pg_dsn)} KEY" in err
    code, _, err = run_cli(args, stampsync_sandbox)  # the rerun skips what the database holds
    assert code == 3, err
    assert "pushed 2 (of which 2 already in the journal)" in err

    async def accounts() -> set[str | None]:
        async with PgJournal(pg_dsn, account=None) as j:
            return {e.account for e in await j.aentries()}

    assert anyio.run(accounts) == {"stamped:store:270392"}


@pytest.mark.real_time  # a database connection's timeouts run on the real clock
@pytest.mark.stampsync_sandbox(customers=5)
async def test_push_many_takes_a_database_url_like_every_journaled_batch(
    stampsync_sandbox: Sandbox, pg_dsn: str
) -> None:
    rows = [json.loads(line) for line in order_lines(3).splitlines()]
    pushes = [
        OrderPush(key=r.pop("key"), order=msgspec.convert(r, OrderData, from_attributes=True))
        for r in rows
    ]
    async with stampsync_sandbox.stamped_client() as st:
        first = await st.v3.orders.push_many(pushes, journal=pg_dsn)
        again = await st.v3.orders.push_many(pushes, journal=pg_dsn)
    assert first.counts["applied"] == 3
    assert again.sent == 0
    assert again.counts["skipped"] == 3
    async with PgJournal(pg_dsn, account="stamped:store:270392") as j:
        assert (await j.acounts())["applied"] == 3


def test_import_prints_a_database_journal_without_its_password(
    server: RecordingServer, pg_dsn: str, tmp_path: Path
) -> None:
    src = tmp_path / "day.jsonl"
    src.write_text(
        json.dumps({"invoice_number": "I-1", "total_value": 1, "number_of_people": 1,
                    "created": "2026-03-02T09:00:00+07:00", "store": 1}) + "\n"
    )  # fmt: skip
    server.responder = reset_after_reading
    result = runner.invoke(
        app,
        ["stamps", "transactions", "import", "--input", str(src), "--journal", pg_dsn,
         "--account", "store-1", "--report", str(tmp_path / "r.jsonl"), "--api-url",
         server.url, *FAST],
        env={"STAMPS_TOKEN": "tok-123456"},
    )  # fmt: skip
    assert result.exit_code == 3, result.stderr
    assert PG_PASSWORD not in result.stdout + result.stderr
    assert f"--journal {safe_dsn(pg_dsn)} KEY" in result.stderr


async def reset_after_reading(request: web.Request, n: int) -> web.StreamResponse:
    if request.path == "/api/ping":
        return web.json_response({"pong": {}})
    await request.read()
    assert request.transport is not None
    request.transport.close()  # the answer is lost: the row is ambiguous
    raise ConnectionResetError


def _full_disk(*args: object, **kwargs: object) -> None:
    raise OSError(errno.ENOSPC, "No space left on device", "r.jsonl")


async def _full_journal(*args: object, **kwargs: object) -> None:
    raise OSError(errno.ENOSPC, "No space left on device", "j.sqlite")


@pytest.mark.parametrize("where", ["report", "journal"])
@pytest.mark.stampsync_sandbox(members=20)
def test_a_full_disk_mid_batch_is_a_stopped_run_naming_its_cause_not_a_crash(
    where: str, stampsync_sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if where == "report":
        monkeypatch.setattr(ReportFile, "write", _full_disk)
    else:
        monkeypatch.setattr(Journal, "afinish", _full_journal)
    src = write_awards(tmp_path / "a.csv", good_rows(3))
    code, _, err = run_cli(
        ["stamps", "award", "--input", str(src), "--journal", str(tmp_path / "j.sqlite"),
         "--report", str(tmp_path / "r.jsonl"), "--batch", "1", *FAST],
        stampsync_sandbox,
    )  # fmt: skip
    assert code == ExitCode.STOPPED, err
    assert "internal error" not in err
    name = "r.jsonl" if where == "report" else "j.sqlite"
    assert f"stopped: cannot write {name}: No space left on device" in err


@pytest.mark.stampsync_sandbox(customers=5)
def test_a_full_disk_during_a_customer_sync_is_a_stopped_run_too(
    stampsync_sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ReportFile, "write", _full_disk)
    people = tmp_path / "people.csv"
    people.write_text("email,first_name\nann@x.co,Ann\nbob@x.co,Bob\n")
    code, _, err = run_cli(
        ["stamped", "sync-customers", "--input", str(people), "--state", str(tmp_path / "s.sqlite"),
         "--report", str(tmp_path / "r.jsonl"), *FAST],
        stampsync_sandbox,
    )  # fmt: skip
    assert code == ExitCode.STOPPED, err
    assert "stopped: cannot write r.jsonl: No space left on device" in err
