"""The V3 order push: journaled, each key at most once, through drops and a SIGKILL."""

from __future__ import annotations

import json
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
import pytest

from stampsync._engine.journal import Journal
from stampsync.sandbox import Fault, Sandbox, V3OrderRecord
from stampsync.stamped.v3 import OrderData, OrderPush
from stampsync.testing import no_backoff
from tests._cli import FAST, cli_process, partial_report, report_rows, run_cli, wait_for_lines

ORDERS_ROUTE = "POST /api/v3/merchant/shops/270392/orders"


def order_row(i: int) -> dict[str, Any]:
    """Even rows carry the platform's order id (an upsert); odd ones do not (a plain
    create), keyed by the caller and tagged so the server's copy can be counted."""
    row: dict[str, Any] = {
        "customCustomerId": f"shop-{1 + i % 40}",
        "cart": {
            "lineItems": [{"sku": f"SKU-{i % 7}", "quantity": "1", "price": "10.00"}],
            "shopPriceTotal": "10.00",
        },
    }
    if i % 2 == 0:
        row["customOrderId"] = f"web-{i}"
    else:
        row["key"] = f"pos-{i}"
        row["tags"] = [f"key:pos-{i}"]
    return row


def key_of(i: int) -> str:
    return f"web-{i}" if i % 2 == 0 else f"pos-{i}"


def write_orders(path: Path, n: int) -> Path:
    path.write_text("".join(json.dumps(order_row(i)) + "\n" for i in range(n)))
    return path


def server_orders(sb: Sandbox) -> list[V3OrderRecord]:
    return anyio.run(lambda: sb.v3("orders"))


def plain_creates(orders: list[V3OrderRecord]) -> Counter[str]:
    """How many server orders carry each plain-create key."""
    return Counter(t[4:] for o in orders for t in o.get("tags") or [] if t.startswith("key:"))


async def test_push_many_reports_each_key_and_a_rerun_sends_nothing_again(
    stampsync_sandbox: Sandbox, tmp_path: Path
) -> None:
    sb = stampsync_sandbox
    journal = tmp_path / "j.sqlite"
    order = [1, 0, *range(2, 60)]  # a plain create first, then an upsert
    rows: list[Any] = [
        OrderPush(key=key_of(i), order=OrderData(**_snake(order_row(i)))) for i in order
    ]
    rows.append(OrderData(custom_customer_id="shop-1", cart=None, custom_order_id="web-bad"))
    rows.append(OrderData(custom_customer_id="shop-1"))  # no key at all
    await sb.set_faults(f"drop_after:1:1:2@{ORDERS_ROUTE}")
    with no_backoff():
        async with sb.stamped_client(concurrent_batch_executions=1) as st:
            report = await st.v3.orders.push_many(rows, journal=journal)
            again = await st.v3.orders.push_many(rows, journal=journal)
    by_key = {o.key: o for o in report}
    assert by_key["web-bad"].status == "failed"
    assert "cart" in (by_key["web-bad"].error or "")
    assert by_key[""].status == "failed"
    # The first two pushes were dropped after applying: the plain create is ambiguous,
    # the upsert was retried (one order all the same).
    assert {k for k, o in by_key.items() if o.status == "ambiguous"} == {"pos-1"}
    assert by_key["web-0"].status == "applied"
    assert report.counts["applied"] == 59
    assert again.sent == 0
    assert again.counts["skipped"] == 59
    orders = await sb.v3("orders")
    assert max(plain_creates(orders).values()) == 1
    assert len({o["customOrderId"] for o in orders if o["customOrderId"]}) == 30
    with Journal(journal) as j:
        assert j.counts()["ambiguous"] == 1


def _snake(row: dict[str, Any]) -> dict[str, Any]:
    import msgspec

    data = msgspec.convert({k: v for k, v in row.items() if k != "key"}, OrderData)
    return {f: getattr(data, f) for f in OrderData.__struct_fields__}


@pytest.mark.stampsync_sandbox(
    faults=[
        Fault("drop_after", route=ORDERS_ROUTE, probability=0.01),
        Fault("latency", route=ORDERS_ROUTE, seconds=0.004),
    ],
    fault_seed=7,
)
def test_push_orders_through_drops_and_a_sigkill_then_a_rerun(
    stampsync_sandbox: Sandbox, tmp_path: Path
) -> None:
    sb = stampsync_sandbox
    n = 5000
    src = write_orders(tmp_path / "orders.jsonl", n)
    journal, report = tmp_path / "j.sqlite", tmp_path / "r.jsonl"
    args = [
        "stamped",
        "push-orders",
        "--input",
        str(src),
        "--journal",
        str(journal),
        "--report",
        str(report),
        *FAST,
    ]
    started = time.monotonic()
    proc = cli_process(args, sb)
    wait_for_lines(partial_report(report), 1500, timeout=120)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)
    killed_after = len(report_rows(partial_report(report)))
    assert killed_after < n  # killed mid-run
    code, _, err = run_cli(args, sb)
    elapsed = time.monotonic() - started
    assert code in (0, 3), err
    rows = report_rows(report)
    assert sorted(str(r["key"]) for r in rows) == sorted(key_of(i) for i in range(n))

    orders = server_orders(sb)
    creates = plain_creates(orders)
    # 0 orders pushed twice where the push is not idempotent.
    assert max(creates.values()) == 1
    # Every upsert is on the server exactly once, however often it was sent.
    upserts = Counter(o["customOrderId"] for o in orders if o["customOrderId"])
    assert set(upserts) == {key_of(i) for i in range(0, n, 2)}
    assert max(upserts.values()) == 1

    statuses = Counter(str(r["status"]) for r in rows)
    ambiguous = {str(r["key"]) for r in rows if r["status"] == "ambiguous"}
    assert statuses["failed"] == 0
    # Ambiguous only for the drops: plain creates whose answer was lost (a drop_after
    # fault, or the SIGKILL cutting a request in flight). The upserts were resent.
    assert all(k.startswith("pos-") for k in ambiguous)
    counters = anyio.run(sb.counters)
    drops = counters["fault:drop_after"]
    assert drops > 0
    assert len(ambiguous) <= drops + 10  # 10: the batch in flight at the kill
    # A drop_after applies, then cuts: only a push the kill caught between its journal
    # entry and the server may be ambiguous without having arrived.
    assert len(ambiguous - set(creates)) <= 10
    applied = {str(r["key"]) for r in rows if r["status"] == "applied"}
    assert applied | ambiguous == {key_of(i) for i in range(n)}
    print(
        f"\n5000 orders: killed after {killed_after} rows; {drops} drop_after faults; "
        f"{len(ambiguous)} ambiguous ({len(ambiguous - set(creates))} never arrived); "
        f"{max(creates.values())} copies at most of a plain create; {elapsed:.1f}s in all"
    )


@pytest.mark.stampsync_sandbox
def test_export_customers_v3(stampsync_sandbox: Sandbox, tmp_path: Path) -> None:
    sb = stampsync_sandbox
    out = tmp_path / "v3.jsonl"
    env_args: list[str] = []  # the key comes from STAMPED_API_KEY
    code, _, err = run_cli(
        ["stamped", "export-customers", "--api", "v3", "--out", str(out), *FAST, *env_args], sb
    )
    assert code == 0, err
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 40
    assert rows[0]["customerId"] == "cus_000001"
    assert "exported 40 customers" in err
    gold = tmp_path / "gold.jsonl"
    code, _, err = run_cli(
        [
            "stamped",
            "export-customers",
            "--api",
            "v3",
            "--out",
            str(gold),
            "--filter",
            "vip_tier=Gold",
            "--filter",
            "points_min=600",
            "--page-size",
            "3",
            *FAST,
            *env_args,
        ],
        sb,
    )
    assert code == 0, err
    picked = [json.loads(line) for line in gold.read_text().splitlines()]
    assert picked
    assert all(r["activity"]["vipTier"] == "Gold" for r in picked)
    assert len(picked) < 40
    code, _, err = run_cli(
        ["stamped", "export-customers", "--api", "v3", "--out", str(gold), "--filter", "x=1"], sb
    )
    assert code == 2
    assert "--filter takes NAME=VALUE" in err


def push_args(src: Path, tmp_path: Path) -> list[str]:
    return [
        "stamped",
        "push-orders",
        "--input",
        str(src),
        "--journal",
        str(tmp_path / "j.sqlite"),
        "--report",
        str(tmp_path / "r.jsonl"),
        *FAST,
    ]


def test_push_orders_reports_each_order_with_its_stamped_id_and_checks_the_cart(
    stampsync_sandbox: Sandbox, tmp_path: Path
) -> None:
    line = {"sku": "MUG", "quantity": 2, "price": 12.5}  # numbers: sent as the API's text
    rows = [
        {"customOrderId": "web-1", "customCustomerId": "shop-1", "cart": {"lineItems": [line]}},
        {
            "key": "pos-2",
            "customCustomerId": "shop-2",
            "cart": {"lineItems": [{"sku": "MUG", "prise": "12.00"}], "shopPriceTotal": "12"},
        },
        {"key": "pos-3", "customCustomerId": "shop-3", "cart": {"lineItems": [{"price": 1e400}]}},
        {"key": "pos-4", "customCustomerId": "shop-4", "cart": {"shopPriceTotal": True}},
    ]
    src = tmp_path / "orders.jsonl"
    src.write_text("".join(json.dumps(row) + "\n" for row in rows).replace("Infinity", "1e400"))
    code, _, err = run_cli(push_args(src, tmp_path), stampsync_sandbox)
    assert code == 1, err
    report = {str(r["key"]): r for r in report_rows(tmp_path / "r.jsonl")}
    assert {tuple(r) for r in report.values()} == {("row", "key", "status", "order_id", "error")}
    (order,) = server_orders(stampsync_sandbox)
    assert report["web-1"]["status"] == "applied"
    assert report["web-1"]["order_id"] == order["orderId"]
    assert order["cartStates"][0]["lineItems"][0]["price"] in ("12.5", 12.5)
    assert report["pos-2"]["error"] == "line 2: unknown cart.lineItems[0] fields: prise"
    assert "cart.line_items[0].price must be a finite number" in str(report["pos-3"]["error"])
    assert report["pos-4"]["error"] == "line 4: cart.shopPriceTotal must be text"
    assert all(report[k]["order_id"] is None for k in ("pos-2", "pos-3", "pos-4"))


@pytest.mark.stampsync_sandbox(faults=[Fault("drop_after", route=ORDERS_ROUTE, probability=1.0)])
def test_an_ambiguous_push_is_listed_and_resolved_with_stamped_journal(
    stampsync_sandbox: Sandbox, tmp_path: Path
) -> None:
    sb = stampsync_sandbox
    src = tmp_path / "orders.jsonl"
    cart = {"lineItems": [{"sku": "MUG", "quantity": "1", "price": "5"}], "shopPriceTotal": "5"}
    row = {"key": "pos-1", "customCustomerId": "shop-1", "cart": cart}
    src.write_text(json.dumps(row) + "\n")
    code, _, err = run_cli(push_args(src, tmp_path), sb)
    assert code == 3, err
    journal = str(tmp_path / "j.sqlite")
    assert f"stampsync stamped journal resolve --journal {journal} KEY" in " ".join(err.split())
    listing = ["stamped", "journal", "list", "--journal", journal, "--status", "ambiguous"]
    code, out, err = run_cli(listing, sb)
    assert code == 0, err
    (entry,) = [json.loads(line) for line in out.splitlines()]
    assert (entry["key"], entry["status"]) == ("pos-1", "ambiguous")
    assert "award_id" not in entry
    code, _, err = run_cli(
        ["stamped", "journal", "resolve", "--journal", journal, "pos-1", "--applied"], sb
    )
    assert code == 0, err
    with Journal(journal) as j:
        assert j.counts()["applied"] == 1
        assert j.counts()["ambiguous"] == 0


@pytest.mark.stampsync_sandbox(faults=[Fault("drop_after", route=ORDERS_ROUTE, times=1)])
def test_stamped_journal_commands_read_a_postgresql_journal(
    stampsync_sandbox: Sandbox, tmp_path: Path, pg_dsn: str
) -> None:
    sb = stampsync_sandbox
    src = tmp_path / "orders.jsonl"
    cart = {"lineItems": [{"sku": "MUG", "quantity": "1", "price": "5"}], "shopPriceTotal": "5"}
    row = {"key": "pos-1", "customCustomerId": "shop-1", "cart": cart}
    src.write_text(json.dumps(row) + "\n")
    args = push_args(src, tmp_path)
    args[args.index("--journal") + 1] = pg_dsn
    code, _, err = run_cli(args, sb)
    assert code == 3, err
    listing = ["stamped", "journal", "list", "--journal", pg_dsn, "--status", "ambiguous"]
    code, out, err = run_cli(listing, sb)
    assert code == 0, err
    (entry,) = [json.loads(line) for line in out.splitlines()]
    assert (entry["account"], entry["key"]) == ("stamped:store:270392", "pos-1")
    resolve = ["stamped", "journal", "resolve", "--journal", pg_dsn, "pos-1", "--not-applied"]
    code, _, err = run_cli(resolve, sb)
    assert code == 0, err
    code, _, err = run_cli(args, sb)  # not applied: pushed again, and answered this time
    assert code == 0, err + json.dumps(report_rows(tmp_path / "r.jsonl"))
    (pushed,) = report_rows(tmp_path / "r.jsonl")
    assert pushed["order_id"] in {o["orderId"] for o in server_orders(sb)}


async def test_an_open_database_journal_keeps_its_account_for_push_many(
    stampsync_sandbox: Sandbox, pg_dsn: str
) -> None:
    """As with adjust_points_many and the awards: a journal passed open files the keys
    under the account it was opened with (a fleet's store), not the shop's store hash."""
    from stampsync._engine.postgres import PgJournal

    pushes = [OrderPush(key=key_of(i), order=OrderData(**_snake(order_row(i)))) for i in range(3)]
    async with (
        PgJournal(pg_dsn, account="fleet-shop-7") as journal,
        stampsync_sandbox.stamped_client() as st,
    ):
        first = await st.v3.orders.push_many(pushes, journal=journal)
        again = await st.v3.orders.push_many(pushes, journal=journal)
    assert first.counts["applied"] == 3, first.counts
    assert again.counts["skipped"] == 3, again.counts  # the same account's keys, found
