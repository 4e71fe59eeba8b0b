"""A lost transactions.add is recovered only onto its own sale.

Customer B's sale is cut before the server applies it, while the invoice's (store,
invoice) key already holds another sale: customer A's of the same day, B's own of
another day, or one the listing cannot date. The client must end B's row ambiguous,
never applied, and the import must exit so.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import anyio
import pytest

from stampsync.errors import AmbiguousWriteError
from stampsync.sandbox import Sandbox
from stampsync.stamps import Item, PosTransaction
from tests._cli import FAST, report_rows, run_cli

WIB = dt.timezone(dt.timedelta(hours=7))
DAY = dt.datetime(2026, 3, 2, 10, 0, tzinfo=WIB)
ADD_ROUTE = "POST /api/v2/transactions/add"
A, B = "member1@example.com", "member2@example.com"
VALUE = 40_000


def sale(user: str, created: dt.datetime, *, store: int = 1, items: bool = True) -> dict[str, Any]:
    return {
        "invoice_number": "INV-7",
        "total_value": VALUE,
        "number_of_people": 1,
        "created": created.isoformat(),
        "store": store,
        "user": user,
        "items": [Item(product_name="Latte", quantity=1, subtotal=VALUE)] if items else None,
    }


async def stamps_of(sb: Sandbox, user: str) -> int:
    member = await sb.member(user)
    assert member is not None
    stamps: int = member["stamps"]
    return stamps


async def lose_b(sb: Sandbox, recorded: dict[str, Any], tmp_path: Path) -> Any:
    """Record ``recorded``; then import B's sale with its add cut before it is applied."""
    async with sb.stamps_client() as client:
        await client.transactions.add(**recorded)
        before = await stamps_of(sb, B)
        await sb.set_faults(f"drop_before:1@{ADD_ROUTE}")
        report = await client.transactions.add_many(
            [PosTransaction(**sale(B, DAY + dt.timedelta(hours=1)))],
            journal=tmp_path / "j.sqlite",
        )
    await sb.set_faults()
    assert await stamps_of(sb, B) == before  # B got nothing...
    [outcome] = list(report)
    assert outcome.status == "ambiguous", outcome  # ...and is not told otherwise
    assert report.counts["recovered"] == 0
    assert report.exit_code == 3
    return outcome


@pytest.mark.parametrize("a_items", [True, False], ids=["complete", "without-items"])
@pytest.mark.stampsync_sandbox(members=20)
async def test_b_lost_sale_of_a_day_whose_invoice_a_holds(
    stampsync_sandbox: Sandbox, tmp_path: Path, a_items: bool
) -> None:
    sb = stampsync_sandbox
    outcome = await lose_b(sb, sale(A, DAY, items=a_items), tmp_path)
    # With items, the upsert answers "already complete" (whose, it does not say);
    # without, it completes A's sale with B's items and names A's transaction.
    assert ("already complete" if a_items else "landed on transaction") in str(outcome.error)
    [only] = await sb.transactions()
    member = await sb.member(A)
    assert member is not None
    assert only["user"] == member["pk"]  # A's sale, and no other


@pytest.mark.parametrize("items", [True, False], ids=["complete", "without-items"])
@pytest.mark.stampsync_sandbox(members=20)
async def test_b_lost_sale_when_the_invoice_holds_another_days_sale(
    stampsync_sandbox: Sandbox, tmp_path: Path, items: bool
) -> None:
    sb = stampsync_sandbox
    yesterday = sale(B, DAY - dt.timedelta(days=1), items=items)
    await lose_b(sb, yesterday, tmp_path)
    [only] = await sb.transactions()
    assert only["day"] == "2026-03-01"  # today's sale was never recorded


@pytest.mark.parametrize(
    "listing",
    [
        pytest.param("missing", marks=pytest.mark.stampsync_sandbox(listing_created="missing")),
        pytest.param("text", marks=pytest.mark.stampsync_sandbox(listing_created="text")),
    ],
)
@pytest.mark.parametrize("fault", ["drop_before", "drop_after"])
async def test_b_lost_sale_when_the_listing_cannot_date_the_other_store_sale(
    stampsync_sandbox: Sandbox, tmp_path: Path, listing: str, fault: str
) -> None:
    sb = stampsync_sandbox
    async with sb.stamps_client() as client:
        # B's own sale of the same invoice and day at store 2, the listing undatable.
        await client.transactions.add(**sale(B, DAY, store=2))
        page = await client.transactions.by_user(user=B)
        assert page.transactions[0].created is None or listing == "text"
        await sb.set_faults(f"{fault}:1@{ADD_ROUTE}")
        report = await client.transactions.add_many(
            [PosTransaction(**sale(B, DAY + dt.timedelta(hours=1)))], journal=tmp_path / "j"
        )
        await sb.set_faults()
        with pytest.raises(AmbiguousWriteError, match="cannot be told apart"):
            await client.transactions.settle(
                client.transactions.add_body(**sale(B, DAY + dt.timedelta(hours=1)))
            )
    [outcome] = list(report)
    assert outcome.status == "ambiguous", outcome
    assert "cannot be told apart" in str(outcome.error)
    # Nothing was written to find out: the upsert might have landed on that sale.
    paths = [r["path"] for r in await sb.requests()]
    assert "/api/v2/transactions/add-or-update" not in paths
    stores = sorted(t["store"] for t in await sb.transactions())
    assert stores == ([2] if fault == "drop_before" else [1, 2])


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    import msgspec

    path.write_text("".join(msgspec.json.encode(row).decode() + "\n" for row in rows))
    return path


def import_args(src: Path, tmp_path: Path, name: str) -> list[str]:
    return [
        "stamps",
        "transactions",
        "import",
        "--input",
        str(src),
        "--journal",
        str(tmp_path / f"{name}.sqlite"),
        "--report",
        str(tmp_path / f"{name}.jsonl"),
        *FAST,
    ]


@pytest.mark.stampsync_sandbox(members=20)
def test_the_import_exits_3_for_b_lost_sale(stampsync_sandbox: Sandbox, tmp_path: Path) -> None:
    sb = stampsync_sandbox
    a_file = write_jsonl(tmp_path / "a.jsonl", [sale(A, DAY)])
    code, _, err = run_cli(import_args(a_file, tmp_path, "a"), sb)
    assert code == 0, err
    anyio.run(sb.set_faults, f"drop_before:1@{ADD_ROUTE}")
    b_file = write_jsonl(tmp_path / "b.jsonl", [sale(B, DAY + dt.timedelta(hours=1))])
    code, _, err = run_cli(import_args(b_file, tmp_path, "b"), sb)
    assert code == 3, err
    [row] = report_rows(tmp_path / "b.jsonl")
    assert (row["status"], row["recovered"]) == ("ambiguous", False)
    assert "0 recovered" in err
    assert len(anyio.run(sb.transactions)) == 1


@pytest.mark.stampsync_sandbox(members=20)
async def test_one_sale_written_in_two_offsets_is_one_key(
    stampsync_sandbox: Sandbox, tmp_path: Path
) -> None:
    # 01:00 in Jakarta is 18:00 UTC the day before: the two spellings name two dates in
    # their own offsets, and one instant.
    local = dt.datetime(2026, 3, 3, 1, 0, tzinfo=WIB)
    as_utc = {**sale(A, local), "created": local.astimezone(dt.UTC).isoformat()}
    rows = [PosTransaction(**sale(A, local)), PosTransaction(**as_utc)]
    journal = tmp_path / "j.sqlite"
    async with stampsync_sandbox.stamps_client() as client:
        first = await client.transactions.add_many(rows, journal=journal)
        again = await client.transactions.add_many(rows[1:], journal=journal)
    assert {o.key for o in first} == {"1:INV-7:2026-03-02"}
    assert sorted(o.status for o in first) == ["applied", "failed"]  # a duplicate key
    assert [o.status for o in again] == ["failed"]  # the journal's key, another request
    assert first.sent + again.sent == 1
    assert len(await stampsync_sandbox.transactions()) == 1
