"""The journal is data, not commands: a request written into it is never sent.

Whoever can write the journal database must not get the API token's power. An ambiguous
``transactions.add`` row INSERTed by hand (``stamps: 5000000``) is never replayed: not
before an ordinary import, not by ``resolve_journal``, not when its key is in the input
with another body. An ambiguous row whose key and request the input names is settled
from the input's row.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path
from typing import Any

import anyio
import msgspec
import pytest

from stampsync._engine.journal import Journal, client_account, open_journal
from stampsync.sandbox import Sandbox
from stampsync.stamps import PosTransaction
from tests._cli import FAST, report_rows, run_cli

WIB = dt.timezone(dt.timedelta(hours=7))
DAY = dt.datetime(2026, 3, 2, 10, 0, tzinfo=WIB)
ADD_ROUTE = "POST /api/v2/transactions/add"
VICTIM = "member3@example.com"
WRITES = ("/api/v2/transactions/add", "/api/v2/transactions/add-or-update")


def evil_request(invoice: str = "EVIL-1") -> dict[str, Any]:
    return {
        "store": 1,
        "invoice_number": invoice,
        "total_value": 10_000,
        "number_of_people": 1,
        "created": DAY.isoformat(),
        "user": VICTIM,
        "stamps": 5_000_000,
    }


def ordinary(invoice: str = "POS-1") -> dict[str, Any]:
    return {
        "store": 1,
        "invoice_number": invoice,
        "total_value": 10_000,
        "number_of_people": 1,
        "created": DAY.isoformat(),
        "user": VICTIM,
    }


def key_of(row: dict[str, Any]) -> str:
    return PosTransaction(**row).natural_key()


def insert_sqlite(path: Path, key: str, request: dict[str, Any]) -> None:
    with Journal(path):
        pass  # the schema, as stampsync makes it
    db = sqlite3.connect(path)
    db.execute(
        "INSERT INTO writes (key, operation, request, status, attempts, run, updated_at)"
        " VALUES (?, 'transactions.add', ?, 'ambiguous', 1, NULL, 0)",
        (key, json.dumps(request)),
    )
    db.commit()
    db.close()


async def insert_pg(dsn: str, account: str, key: str, request: dict[str, Any]) -> None:
    import asyncpg

    async with open_journal(dsn, account=account):
        pass  # the schema, as stampsync makes it
    con = await asyncpg.connect(dsn)
    try:
        await con.execute(
            "INSERT INTO stampsync_writes (account, key, operation, request, status, attempts,"
            " run, updated_at) VALUES ($1, $2, 'transactions.add', $3, 'ambiguous', 1, NULL, 0)",
            account,
            key,
            json.dumps(request),
        )
    finally:
        await con.close()


async def writes_sent(sb: Sandbox) -> list[str]:
    return [r["path"] for r in await sb.requests() if r["path"] in WRITES]


async def stamps_of(sb: Sandbox, user: str) -> int:
    member = await sb.member(user)
    assert member is not None
    stamps: int = member["stamps"]
    return stamps


@pytest.fixture(params=["sqlite", "postgresql"])
def journal_kind(request: pytest.FixtureRequest) -> str | None:
    """None for a SQLite journal; the URL of a new database for a PostgreSQL one."""
    if request.param == "sqlite":
        return None
    dsn: str = request.getfixturevalue("pg_dsn")
    return dsn


async def hostile_journal(
    dsn: str | None, sb: Sandbox, tmp_path: Path, key: str, body: Any
) -> tuple[str | Path, str | None]:
    """A journal holding ``body`` under ``key``, ambiguous, written by hand; its account."""
    if dsn is None:
        path = tmp_path / "j.sqlite"
        insert_sqlite(path, key, body)
        return path, None
    async with sb.stamps_client() as client:
        account = client_account(client)
    assert account is not None  # the sandbox's client names its merchant
    await insert_pg(dsn, account, key, body)
    return dsn, account


@pytest.mark.stampsync_sandbox(members=20)
async def test_a_hostile_row_not_in_the_input_is_never_sent(
    stampsync_sandbox: Sandbox, tmp_path: Path, journal_kind: str | None
) -> None:
    sb = stampsync_sandbox
    evil = evil_request()
    journal, account = await hostile_journal(journal_kind, sb, tmp_path, key_of(evil), evil)
    before = await stamps_of(sb, VICTIM)
    async with sb.stamps_client() as client:
        report = await client.transactions.add_many([PosTransaction(**ordinary())], journal=journal)
        # Nor does the standalone settling write: it may only look the sale up.
        settled = await client.transactions.resolve_journal(journal)
    assert report.exit_code == 0
    assert (report.sent, report.counts["recovered"]) == (1, 0)
    assert settled == {}
    assert await writes_sent(sb) == ["/api/v2/transactions/add"]  # the ordinary row's only
    assert [t["invoice_number"] for t in await sb.transactions()] == ["POS-1"]
    assert await stamps_of(sb, VICTIM) == before + 1  # 10 000 earns one stamp, not 5 000 000
    async with open_journal(journal, account=account) as j:
        entry = await j.aget(key_of(evil))
    assert entry is not None
    assert entry.status == "ambiguous"  # left for a person


@pytest.mark.stampsync_sandbox(members=20)
async def test_a_hostile_row_under_an_input_key_fails_as_a_conflict(
    stampsync_sandbox: Sandbox, tmp_path: Path, journal_kind: str | None
) -> None:
    sb = stampsync_sandbox
    row = ordinary()
    evil = {**row, "stamps": 5_000_000}  # the input's key, another body
    journal, _ = await hostile_journal(journal_kind, sb, tmp_path, key_of(row), evil)
    before = await stamps_of(sb, VICTIM)
    async with sb.stamps_client() as client:
        report = await client.transactions.add_many([PosTransaction(**row)], journal=journal)
    [outcome] = list(report)
    assert outcome.status == "failed"
    assert "different transactions.add" in str(outcome.error)
    assert report.exit_code == 1
    assert report.sent == 0
    assert await writes_sent(sb) == []
    assert await stamps_of(sb, VICTIM) == before


@pytest.mark.stampsync_sandbox(members=20)
async def test_an_ambiguous_key_of_the_input_is_settled_from_the_input_row(
    stampsync_sandbox: Sandbox, tmp_path: Path, journal_kind: str | None
) -> None:
    sb = stampsync_sandbox
    row = ordinary()
    body = PosTransaction(**row)
    # As an earlier run cut before the server applied it would leave it: ambiguous,
    # with the very request this input's row makes.
    async with sb.stamps_client() as client:
        stored = msgspec.to_builtins(client.transactions.add_body(**row))
    journal, _ = await hostile_journal(journal_kind, sb, tmp_path, key_of(row), stored)
    before = await stamps_of(sb, VICTIM)
    recovered: set[str] = set()
    async with sb.stamps_client() as client:
        report = await client.transactions.add_many([body], journal=journal, recovered=recovered)
    [outcome] = list(report)
    assert outcome.status == "applied", outcome
    assert outcome.award_id is not None
    assert recovered == {key_of(row)}
    assert report.sent == 1  # the settling counts as sent
    # Not found by lookup, so written through the upsert: no add, and exactly one sale.
    assert await writes_sent(sb) == ["/api/v2/transactions/add-or-update"]
    [tx] = await sb.transactions()
    assert tx["id"] == outcome.award_id
    assert await stamps_of(sb, VICTIM) == before + 1


@pytest.mark.stampsync_sandbox(members=20)
def test_an_import_beside_a_hostile_row_sends_only_its_own(
    stampsync_sandbox: Sandbox, tmp_path: Path
) -> None:
    sb = stampsync_sandbox
    journal = tmp_path / "j.sqlite"
    evil = evil_request()
    insert_sqlite(journal, key_of(evil), evil)
    src = tmp_path / "day.jsonl"
    src.write_text(json.dumps(ordinary()) + "\n")
    before = anyio.run(stamps_of, sb, VICTIM)
    args = ["stamps", "transactions", "import", "--input", str(src), "--journal", str(journal)]
    code, _, err = run_cli([*args, "--report", str(tmp_path / "r.jsonl"), *FAST], sb)
    assert code == 0, err
    assert "sent 1 requests" in err
    assert [r["status"] for r in report_rows(tmp_path / "r.jsonl")] == ["applied"]
    assert anyio.run(writes_sent, sb) == ["/api/v2/transactions/add"]
    assert anyio.run(stamps_of, sb, VICTIM) == before + 1
