"""The POS day-end import: transactions.add_many and ``stampsync stamps transactions
import``, exactly once under dropped answers, kills and reruns."""

from __future__ import annotations

import collections
import csv
import datetime as dt
import json
import signal
from pathlib import Path

import anyio
import msgspec
import pytest

from stampsync.sandbox import Fault, Sandbox
from stampsync.stamps import Item, Payment, PosTransaction
from tests._cli import FAST, cli_process, partial_report, report_rows, run_cli, wait_for_lines

WIB = dt.timezone(dt.timedelta(hours=7))
DAY = dt.datetime(2026, 3, 2, 9, 0, tzinfo=WIB)
ADD_ROUTE = "POST /api/v2/transactions/add"


def day_rows(n: int, *, members: int = 400) -> list[PosTransaction]:
    return [
        PosTransaction(
            invoice_number=f"POS-{i:05d}",
            total_value=10_000 + (i % 7) * 10_000,
            number_of_people=1 + i % 3,
            created=(DAY + dt.timedelta(seconds=17 * i)).isoformat(),
            store=1 + i % 3,
            user=f"member{1 + i % members}@example.com",
            items=[Item(product_name="Latte", quantity=1, subtotal=10_000 + (i % 7) * 10_000)],
            payments=[Payment(value=10_000 + (i % 7) * 10_000, payment_method=10)],
        )
        for i in range(n)
    ]


def server_invoices(sb: Sandbox) -> collections.Counter[str]:
    return collections.Counter(
        f"{t['store']}:{t['invoice_number']}:{t['day']}" for t in anyio.run(sb.transactions)
    )


@pytest.mark.stampsync_sandbox(
    members=500, fault_seed=11, faults=[Fault("drop_after", route=ADD_ROUTE, probability=0.01)]
)
async def test_drop_after_apply_during_an_import_of_2000(
    stampsync_sandbox: Sandbox, tmp_path: Path
) -> None:
    sb = stampsync_sandbox
    recovered: set[str] = set()
    async with sb.stamps_client(throttle_limit=100_000, throttle_seconds=1) as client:
        report = await client.transactions.add_many(
            day_rows(2000), journal=tmp_path / "j.sqlite", recovered=recovered
        )
    counters = await sb.counters()
    dropped = counters["fault:drop_after"]
    print(f"dropped after apply: {dropped}, recovered: {len(recovered)}")
    assert dropped >= 5  # about 1 % of 2000
    assert report.counts["applied"] == 2000
    assert report.counts["ambiguous"] == 0
    assert report.counts["failed"] == 0
    assert report.counts["recovered"] == len(recovered) == dropped
    on_server = collections.Counter(
        (t["store"], t["invoice_number"], t["day"]) for t in await sb.transactions()
    )
    assert len(on_server) == 2000
    assert max(on_server.values()) == 1  # zero duplicates
    assert counters.get("status:400", 0) == 0  # no add was even refused as a duplicate
    ids = [o.award_id for o in report]
    assert None not in ids
    assert len(set(ids)) == 2000  # every row, recovered ones too, knows its transaction


def write_jsonl(path: Path, rows: list[PosTransaction]) -> Path:
    import msgspec

    with path.open("w") as fh:
        for row in rows:
            fh.write(msgspec.json.encode(row).decode() + "\n")
    return path


def import_args(src: Path, tmp_path: Path) -> list[str]:
    return [
        "stamps",
        "transactions",
        "import",
        "--input",
        str(src),
        "--journal",
        str(tmp_path / "j.sqlite"),
        "--report",
        str(tmp_path / "r.jsonl"),
        *FAST,
    ]


@pytest.mark.stampsync_sandbox(members=100)
def test_import_jsonl_and_rerun(stampsync_sandbox: Sandbox, tmp_path: Path) -> None:
    rows = day_rows(30, members=50)
    src = write_jsonl(tmp_path / "day.jsonl", rows)
    with src.open("a") as fh:
        fh.write("not json\n")
        fh.write(json.dumps({"invoice_number": "X", "total_value": "lots"}) + "\n")
    code, _, err = run_cli(import_args(src, tmp_path), stampsync_sandbox)
    assert code == 1, err  # two bad rows failed alone
    report = report_rows(tmp_path / "r.jsonl")
    assert len(report) == 32
    by_status = collections.Counter(r["status"] for r in report)
    assert by_status == {"applied": 30, "failed": 2}
    first = next(r for r in report if r["key"] == "1:POS-00000:2026-03-02")
    assert first["transaction_id"]
    assert first["recovered"] is False
    code, _, err = run_cli(import_args(src, tmp_path), stampsync_sandbox)
    assert code == 1, err
    assert "30 already in the journal" in err
    assert max(server_invoices(stampsync_sandbox).values()) == 1
    assert sum(server_invoices(stampsync_sandbox).values()) == 30


@pytest.mark.stampsync_sandbox(members=100)
def test_import_flat_csv(stampsync_sandbox: Sandbox, tmp_path: Path) -> None:
    src = tmp_path / "day.csv"
    with src.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(
            [
                "invoice_number",
                "store",
                "total_value",
                "number_of_people",
                "created",
                "user",
                "items",
                "payments",
            ]
        )
        out.writerow(
            [
                "C-1",
                2,
                65000,
                2,
                DAY.isoformat(),
                "member3@example.com",
                "Latte*2=50000|Tea*1=15000",
                "10=30000|43=35000",
            ]
        )
        out.writerow(["C-2", 2, 20000, 1, DAY.isoformat(), "", "", ""])
        out.writerow(["C-3", 2, 20000, 1, DAY.isoformat(), "", "Latte=1", ""])
    code, _, err = run_cli(import_args(src, tmp_path), stampsync_sandbox)
    assert code == 1, err
    report = {r["key"]: r for r in report_rows(tmp_path / "r.jsonl")}
    assert report["2:C-1:2026-03-02"]["status"] == "applied"
    assert report["2:C-2:2026-03-02"]["status"] == "applied"
    bad = next(r for r in report.values() if r["status"] == "failed")
    assert "name*quantity=subtotal" in str(bad["error"])
    on_server = {t["invoice_number"]: t for t in anyio.run(stampsync_sandbox.transactions)}
    assert on_server["C-1"]["items"] == 2
    assert on_server["C-1"]["stamps"] == 6  # 65 000 at one stamp per 10 000


def test_import_refuses_a_csv_without_the_required_columns(
    stampsync_sandbox: Sandbox, tmp_path: Path
) -> None:
    src = tmp_path / "day.csv"
    src.write_text("invoice_number,total_value\nA,1\n")
    code, _, err = run_cli(import_args(src, tmp_path), stampsync_sandbox)
    assert code == 2
    assert "number_of_people" in err
    assert anyio.run(stampsync_sandbox.transactions) == []


@pytest.mark.stampsync_sandbox(
    members=100, faults=[Fault("latency", route=ADD_ROUTE, seconds=0.02)]
)
def test_import_killed_with_sigkill_then_rerun(stampsync_sandbox: Sandbox, tmp_path: Path) -> None:
    rows = day_rows(200, members=80)
    src = write_jsonl(tmp_path / "day.jsonl", rows)
    args = import_args(src, tmp_path)
    report = tmp_path / "r.jsonl"
    proc = cli_process(args, stampsync_sandbox)
    wait_for_lines(partial_report(report), 40)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)
    code, _, err = run_cli(args, stampsync_sandbox)
    # What the kill left in flight is settled by its invoice before the rerun sends.
    assert code == 0, err
    done = report_rows(report)
    keys = {row.natural_key() for row in rows}
    assert {str(r["key"]) for r in done} == keys
    assert {r["status"] for r in done} == {"applied"}
    on_server = server_invoices(stampsync_sandbox)
    assert max(on_server.values()) == 1  # zero duplicates
    assert set(on_server) == keys
    assert "recovered after a lost answer" in err


ROUTES_DOWN = [
    "drop_before:1@GET /api/transactions/by-user",
    "drop_before:1@POST /api/v2/transactions/add-or-update",
    f"drop_after:1@{ADD_ROUTE}",
]


@pytest.mark.stampsync_sandbox(members=100)
async def test_ambiguous_keys_are_settled_by_invoice_on_the_next_run(
    stampsync_sandbox: Sandbox, tmp_path: Path
) -> None:
    sb = stampsync_sandbox
    rows = day_rows(6, members=50)
    journal = tmp_path / "j.sqlite"
    await sb.set_faults(*ROUTES_DOWN)
    async with sb.stamps_client(max_retries=0) as client:
        first = await client.transactions.add_many(rows, journal=journal, check_first=False)
    assert first.counts["ambiguous"] == 6  # applied, but nothing could tell
    await sb.set_faults()
    adds_before = sum(r["path"] == "/api/v2/transactions/add" for r in await sb.requests())
    recovered: set[str] = set()
    async with sb.stamps_client() as client:
        again = await client.transactions.add_many(rows, journal=journal, recovered=recovered)
    assert again.counts["applied"] == 6
    # Settled from this input's rows when the run reached them: counted as sent, and
    # settled by lookup, with no add sent again.
    assert again.counts["skipped"] == 0
    assert again.sent == 6
    adds_after = sum(r["path"] == "/api/v2/transactions/add" for r in await sb.requests())
    assert adds_after == adds_before
    assert recovered == {row.natural_key() for row in rows}
    assert again.counts["recovered"] == 6
    assert all(o.award_id for o in again)
    on_server = collections.Counter(t["invoice_number"] for t in await sb.transactions())
    assert len(on_server) == 6
    assert max(on_server.values()) == 1


def test_import_refuses_a_repeated_key_naming_both_lines(
    stampsync_sandbox: Sandbox, tmp_path: Path
) -> None:
    # Two sales of one invoice on one day (written in two offsets) share a natural key.
    first, second = day_rows(2)
    again = msgspec.structs.replace(
        second,
        invoice_number=first.invoice_number,
        store=first.store,
        created=DAY.astimezone(dt.UTC).isoformat(),
    )
    src = write_jsonl(tmp_path / "day.jsonl", [first, second, again])
    code, _, err = run_cli(import_args(src, tmp_path), stampsync_sandbox)
    assert code == 2, err
    assert "line 3: key '1:POS-00000:2026-03-02' is also on line 1" in err, err
    assert anyio.run(stampsync_sandbox.transactions) == []
    assert not (tmp_path / "r.jsonl").exists()


def test_import_refuses_a_repeated_given_key_in_a_csv(
    stampsync_sandbox: Sandbox, tmp_path: Path
) -> None:
    src = tmp_path / "day.csv"
    created = DAY.isoformat()
    src.write_text(
        "key,store,invoice_number,total_value,number_of_people,created\n"
        f"sale-1,1,A-1,20000,1,{created}\n"
        f"sale-2,1,A-2,20000,1,{created}\n"
        f"sale-1,1,A-3,20000,1,{created}\n"
    )
    code, _, err = run_cli(import_args(src, tmp_path), stampsync_sandbox)
    assert code == 2, err
    assert "line 4: key 'sale-1' is also on line 2" in err, err
    assert anyio.run(stampsync_sandbox.transactions) == []


def test_import_speaks_the_command_lines_words(stampsync_sandbox: Sandbox, tmp_path: Path) -> None:
    created = DAY.isoformat()
    rows = [
        {
            "invoice_number": "W-1",
            "store": 1,
            "total_value": "lots",
            "number_of_people": 1,
            "created": created,
        },
        {"invoice_number": "W-2", "total_value": 20000, "number_of_people": 1, "created": created},
        {
            "key": "mine",
            "store": 1,
            "invoice_number": "W-3",
            "total_value": 1,
            "number_of_people": "two",
            "created": created,
        },
    ]
    src = tmp_path / "day.jsonl"
    src.write_text("".join(json.dumps(row) + "\n" for row in rows))
    code, _, err = run_cli(import_args(src, tmp_path), stampsync_sandbox)
    assert code == 1, err
    report = {r["row"]: r for r in report_rows(tmp_path / "r.jsonl")}
    assert report[1]["key"] == "1:W-1:2026-03-02"
    assert report[1]["error"] == "line 1: total_value must be a number"
    assert "--store" in str(report[2]["error"])
    assert "store=" not in str(report[2]["error"])
    assert not str(report[2]["key"]).startswith("None:")
    assert report[3]["key"] == "mine"
    assert report[3]["error"] == "line 3: number_of_people must be a whole number"
    assert anyio.run(stampsync_sandbox.transactions) == []


def test_a_bad_csv_row_keeps_the_key_it_names(stampsync_sandbox: Sandbox, tmp_path: Path) -> None:
    src = tmp_path / "day.csv"
    created = DAY.isoformat()
    src.write_text(
        "key,store,invoice_number,total_value,number_of_people,created,items\n"
        f"sale-1,1,B-1,20000,1,{created},Latte=1\n"
        f",1,B-2,20000,1,{created},Latte=1\n"
        f"sale-3,1,B-3,20000,1,{created},,extra\n"
    )
    code, _, err = run_cli(import_args(src, tmp_path), stampsync_sandbox)
    assert code == 1, err
    keys = {r["row"]: r["key"] for r in report_rows(tmp_path / "r.jsonl")}
    assert keys == {2: "sale-1", 3: "1:B-2:2026-03-02", 4: "sale-3"}


async def test_a_row_without_store_or_key_fails_alone_without_a_none_key(
    stampsync_sandbox: Sandbox, tmp_path: Path
) -> None:
    good, bare = day_rows(2)
    bare = msgspec.structs.replace(bare, store=None, row=7)
    sandbox = stampsync_sandbox
    async with sandbox.stamps_client(throttle_limit=100_000, store=None) as client:
        report = await client.transactions.add_many([good, bare], journal=tmp_path / "j.sqlite")
    outcomes = {o.row: o for o in report}
    assert outcomes[1].status == "applied"
    assert outcomes[7].status == "failed"
    assert not outcomes[7].key.startswith("None:")
    assert "no store" in str(outcomes[7].error)
    sent = [t["invoice_number"] for t in await stampsync_sandbox.transactions()]
    assert sent == [good.invoice_number]
