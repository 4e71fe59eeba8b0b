"""Bounds on every write path (issue 26, item 4).

Finite numbers only, refused before anything is sent (JSON has no NaN or Infinity: they
reached the server as ``null``); counts of stamps and money values under a guard the
caller can raise (``max_stamps``, ``max_value``); no negative amount where the API means
a positive one. A bad row of a batch fails alone, naming the field.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import tracemalloc
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import msgspec
import pytest
from aiohttp import web

from stampsync import StampedClient, StampsClient
from stampsync._jsonl import MAX_JSONL_LINE, json_row, jsonl_lines
from stampsync.errors import ConfigurationError
from stampsync.sandbox import Sandbox
from stampsync.stamped.v3 import OrderData
from stampsync.stamps import (
    IssueVoucher,
    Item,
    Payment,
    PosTransaction,
    RewardRedemption,
    StampAward,
)
from tests._cli import report_rows, run_cli
from tests._server import RecordingServer
from tests.with_sandbox.test_pos_import import import_args

WIB = dt.timezone(dt.timedelta(hours=7))
CREATED = dt.datetime(2026, 3, 2, 9, 0, tzinfo=WIB).isoformat()
SALE: dict[str, Any] = {
    "invoice_number": "INV-1",
    "total_value": 50_000,
    "number_of_people": 1,
    "created": CREATED,
    "store": 2,
    "user": "a@b.co",
}

Call = Callable[[StampsClient, StampedClient], Awaitable[object]]


def sale(**changes: Any) -> Call:
    return lambda sp, _: sp.transactions.add(**{**SALE, **changes})


def order(**cart: Any) -> Call:
    data = msgspec.convert(
        {"customOrderId": "o-1", "customerId": "c-1", "cart": cart}, OrderData, from_attributes=True
    )
    return lambda _, st: st.v3.orders.push(data)


REFUSED: dict[str, tuple[Call, str]] = {
    "total-nan": (sale(total_value=math.nan), "total_value must be a finite number"),
    "total-inf": (sale(total_value=math.inf), "total_value must be a finite number"),
    "total-1e18": (sale(total_value=1e18), "total_value 1e+18 is over the limit"),
    "total-negative": (sale(total_value=-5), "total_value must not be negative"),
    "tax-negative": (sale(tax=-1), "tax must not be negative"),
    "discount-inf": (sale(discount=-math.inf), "discount must be a finite number"),
    "people-10**12": (
        sale(number_of_people=10**12),
        "number_of_people 1000000000000 is over the limit of 100,000",
    ),
    "stamps-2e9": (sale(stamps=2_000_000_000), "stamps 2000000000 is over the limit"),
    "item-nan": (
        sale(items=[Item(product_name="Latte", quantity=1, subtotal=math.nan)]),
        "items[0].subtotal must be a finite number",
    ),
    "item-quantity-negative": (
        sale(items=[Item(product_name="Latte", quantity=-2, subtotal=1)]),
        "items[0].quantity must not be negative",
    ),
    "payment-inf": (
        sale(payments=[Payment(value=math.inf, payment_method=10)]),
        "payments[0].value must be a finite number",
    ),
    "redeem-stamps-2e9": (
        lambda sp, _: sp.transactions.add_with_redemptions(
            **SALE,
            reward_redemptions=[RewardRedemption(request_id="r", reward=1, stamps=2_000_000_000)],
        ),
        "reward_redemptions[0].stamps 2000000000 is over the limit",
    ),
    "issued-voucher-nan": (
        lambda sp, _: sp.transactions.add_with_redemptions(
            **SALE, issue_voucher=IssueVoucher(template_id=1, value=math.nan)
        ),
        "issue_voucher.value must be a finite number",
    ),
    "credit-nan": (
        lambda sp, _: sp.balances.credit(user="a@b.co", amount=math.nan, type="stamps"),
        "amount must be a finite number",
    ),
    "debit-1e18": (
        lambda sp, _: sp.balances.debit(user="a@b.co", amount=1e18, type="stamps"),
        "amount 1e+18 is over the limit",
    ),
    "voucher-deduct-inf": (
        lambda sp, _: sp.vouchers.deduct_value(user="a@b.co", voucher=1, value=math.inf),
        "value must be a finite number",
    ),
    "voucher-validate-nan": (
        lambda sp, _: sp.vouchers.validate(
            voucher_code="V", merchant=1, transaction_value=math.nan
        ),
        "transaction_value must be a finite number",
    ),
    "award-2e9": (
        lambda sp, _: sp.stamps.add(user="a@b.co", store=2, number_of_stamps=2_000_000_000),
        "number_of_stamps 2000000000 is over the limit of 10,000 (max_stamps",
    ),
    "deduct-2e9": (
        lambda sp, _: sp.stamps.deduct(user="a@b.co", stamps=2_000_000_000, notes="x"),
        "stamps 2000000000 is over the limit",
    ),
    "modify-nan": (
        lambda sp, _: sp.transactions.modify(id=1, total_value=math.nan, subtotal=-1, items=[]),
        "total_value must be a finite number",
    ),
    "preview-inf": (
        lambda sp, _: sp.transactions.preview_earnings(store=2, total_value=math.inf),
        "total_value must be a finite number",
    ),
    "points-nan": (
        lambda _, st: st.v3.loyalty.adjust_points("c-1", points=math.nan),
        "points must be a finite number",
    ),
    "points-inf": (
        lambda _, st: st.v3.loyalty.adjust_points("c-1", points=-math.inf),
        "points must be a finite number",
    ),
    "points-1e9": (
        lambda _, st: st.v3.loyalty.adjust_points("c-1", points=-1e9),
        "points -1000000000.0 is over the limit of 10,000 (max_stamps",
    ),
    "v2-points-nan": (
        lambda _, st: st.loyalty.create_transaction(email="a@b.co", type="custom", points=math.nan),
        "points must be a finite number",
    ),
    "v2-order-value-inf": (
        lambda _, st: st.loyalty.create_transaction(
            email="a@b.co", type="purchase", order_value=math.inf
        ),
        "order_value must be a finite number",
    ),
    "order-total-nan": (order(shopPriceTotal="NaN"), "cart.shop_price_total must be a finite"),
    "order-total-1e18": (order(shopPriceTotal="1e18"), "cart.shop_price_total 1e+18 is over"),
    "order-tax-negative": (order(shopPriceTax="-3"), "cart.shop_price_tax must not be negative"),
    "order-line-price-inf": (
        order(lineItems=[{"price": "inf", "quantity": "1"}]),
        "cart.line_items[0].price must be a finite number",
    ),
    "order-price-not-a-number": (
        order(shopPriceTotal="12,50"),
        "cart.shop_price_total must be a number written as text",
    ),
}


def clients(url: str, **settings: Any) -> tuple[StampsClient, StampedClient]:
    sp = StampsClient("tok-123456", api_url=url, store=2, **settings)
    st = StampedClient(
        "pub-123456", "key-private-123456", "270392", api_key="key-v3-123456", api_url=url,
        **settings,
    )  # fmt: skip
    return sp, st


@pytest.mark.parametrize("case", list(REFUSED))
async def test_a_value_out_of_bounds_is_refused_before_sending(
    case: str, server: RecordingServer
) -> None:
    call, message = REFUSED[case]
    sp, st = clients(server.url)
    async with sp, st:
        with pytest.raises(ConfigurationError) as refused:
            await call(sp, st)
    assert message in str(refused.value)
    assert server.arrivals == []


async def test_the_guards_are_client_settings_a_caller_can_raise(server: RecordingServer) -> None:
    async def respond(request: web.Request, n: int) -> web.StreamResponse:
        # The V3 adjustment answers the activity it recorded (its own id is required).
        is_v3 = "/api/v3/" in request.path
        return web.json_response({"activityId": f"a-{n}"} if is_v3 else {})

    server.responder = respond
    sp, st = clients(server.url, max_value=10**19, max_stamps=10**10)
    async with sp, st:
        await sp.transactions.add(**{**SALE, "total_value": 1e18, "stamps": 2_000_000_000})
        await st.v3.loyalty.adjust_points("c-1", points=-1e9)
    async with StampsClient("tok-123456", api_url=server.url, store=2) as default:
        raised = default.with_options(max_value=10**19)
        await raised.transactions.add(**{**SALE, "total_value": 1e18})
        with pytest.raises(ConfigurationError, match="over the limit"):
            await default.transactions.add(**{**SALE, "total_value": 1e18})
    bodies = [json.loads(a.body) for a in server.arrivals]
    assert [b.get("total_value", b.get("points")) for b in bodies] == [1e18, -1e9, 1e18]
    assert bodies[0]["stamps"] == 2_000_000_000


@pytest.mark.parametrize(
    ("setting", "value"),
    [("max_stamps", 0), ("max_stamps", 2.5), ("max_value", math.inf), ("max_value", -1)],
)
def test_a_guard_must_be_a_positive_finite_setting(setting: str, value: object) -> None:
    with pytest.raises(ConfigurationError, match=f"{setting} must be a positive"):
        StampsClient("tok-123456", **{setting: value})  # type: ignore[arg-type]


async def test_a_bad_transaction_row_fails_alone_naming_its_field(
    server: RecordingServer, tmp_path: Path
) -> None:
    def row(n: int, **changes: Any) -> PosTransaction:
        return PosTransaction(**{**SALE, "invoice_number": f"INV-{n}", **changes})

    rows = [
        row(1),
        row(2, total_value=math.nan),
        row(3, number_of_people=10**12),
        row(4, stamps=2_000_000_000),
        row(5, total_value=-1),
        row(6),
    ]
    async with StampsClient("tok-123456", api_url=server.url) as sp:
        report = await sp.transactions.add_many(rows, journal=tmp_path / "j.sqlite")
    by_invoice = {o.key.split(":")[1]: o for o in report}
    assert by_invoice["INV-1"].status == by_invoice["INV-6"].status == "applied"
    for invoice, field in [
        ("INV-2", "total_value"),
        ("INV-3", "number_of_people"),
        ("INV-4", "stamps"),
        ("INV-5", "total_value"),
    ]:
        assert by_invoice[invoice].status == "failed"
        assert str(by_invoice[invoice].error).startswith(field), by_invoice[invoice].error
    sent = [json.loads(a.body) for a in server.arrivals if a.path == "/api/v2/transactions/add"]
    assert sorted(b["invoice_number"] for b in sent) == ["INV-1", "INV-6"]
    assert report.exit_code == 1


async def award_answer(request: web.Request, n: int) -> web.StreamResponse:
    if request.path == "/api/ping":
        return web.json_response({"pong": {}})
    return web.json_response({"award": {"id": n + 1}})


async def test_an_award_row_over_the_clients_max_stamps_fails_alone(
    server: RecordingServer,
) -> None:
    server.responder = award_answer
    awards = [
        StampAward(key=f"k{n}", user="a@b.co", store=1, number_of_stamps=stamps)
        for n, stamps in enumerate([5, 20_000, 7])
    ]
    async with StampsClient("tok-123456", api_url=server.url) as sp:
        report = await sp.stamps.add_many(awards)
        raised = await sp.with_options(max_stamps=50_000).stamps.add_many(awards[1:2])
        for_the_run = await sp.stamps.add_many(awards[1:2], max_stamps=50_000)
    by_key = {o.key: o for o in report}
    assert {k: o.status for k, o in by_key.items()} == {
        "k0": "applied",
        "k1": "failed",
        "k2": "applied",
    }
    assert "over the limit of 10,000 (max_stamps" in str(by_key["k1"].error)
    assert [o.status for o in raised] == [o.status for o in for_the_run] == ["applied"]
    sent = [json.loads(a.body)["number_of_stamps"] for a in server.arrivals if "add" in a.path]
    assert sorted(sent) == [5, 7, 20_000, 20_000]


def jsonl_sale(n: int, total: str = "50000") -> str:
    # Written by hand: NaN, Infinity and 1e400 are what a careless exporter writes.
    return (
        f'{{"invoice_number": "INV-{n}", "total_value": {total}, "number_of_people": 1, '
        f'"created": "{CREATED}", "store": 1, "user": "member1@example.com"}}\n'
    )


@pytest.mark.stampsync_sandbox(members=10)
def test_import_rows_with_non_finite_or_huge_numbers_fail_alone(
    stampsync_sandbox: Sandbox, tmp_path: Path
) -> None:
    src = tmp_path / "day.jsonl"
    bad = ["NaN", "Infinity", "-Infinity", "1e400", "-5", "1e18", "9" * 5000]
    with src.open("w") as fh:
        fh.write(jsonl_sale(0))
        for n, total in enumerate(bad, 1):
            fh.write(jsonl_sale(n, total))
        fh.write('{"invoice_number": "' + "x" * (MAX_JSONL_LINE + 10) + '"}\n')
        fh.write(jsonl_sale(99))
    code, _, err = run_cli(import_args(src, tmp_path), stampsync_sandbox)
    assert code == 1, err
    report = {r["row"]: r for r in report_rows(tmp_path / "r.jsonl")}
    assert report[1]["status"] == report[10]["status"] == "applied"
    for row in range(2, 9):
        assert report[row]["status"] == "failed", report[row]
    assert "total_value must be a finite number" in str(report[2]["error"])
    assert "total_value must be a finite number" in str(report[5]["error"])  # 1e400
    assert "total_value must not be negative" in str(report[6]["error"])
    assert "total_value 1e+18 is over the limit" in str(report[7]["error"])
    assert "line 8 is not JSON" in str(report[8]["error"])  # more digits than Python reads
    assert "line 9 is longer than 1,048,576 bytes" in str(report[9]["error"])
    sent = anyio.run(stampsync_sandbox.transactions)
    assert sorted(t["invoice_number"] for t in sent) == ["INV-0", "INV-99"]


@pytest.mark.stampsync_sandbox(members=10)
def test_import_csv_cells_nan_and_inf_fail_alone_and_max_value_raises_the_guard(
    stampsync_sandbox: Sandbox, tmp_path: Path
) -> None:
    src = tmp_path / "day.csv"
    head = "invoice_number,total_value,number_of_people,created,store,user,stamps\n"
    rows = [
        ("INV-0", "50000", "1", ""),
        ("INV-1", "nan", "1", ""),
        ("INV-2", "inf", "1", ""),
        ("INV-3", "-inf", "1", ""),
        ("INV-4", "50000", "1000000000000", ""),
        ("INV-5", "50000", "1", "2000000000"),
        ("INV-6", "2e12", "1", ""),
    ]
    src.write_text(
        head
        + "".join(
            f"{inv},{total},{people},{CREATED},1,member1@example.com,{stamps}\n"
            for inv, total, people, stamps in rows
        )
    )
    code, _, err = run_cli(import_args(src, tmp_path), stampsync_sandbox)
    assert code == 1, err
    status = {str(r["key"]).split(":")[1]: r for r in report_rows(tmp_path / "r.jsonl")}
    assert status["INV-0"]["status"] == "applied"
    for invoice, field in [
        ("INV-1", "total_value"),
        ("INV-2", "total_value"),
        ("INV-3", "total_value"),
        ("INV-4", "number_of_people"),
        ("INV-5", "stamps"),
        ("INV-6", "total_value"),
    ]:
        assert status[invoice]["status"] == "failed"
        assert str(status[invoice]["error"]).startswith(field), status[invoice]
    code, _, err = run_cli(
        [*import_args(src, tmp_path), "--max-value", "1e13", "--max-stamps", "2000000000"],
        stampsync_sandbox,
    )
    assert code == 1, err  # the rows that are wrong whatever the guard still fail
    after = {str(r["key"]).split(":")[1]: r["status"] for r in report_rows(tmp_path / "r.jsonl")}
    assert after["INV-5"] == after["INV-6"] == "applied"
    assert after["INV-1"] == after["INV-4"] == "failed"
    sent = {t["invoice_number"]: t for t in anyio.run(stampsync_sandbox.transactions)}
    assert sorted(sent) == ["INV-0", "INV-5", "INV-6"]


def test_a_huge_jsonl_line_is_read_past_without_holding_it(tmp_path: Path) -> None:
    src = tmp_path / "big.jsonl"
    with src.open("wb") as fh:
        fh.write(b'{"a": 1}\n')
        fh.write(b'{"a": "' + b"x" * (64 << 20) + b'"}\n')
        fh.write(b'{"a": 3}\n')
    tracemalloc.start()
    try:
        lines = list(jsonl_lines(src))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [(n, t is None) for n, t in lines] == [(1, False), (2, True), (3, False)]
    assert json_row(*lines[2]) == {"a": 3}
    assert peak < 4 * MAX_JSONL_LINE, peak  # a line's cap and a chunk, not 64 MiB


def test_a_deeply_nested_or_unreadable_pos_file_fails_rows_never_the_run(tmp_path: Path) -> None:
    """Reader errors are rows' errors: a nested JSONL line, an empty or non-UTF-8 CSV."""
    from stampsync._engine.writes import Rejected
    from stampsync.batch.pos_rows import read_transactions

    nested = tmp_path / "day.jsonl"
    good = {"invoice_number": "I-1", "total_value": 1, "number_of_people": 1,
            "created": "2026-03-02T09:00:00+07:00", "store": 1}  # fmt: skip
    nested.write_text(json.dumps(good) + "\n" + "[" * 100_000 + "\n")
    rows = list(read_transactions(nested))
    assert not isinstance(rows[0], Rejected)
    assert isinstance(rows[1], Rejected)
    assert "not JSON" in rows[1].error
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert list(read_transactions(empty)) == []
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"invoice_number,total_value\nI-\xe9,1\n")
    (bad,) = list(read_transactions(latin))
    assert isinstance(bad, Rejected)
    assert "not UTF-8" in bad.error
