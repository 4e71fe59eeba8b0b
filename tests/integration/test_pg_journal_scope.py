"""A database journal's scope: a named account (or the merchant), never the token or URL.

Issue 26, item 2: keys are filed under the account the user names; a key already under
another account of the same merchant, or under an older stampsync's token-digest scope,
is refused (never sent); such rows move only through an explicit rescope.
"""

from __future__ import annotations

import time

import pytest

from stampsync import StampsClient
from stampsync._engine._runs import RunInfo
from stampsync._engine.postgres import PgDatabase, PgJournal
from stampsync.errors import ConfigurationError
from stampsync.sandbox import Sandbox
from stampsync.stamps import StampAward

pytestmark = pytest.mark.postgres

REQUEST = {"user": "a@b.co", "store": 1, "number_of_stamps": 2}
LEGACY = "stamps:token:0123456789abcdef"


def a_run(name: str) -> RunInfo:
    return RunInfo(f"{name}-{time.monotonic_ns()}", 4242, "host-a", time.time())


async def started(journal: PgJournal, name: str) -> RunInfo:
    run = a_run(name)
    await journal.astart_run(run)
    return run


async def test_a_key_of_another_account_of_the_same_merchant_is_refused_at_its_claim(
    pg_dsn: str,
) -> None:
    db = PgDatabase(pg_dsn)
    await db.open()
    try:
        first = PgJournal(db, account="store-7", merchant=14)
        run = await started(first, "first")
        assert (await first.aclaim("k1", "stamps.add", REQUEST, run)).kind == "claimed"
        await first.afinish("k1", "applied", result_id=1, run=run)

        same_merchant = PgJournal(db, account="store-8", merchant=14)
        claim = await same_merchant.aclaim(
            "k1", "stamps.add", REQUEST, await started(same_merchant, "second")
        )
        assert claim.kind == "foreign"
        assert claim.why is not None
        assert "'store-7'" in claim.why
        assert "'store-8'" in claim.why
        assert await same_merchant.aget("k1") is None  # no intent recorded: nothing sent
        with pytest.raises(ConfigurationError, match="store-7"):
            await same_merchant.acheck_scope(["k0", "k1"])
        await same_merchant.acheck_scope(["k0", "k2"])  # keys nobody has: fine

        # Another merchant's store may use the same key: its own scope.
        other = PgJournal(db, account="store-9", merchant=15)
        claim = await other.aclaim("k1", "stamps.add", REQUEST, await started(other, "third"))
        assert claim.kind == "claimed"
    finally:
        await db.close()


async def test_a_key_under_a_legacy_token_scope_is_refused_to_every_account(
    pg_dsn: str,
) -> None:
    async with PgJournal(pg_dsn, account=LEGACY) as old:
        run = await started(old, "old")
        await old.aclaim("k1", "stamps.add", REQUEST, run)
        await old.afinish("k1", "applied", result_id=1, run=run)
    async with PgJournal(pg_dsn, account="store-7") as named:  # no merchant known
        claim = await named.aclaim("k1", "stamps.add", REQUEST, await started(named, "new"))
        assert claim.kind == "foreign"
        assert claim.why is not None
        assert LEGACY in claim.why
        assert "rescope" in claim.why
        assert await named.aget("k1") is None


async def test_an_account_stays_its_first_merchants(pg_dsn: str) -> None:
    async with PgJournal(pg_dsn, account="store-7", merchant=14) as j:
        await j.astart_run(a_run("first"))
    async with PgJournal(pg_dsn, account="store-7", merchant=15) as j:
        with pytest.raises(ConfigurationError, match=r"belongs to merchant 14.*merchant is 15"):
            await j.astart_run(a_run("second"))
    async with PgJournal(pg_dsn, account="store-7") as j:  # merchant unknown: allowed
        await j.astart_run(a_run("third"))


async def test_rescope_moves_every_entry_all_or_nothing(pg_dsn: str) -> None:
    async with PgJournal(pg_dsn, account=LEGACY) as old:
        run = await started(old, "old")
        for key in ("k1", "k2"):
            await old.aclaim(key, "stamps.add", REQUEST, run)
            await old.afinish(key, "applied", result_id=7, run=run)
        await old.aend_run(run)
    async with PgJournal(pg_dsn, account="store-7") as new:
        run = await started(new, "new")
        await new.aclaim("k2", "stamps.add", REQUEST, run)  # refused: foreign
        await new.aclaim("k3", "stamps.add", REQUEST, run)
        await new.afinish("k3", "applied", result_id=8, run=run)
    async with PgJournal(pg_dsn, account=None) as tools:
        with pytest.raises(ConfigurationError, match="no journal entries"):
            await tools.arescope("stamps:token:ffffffffffffffff", "store-7")
        with pytest.raises(ConfigurationError, match="same account"):
            await tools.arescope("store-7", " store-7 ")
        assert await tools.arescope(LEGACY, "store-7") == 2
        by = await tools.acounts_by_account()
        assert list(by) == ["store-7"]
        assert by["store-7"]["applied"] == 3
    async with PgJournal(pg_dsn, account="store-7") as new:
        claim = await new.aclaim("k2", "stamps.add", REQUEST, await started(new, "again"))
        assert claim.kind == "applied"
        assert claim.entry is not None
        assert claim.entry.result_id == 7


async def test_rescope_refuses_a_key_in_both_and_a_key_being_sent(pg_dsn: str) -> None:
    async with PgJournal(pg_dsn, account="a") as a, PgJournal(pg_dsn, account="b") as b:
        run_a, run_b = await started(a, "a"), await started(b, "b")
        await a.aclaim("both", "stamps.add", REQUEST, run_a)
        await a.afinish("both", "applied", run=run_a)
        await b.aclaim("both", "stamps.add", REQUEST, run_b)
        await b.afinish("both", "failed", error="x", run=run_b)
        await a.aclaim("flying", "stamps.add", REQUEST, run_a)  # pending, run alive
        async with PgJournal(pg_dsn, account=None) as tools:
            with pytest.raises(ConfigurationError, match="live run"):
                await tools.arescope("a", "c")
            await a.afinish("flying", "applied", run=run_a)
            with pytest.raises(ConfigurationError, match="in both 'a' and 'b'"):
                await tools.arescope("a", "b")
            assert {e.account for e in await tools.aentries()} == {"a", "b"}


@pytest.mark.stampsync_sandbox(members=20, extra_tokens=1)
async def test_add_many_files_keys_under_the_named_account_whatever_the_token(
    stampsync_sandbox: Sandbox, pg_dsn: str
) -> None:
    sb = stampsync_sandbox
    awards = [
        StampAward(key=f"o{i}", user=f"member{i}@example.com", number_of_stamps=1, store=1)
        for i in range(1, 6)
    ]
    async with StampsClient(sb.stamps_token(), api_url=sb.url) as plain:
        with pytest.raises(ConfigurationError, match="needs an account"):
            await plain.stamps.add_many(awards, journal=pg_dsn)
        first = await plain.stamps.add_many(awards, journal=pg_dsn, account="store-7")
    assert first.counts["applied"] == 5
    localhost = sb.url.replace("127.0.0.1", "localhost")
    async with StampsClient(sb.stamps_token(1), api_url=localhost, merchant=14) as rotated:
        again = await rotated.stamps.add_many(awards, journal=pg_dsn, account="store-7")
        assert again.counts["skipped"] == 5
        assert again.sent == 0
        # The same merchant's other account: the first key fails, naming both; the run stops.
        other = await rotated.stamps.add_many(awards, journal=pg_dsn, account="store-8")
    assert other.sent == 0
    assert other.stopped is not None
    assert "'store-7'" in other.stopped
    assert "'store-8'" in other.stopped
    assert other.counts["applied"] == 0
    assert len(await sb.awards()) == 5


async def test_an_upgraded_journal_keeps_its_merchants_keys_from_a_newly_named_account(
    pg_dsn: str,
) -> None:
    """Rows an older stampsync filed under ``stamps:merchant:N`` (schema 1, no accounts
    table) are that merchant's: an account named for it after the upgrade meets them as
    another account's keys, never sends them again."""
    import asyncpg

    db = PgDatabase(pg_dsn)
    await db.open()
    try:
        old = PgJournal(db, account="stamps:merchant:14")
        run = await started(old, "old")
        assert (await old.aclaim("k1", "stamps.add", REQUEST, run)).kind == "claimed"
        await old.afinish("k1", "applied", result_id=1, run=run)
    finally:
        await db.close()
    con = await asyncpg.connect(pg_dsn)
    try:  # as schema 1 left it: no account knew its merchant
        await con.execute("DELETE FROM stampsync_accounts")
        await con.execute("UPDATE stampsync_schema SET version = 1")
    finally:
        await con.close()
    db = PgDatabase(pg_dsn)
    await db.open()
    try:
        named = PgJournal(db, account="store-7", merchant=14)
        claim = await named.aclaim("k1", "stamps.add", REQUEST, await started(named, "new"))
        assert claim.kind == "foreign"
        with pytest.raises(ConfigurationError, match="stamps:merchant:14"):
            await named.acheck_scope(["k1"])
    finally:
        await db.close()
