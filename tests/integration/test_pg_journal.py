"""The PostgreSQL journal: the SQLite journal's protocol on a database shared by accounts."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from stampsync._engine import postgres
from stampsync._engine._runs import RunInfo
from stampsync._engine.journal import Journal, WriteJournal, client_account, open_journal
from stampsync._engine.postgres import SCHEMA_VERSION, PgDatabase, PgJournal, safe_dsn
from stampsync.errors import ConfigurationError, JournalError, StateFileError
from stampsync.sandbox import Sandbox
from stampsync.stamps import StampAward
from tests._postgres import PASSWORD, PgCluster

REQUEST = {"user": "a@b.co", "store": 1, "number_of_stamps": 2}

pytestmark = pytest.mark.postgres


def host_run(host: str, name: str = "r") -> RunInfo:
    """A run on a simulated machine: only its lease says whether it is alive."""
    return RunInfo(f"{name}-{host}-{time.monotonic_ns()}", 4242, host, time.time())


async def test_open_journal_picks_the_backend_from_the_argument(
    pg_dsn: str, tmp_path: Path
) -> None:
    pg = open_journal(pg_dsn, account="stamps:merchant:14")
    assert isinstance(pg, PgJournal)
    assert isinstance(pg, WriteJournal)
    assert isinstance(open_journal(tmp_path / "j.sqlite"), Journal)
    assert isinstance(open_journal(str(tmp_path / "j.sqlite")), Journal)
    assert open_journal(pg) is pg
    assert PASSWORD not in repr(pg)
    assert PASSWORD not in pg.describe()
    assert "***" in repr(pg)


async def test_claims_leases_and_outcomes_follow_the_journal_protocol(pg_dsn: str) -> None:
    async with PgJournal(pg_dsn, account="store-a", lease_seconds=30) as j:
        first, second = host_run("host-a"), host_run("host-b")
        await j.astart_run(first)
        await j.astart_run(second)
        assert (await j.aclaim("k1", "stamps.add", REQUEST, first)).kind == "claimed"
        held = await j.aclaim("k1", "stamps.add", REQUEST, second)
        assert held.kind == "held"
        assert held.holder is not None
        assert held.holder.run == first.run
        # The same key with a different request is a conflict, not a send.
        other = {**REQUEST, "number_of_stamps": 3}
        assert (await j.aclaim("k1", "stamps.add", other, second)).kind == "conflict"
        assert await j.afinish("k1", "applied", result_id=77, run=first)
        again = await j.aclaim("k1", "stamps.add", REQUEST, second)
        assert again.kind == "applied"
        assert again.entry is not None
        assert again.entry.result_id == 77
        # A failed key is claimed again; an outcome only lands on its own run's claim.
        assert (await j.aclaim("k2", "stamps.add", REQUEST, first)).kind == "claimed"
        await j.afinish("k2", "failed", error="400", run=first)
        assert (await j.aclaim("k2", "stamps.add", REQUEST, second)).kind == "claimed"
        assert not await j.afinish("k2", "applied", run=first)
        entry = await j.aget("k2")
        assert entry is not None
        assert (entry.status, entry.attempts, entry.run) == ("pending", 2, second.run)
        # Ending a run makes its cut-off keys ambiguous; they are never sent again.
        await j.aend_run(second)
        assert (await j.aclaim("k2", "stamps.add", REQUEST, first)).kind == "ambiguous"
        assert await j.acounts() == {"pending": 0, "applied": 1, "failed": 0, "ambiguous": 1}


async def test_keys_are_scoped_by_account(pg_dsn: str) -> None:
    async with PgJournal(pg_dsn, account="store-a") as a:
        b = a.for_account("store-b")
        run = host_run("host-a")
        await a.astart_run(run)
        assert (await a.aclaim("order-1", "stamps.add", REQUEST, run)).kind == "claimed"
        await a.afinish("order-1", "applied", result_id=1, run=run)
        assert (await b.aclaim("order-1", "stamps.add", REQUEST, run)).kind == "claimed"
        await b.afinish("order-1", "ambiguous", error="reset", run=run)
        every = PgJournal(a.database, account=None)
        by = await every.acounts_by_account()
        assert by["store-a"]["applied"] == 1
        assert by["store-b"]["ambiguous"] == 1
        assert [(e.account, e.status) for e in await every.aentries()] == [
            ("store-a", "applied"),
            ("store-b", "ambiguous"),
        ]
        # Without an account, a key in two accounts is not resolved by guess.
        with pytest.raises(ConfigurationError, match="several accounts"):
            await every.aresolve("order-1", applied=True)
        await b.aresolve("order-1", applied=False)
        assert (await b.aclaim("order-1", "stamps.add", REQUEST, run)).kind == "claimed"
        with pytest.raises(ConfigurationError, match="writes need"):
            await every.aclaim("x", "stamps.add", REQUEST, run)


async def test_a_live_lease_is_never_taken_over_and_a_lapsed_one_makes_rows_ambiguous(
    pg_dsn: str,
) -> None:
    async with PgJournal(pg_dsn, account="store-a", lease_seconds=1.0) as j:
        away, me = host_run("host-a"), host_run("host-b")
        await j.astart_run(away)
        assert (await j.aclaim("k", "stamps.add", REQUEST, away)).kind == "claimed"
        await j.astart_run(me)
        for _ in range(3):  # renewed: alive, however often asked
            assert (await j.aclaim("k", "stamps.add", REQUEST, me)).kind == "held"
            await j.arenew_run(away)
            await asyncio.sleep(0.4)
        await asyncio.sleep(1.2)  # no renewal: the lease lapses on the database's clock
        claim = await j.aclaim("k", "stamps.add", REQUEST, me)
        assert claim.kind == "ambiguous"
        assert (await j.aclaim("k", "stamps.add", REQUEST, me)).kind == "ambiguous"
        entry = await j.aget("k")
        assert entry is not None
        assert entry.status == "ambiguous"
        assert entry.run == away.run


async def test_a_new_run_buries_the_dead_runs_it_finds(pg_dsn: str) -> None:
    async with PgJournal(pg_dsn, account="store-a", lease_seconds=0.5) as j:
        gone = host_run("host-a")
        await j.astart_run(gone)
        await j.aclaim("k", "stamps.add", REQUEST, gone)
        await asyncio.sleep(0.7)
        await j.astart_run(host_run("host-b"))
        entry = await j.aget("k")
        assert entry is not None
        assert entry.status == "ambiguous"
        with pytest.raises(ConfigurationError, match="no journal entry"):
            await j.aresolve("missing", applied=True)


async def test_racing_claims_from_two_pools_never_both_claim_a_key(pg_dsn: str) -> None:
    async with (
        PgJournal(pg_dsn, account="store-a") as one,
        PgJournal(pg_dsn, account="store-a") as two,
    ):
        runs = [host_run("host-a", "x"), host_run("host-b", "y")]
        for journal, run in zip((one, two), runs, strict=True):
            await journal.astart_run(run)
        keys = [f"k{i}" for i in range(40)]
        claims = await asyncio.gather(
            *(
                journal.aclaim(key, "stamps.add", REQUEST, run)
                for key in keys
                for journal, run in zip((one, two), runs, strict=True)
            )
        )
        kinds = [c.kind for c in claims]
        assert kinds.count("claimed") == len(keys)
        assert kinds.count("held") == len(keys)


async def test_the_schema_is_versioned_and_a_newer_one_refused(pg_dsn: str) -> None:
    async with PgJournal(pg_dsn, account="a"):
        pass
    con = await asyncpg.connect(pg_dsn)
    try:
        assert await con.fetchval("SELECT version FROM stampsync_schema") == SCHEMA_VERSION
        await con.execute("UPDATE stampsync_schema SET version = 99")
    finally:
        await con.close()
    with pytest.raises(ConfigurationError, match="newer stampsync"):
        async with PgJournal(pg_dsn, account="a"):
            pass


async def test_database_errors_are_typed_and_never_show_the_password(
    pg_dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = pg_dsn.replace(PASSWORD, "wrong-SECRET-pw")
    with pytest.raises(JournalError) as raised:
        async with PgJournal(wrong, account="a"):
            pass
    assert isinstance(raised.value, StateFileError)
    assert "wrong-SECRET-pw" not in str(raised.value)
    assert "password authentication failed" in str(raised.value)
    assert safe_dsn(pg_dsn).count("***") == 1
    assert PASSWORD not in safe_dsn(pg_dsn + "?sslpassword=" + PASSWORD)
    refused = PgDatabase(pg_dsn.rsplit(":", 1)[0] + ":1/x", connect_timeout=1)
    with pytest.raises(JournalError, match="cannot connect") as raised:
        await refused.open()
    assert PASSWORD not in str(raised.value)
    with pytest.raises(ConfigurationError):
        PgJournal(pg_dsn, account="")
    assert "wrong-SECRET-pw" not in caplog.text


async def _left_inside_a_transaction(dsn: str) -> asyncpg.Connection:
    """A session that locked a journal row and went quiet inside its transaction: a host
    cut off mid-write, as the server sees it."""
    con = await asyncpg.connect(dsn)
    await con.execute("BEGIN")
    await con.execute("UPDATE stampsync_writes SET attempts = attempts WHERE key = 'k1'")
    return con


async def test_a_session_left_inside_a_transaction_never_stalls_opening_the_journal(
    pg_dsn: str,
) -> None:
    """A process opening the journal (``fleet status``, a new worker) while a vanished
    host holds a transaction only reads the current schema: its DDL would wait for the
    vanished host's locks, and every writer would queue behind it (CI saw ``fleet
    status`` time out so)."""
    async with PgJournal(pg_dsn, account="a") as j:
        run = host_run("host-a")
        await j.astart_run(run)
        assert (await j.aclaim("k1", "stamps.add", REQUEST, run)).kind == "claimed"
    vanished = await _left_inside_a_transaction(pg_dsn)
    try:
        opening = PgJournal(pg_dsn, account="a")
        await asyncio.wait_for(opening.__aenter__(), 10)
        try:
            run = host_run("host-b")
            await asyncio.wait_for(opening.astart_run(run), 10)
            claim = await asyncio.wait_for(opening.aclaim("k2", "stamps.add", REQUEST, run), 10)
            assert claim.kind == "claimed"
        finally:
            await opening.__aexit__(None, None, None)
    finally:
        await vanished.close()


async def test_an_upgrade_blocked_by_a_held_transaction_fails_in_bounded_time(
    pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(postgres, "_MIGRATION_LOCK_MS", 300)
    async with PgJournal(pg_dsn, account="a") as j:
        run = host_run("host-a")
        await j.astart_run(run)
        await j.aclaim("k1", "stamps.add", REQUEST, run)
    con = await asyncpg.connect(pg_dsn)
    try:
        await con.execute("UPDATE stampsync_schema SET version = 1")
    finally:
        await con.close()
    vanished = await _left_inside_a_transaction(pg_dsn)
    try:
        with pytest.raises(JournalError, match="cannot upgrade the journal's tables"):
            async with PgJournal(pg_dsn, account="a"):
                pass
    finally:
        await vanished.close()
    async with PgJournal(pg_dsn, account="a"):  # the holder gone, the upgrade goes through
        pass
    con = await asyncpg.connect(pg_dsn)
    try:
        assert await con.fetchval("SELECT version FROM stampsync_schema") == SCHEMA_VERSION
    finally:
        await con.close()


async def test_an_upgrade_waits_its_turn_behind_another_process_upgrading(
    pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes upgrading at once: the second waits for the first however long it
    takes (the bound is for the tables only), then finds the schema current."""
    monkeypatch.setattr(postgres, "_MIGRATION_LOCK_MS", 300)
    async with PgJournal(pg_dsn, account="a"):
        pass
    con = await asyncpg.connect(pg_dsn)
    try:
        await con.execute("UPDATE stampsync_schema SET version = 1")
        async with con.transaction():  # another process, upgrading for a second
            await con.execute("SELECT pg_advisory_xact_lock($1)", postgres._SCHEMA_LOCK)
            opening = asyncio.ensure_future(PgJournal(pg_dsn, account="a").__aenter__())
            await asyncio.sleep(1.0)
            assert not opening.done()
        journal = await asyncio.wait_for(opening, 10)
        await journal.__aexit__(None, None, None)
        assert await con.fetchval("SELECT version FROM stampsync_schema") == SCHEMA_VERSION
    finally:
        await con.close()


async def test_the_server_ends_a_journal_session_that_stalls_inside_a_transaction(
    pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its locks are freed in seconds, not when TCP notices the host is gone."""
    monkeypatch.setattr(postgres, "_IDLE_TX_MS", 500)
    async with PgJournal(pg_dsn, account="a") as j:
        run = host_run("host-a")
        await j.astart_run(run)
        await j.aclaim("k1", "stamps.add", REQUEST, run)
        pool = j._db._pool
        assert pool is not None
        async with pool.acquire() as stalled:
            await stalled.execute("BEGIN")
            await stalled.execute("SELECT key FROM stampsync_writes WHERE key = 'k1' FOR UPDATE")
            other = await asyncpg.connect(pg_dsn)
            try:
                deadline = time.monotonic() + 10
                while True:
                    try:
                        await other.execute(
                            "SELECT key FROM stampsync_writes WHERE key = 'k1' FOR UPDATE NOWAIT"
                        )
                        break
                    except asyncpg.LockNotAvailableError:
                        assert time.monotonic() < deadline, "the stalled session kept its lock"
                        await asyncio.sleep(0.2)
            finally:
                await other.close()
            with contextlib.suppress(asyncpg.PostgresError, asyncpg.InterfaceError):
                await stalled.execute("ROLLBACK")
        # The journal goes on with a fresh connection.
        assert (await j.aclaim("k2", "stamps.add", REQUEST, run)).kind == "claimed"


@pytest.fixture
def own_cluster() -> Iterator[PgCluster]:
    """A cluster of the test's own, to stop and restart."""
    cluster = PgCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


async def test_a_restarted_database_pauses_operations_then_they_resume(
    own_cluster: PgCluster, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="stampsync")
    async with PgJournal(own_cluster.dsn, account="a", outage_seconds=60) as j:
        run = host_run("host-a")
        await j.astart_run(run)
        assert (await j.aclaim("k", "stamps.add", REQUEST, run)).kind == "claimed"
        await asyncio.to_thread(own_cluster.stop)
        # The outcome arrives while the database is down: it waits, then lands.
        finishing = asyncio.create_task(j.afinish("k", "applied", result_id=5, run=run))
        await asyncio.sleep(1.0)
        assert not finishing.done()
        await asyncio.to_thread(own_cluster.start)
        assert await asyncio.wait_for(finishing, 30)
        entry = await j.aget("k")
        assert entry is not None
        assert (entry.status, entry.result_id) == ("applied", 5)
    assert "unavailable" in caplog.text
    assert "is back" in caplog.text
    assert PASSWORD not in caplog.text


async def test_a_connection_left_half_read_is_dropped_and_the_operation_retried(
    pg_dsn: str,
) -> None:
    """asyncpg's "cannot switch to state N; another operation is in progress" (a pooled
    connection the server shut down while it was idle) once escaped the journal, and a
    fleet job died with it, dropping its untried rows."""
    db = PgDatabase(pg_dsn, max_connections=2)
    await db.open()
    try:
        used: list[asyncpg.Connection] = []
        raw: list[asyncpg.Connection] = []

        async def op(con: asyncpg.Connection) -> int:
            used.append(con)
            raw.append(con._con)  # the pool's proxy lets go of it on release
            if len(used) == 1:
                raise asyncpg.InternalClientError(
                    "cannot switch to state 12; another operation (2) is in progress"
                )
            return int(await con.fetchval("SELECT 1"))

        assert await db.run(op, "test") == 1
        assert len(used) == 2
        assert raw[0].is_closed(), "a connection in an unknown state went back to the pool"
        assert raw[1] is not raw[0]
        # Released by then, the first connection's proxy no longer reaches it; the pool
        # has no closed connection to hand out: every one of them still answers.
        answers = await asyncio.gather(*(db.run(op, "test") for _ in range(6)))
        assert answers == [1] * 6
    finally:
        await db.close()


async def test_pooled_connections_survive_a_restart_under_load(own_cluster: PgCluster) -> None:
    """Many journals on one pool, every connection warm and idle when PostgreSQL restarts
    (it closes them from its side); afterwards every claim and outcome lands."""
    db = PgDatabase(own_cluster.dsn, max_connections=8, outage_seconds=60)
    await db.open()
    try:
        journals = [PgJournal(db, account=f"a{n}") for n in range(8)]
        run = host_run("host-a")
        await journals[0].astart_run(run)
        await asyncio.gather(
            *(j.aclaim(f"warm{n}", "stamps.add", REQUEST, run) for n, j in enumerate(journals))
        )
        await asyncio.to_thread(own_cluster.stop)
        await asyncio.to_thread(own_cluster.start)
        claims = await asyncio.gather(
            *(
                j.aclaim(f"k{n}-{i}", "stamps.add", REQUEST, run)
                for n, j in enumerate(journals)
                for i in range(5)
            )
        )
        assert [c.kind for c in claims] == ["claimed"] * 40
        done = await asyncio.gather(
            *(
                j.afinish(f"k{n}-{i}", "applied", result_id=i, run=run)
                for n, j in enumerate(journals)
                for i in range(5)
            )
        )
        assert all(done)
        every = PgJournal(db, account=None)
        assert (await every.acounts())["applied"] == 40
    finally:
        await db.close()


async def test_an_outage_longer_than_allowed_is_a_journal_error(own_cluster: PgCluster) -> None:
    async with PgJournal(own_cluster.dsn, account="a", outage_seconds=1.0) as j:
        await asyncio.to_thread(own_cluster.stop)
        with pytest.raises(JournalError) as raised:
            await j.aget("k")
        assert PASSWORD not in str(raised.value)


@pytest.mark.stampsync_sandbox(members=20)
async def test_add_many_takes_a_database_url_and_files_keys_under_the_client(
    stampsync_sandbox: Sandbox, pg_dsn: str
) -> None:
    awards = [
        StampAward(key=f"o{i}", user=f"member{i}@example.com", number_of_stamps=1)
        for i in range(1, 6)
    ]
    async with stampsync_sandbox.stamps_client() as stamps:
        first = await stamps.stamps.add_many(awards, journal=pg_dsn)
        again = await stamps.stamps.add_many(awards, journal=pg_dsn)
        account = client_account(stamps)
    assert first.counts["applied"] == 5
    assert again.counts["skipped"] == 5
    assert again.sent == 0
    assert len(await stampsync_sandbox.awards()) == 5
    async with PgJournal(pg_dsn, account=None) as every:
        assert list(await every.acounts_by_account()) == [account]
    assert account == f"stamps:merchant:{stampsync_sandbox.config.merchant}"


async def test_concurrent_claims_and_outcomes_share_statements(pg_dsn: str) -> None:
    """A fleet worker's many stores: claims and outcomes waiting at the same moment go as
    one statement (one round trip, one commit), and each caller still gets its own answer."""
    db = PgDatabase(pg_dsn, max_connections=4)
    await db.open()
    try:
        journals = [PgJournal(db, account=f"store-{n}") for n in range(10)]
        run, other = host_run("host-a", "co"), host_run("host-b", "co")
        await journals[0].astart_run(run)
        await journals[0].astart_run(other)
        await journals[3].aclaim("taken", "stamps.add", REQUEST, other)
        keys = [(j, f"k{i}") for j in journals for i in range(6)]
        claims = await asyncio.gather(
            *(j.aclaim(key, "stamps.add", REQUEST, run) for j, key in keys),
            journals[3].aclaim("taken", "stamps.add", REQUEST, run),
        )
        assert [c.kind for c in claims] == ["claimed"] * 60 + ["held"]
        assert db.new_claims.calls == 62
        assert db.new_claims.statements < 30, "claims were not coalesced"
        done = await asyncio.gather(
            *(
                j.afinish(key, "applied" if i % 2 else "failed", result_id=i, run=run)
                for i, (j, key) in enumerate(keys)
            ),
            journals[3].afinish("taken", "applied", run=run),  # held by another run
        )
        assert done == [True] * 60 + [False]
        assert db.outcomes.statements < 30, "outcomes were not coalesced"
        every = PgJournal(db, account=None)
        assert await every.acounts() == {
            "pending": 1,
            "applied": 30,
            "failed": 30,
            "ambiguous": 0,
        }
        entry = await journals[9].aget("k5")
        assert entry is not None
        assert (entry.status, entry.result_id, entry.run) == ("applied", 59, run.run)
    finally:
        await db.close()


async def test_a_row_the_database_refuses_fails_alone_in_a_shared_statement(
    pg_dsn: str,
) -> None:
    """A NUL cannot be stored in a PostgreSQL text: that claim fails with a clear
    JournalError, and the claims that shared its statement are made."""
    async with PgJournal(pg_dsn, account="store-nul") as j:
        run = host_run("host-a", "nul")
        await j.astart_run(run)
        keys = ["a", "b", "bad\x00key", "c", "d"]
        claims = await asyncio.gather(
            *(j.aclaim(key, "stamps.add", REQUEST, run) for key in keys),
            return_exceptions=True,
        )
        assert [getattr(c, "kind", None) for c in claims] == [
            "claimed",
            "claimed",
            None,
            "claimed",
            "claimed",
        ]
        refused = claims[2]
        assert isinstance(refused, JournalError)
        assert "cannot claim key 'bad\\x00key'" in str(refused)
        assert await j.acounts() == {"pending": 4, "applied": 0, "failed": 0, "ambiguous": 0}


async def test_a_claim_cancelled_while_it_waits_for_a_statement_is_never_made(
    pg_dsn: str,
) -> None:
    async with PgJournal(pg_dsn, account="store-cancel") as j:
        run = host_run("host-a", "cancel")
        await j.astart_run(run)
        first = asyncio.ensure_future(j.aclaim("first", "stamps.add", REQUEST, run))
        await asyncio.sleep(0)  # its statement is in flight
        waiting = asyncio.ensure_future(j.aclaim("second", "stamps.add", REQUEST, run))
        await asyncio.sleep(0)  # queued behind it
        waiting.cancel()
        assert (await first).kind == "claimed"
        with pytest.raises(asyncio.CancelledError):
            await waiting
        third = await j.aclaim("third", "stamps.add", REQUEST, run)
        assert third.kind == "claimed"
        assert await j.aget("second") is None


async def test_a_claim_cancelled_during_an_outage_is_not_made_once_the_database_is_back(
    own_cluster: PgCluster,
) -> None:
    """A job's deadline can cancel a claim that waits out an outage. Its shared statement
    is retried for the others; the cancelled claim is left out of the retry, or its
    key would sit pending, then ambiguous, though nothing was ever sent."""
    db = PgDatabase(own_cluster.dsn, max_connections=2, outage_seconds=60)
    await db.open()
    try:
        j = PgJournal(db, account="store-outage")
        run = host_run("host-a", "outage")
        await j.astart_run(run)
        await asyncio.to_thread(own_cluster.stop)
        kept = asyncio.ensure_future(j.aclaim("kept", "stamps.add", REQUEST, run))
        dropped = asyncio.ensure_future(j.aclaim("dropped", "stamps.add", REQUEST, run))
        await asyncio.sleep(0.5)  # both in one statement, retried while the database is away
        assert not kept.done()
        dropped.cancel()
        await asyncio.to_thread(own_cluster.start)
        assert (await asyncio.wait_for(kept, 30)).kind == "claimed"
        with pytest.raises(asyncio.CancelledError):
            await dropped
        assert await j.aget("dropped") is None
        assert await j.aget("kept") is not None
    finally:
        await db.close()


async def test_a_closed_database_fails_waiting_calls_with_a_journal_error(pg_dsn: str) -> None:
    db = PgDatabase(pg_dsn)
    await db.open()
    j = PgJournal(db, account="store-closed")
    run = host_run("host-a", "closed")
    await j.astart_run(run)
    claim = asyncio.ensure_future(j.aclaim("k", "stamps.add", REQUEST, run))
    await asyncio.sleep(0)  # queued, its statement not yet answered
    await db.close()
    with pytest.raises(JournalError):
        await claim


async def test_settled_keys_are_hinted_from_a_read_ahead_or_a_shared_read(pg_dsn: str) -> None:
    """A batch asks before it waits for quota whether a key is settled (a rerun's rows
    need no start); a fleet job reads its keys ahead in one statement."""
    async with PgJournal(pg_dsn, account="store-hint") as j:
        run = host_run("host-a", "hint")
        await j.astart_run(run)
        for key, status in (("done", "applied"), ("lost", "ambiguous"), ("bad", "failed")):
            await j.aclaim(key, "stamps.add", REQUEST, run)
            await j.afinish(key, status, run=run)  # type: ignore[arg-type]
        await j.aclaim("open", "stamps.add", REQUEST, run)
        keys = ["done", "open", "lost", "bad", "new"]
        hints = await asyncio.gather(*(j.asettled(k) for k in keys))
        assert hints == [True, False, True, False, False]
        shared = j.database.settled.statements
        assert shared < len(keys)
        await j.aprefetch(keys)
        assert [await j.asettled(k) for k in keys] == [True, False, True, False, False]
        assert j.database.settled.statements == shared  # answered from the read-ahead


async def test_claims_prepared_on_an_empty_journal_never_scan_it_once_it_grows(
    pg_dsn: str,
) -> None:
    # A new fleet's journal is empty when its first claims are prepared. A generic plan
    # kept from then scanned the whole table once it held thousands of rows (measured:
    # 10.6 ms per claim of 4 keys on 20,000 rows, against 0.9 ms by the index).
    db = PgDatabase(pg_dsn, max_connections=1)  # one keyed connection: its plans are ours
    async with PgJournal(db, account="store-1") as journal:
        run = journal.new_run()
        await journal.astart_run(run)
        for n in range(12):  # prepared, and their plans made, on a near-empty table
            assert (await journal.aclaim(f"k{n}", "stamps.add", REQUEST, run)).kind == "claimed"
            assert await journal.afinish(f"k{n}", "applied", result_id=n, run=run)

        async def grow_then_plan(con: asyncpg.Connection) -> list[str]:
            await con.execute(
                "INSERT INTO stampsync_writes (account, key, operation, request, status,"
                " attempts, run, updated_at) SELECT 'store-' || (g % 50), 'g' || g,"
                " 'stamps.add', '{}', 'applied', 1, NULL, 0 FROM generate_series(1, 20000) g"
            )
            # The plans the connection keeps for its claims and outcomes, as they would
            # run now (EXPLAIN runs nothing).
            shown: list[str] = []
            for row in await con.fetch(
                "SELECT name, parameter_types::text[] AS types FROM pg_prepared_statements"
                " WHERE statement LIKE 'INSERT INTO stampsync_writes%'"
                " OR statement LIKE 'UPDATE stampsync_writes w SET status%'"
            ):
                args = ", ".join(f"'{{}}'::{t}" for t in row["types"])
                plan = await con.fetch(f'EXPLAIN EXECUTE "{row["name"]}"({args})')
                shown.append("\n".join(str(line[0]) for line in plan))
            return shown

        shown = await db.run(grow_then_plan, "grow the journal, read its plans", keyed=True)
        for n in range(12, 20):  # and they still claim
            assert (await journal.aclaim(f"k{n}", "stamps.add", REQUEST, run)).kind == "claimed"
            assert await journal.afinish(f"k{n}", "applied", result_id=n, run=run)
        settings = await db.run(
            lambda con: con.fetchrow(
                "SELECT current_setting('enable_seqscan') AS scan,"
                " current_setting('plan_cache_mode') AS mode"
            ),
            "read the settings",
        )
        assert settings is not None
        others = (settings["scan"], settings["mode"])
        plans = await db.run(
            lambda con: con.fetchrow(
                "SELECT sum(generic_plans) AS generic, sum(custom_plans) AS custom"
                " FROM pg_prepared_statements WHERE cardinality(parameter_types) > 0"
            ),
            "read the plans",
            keyed=True,
        )
    assert others == ("on", "force_custom_plan")  # the journal's other statements as ever
    assert len(shown) == 2  # the claims' statement and the outcomes'
    for plan in shown:
        lines = plan.splitlines()
        scans = [n for n, line in enumerate(lines) if "Scan" in line and "stampsync_writes" in line]
        assert scans, plan
        for n in scans:  # each a lookup by key, never a read of the table through
            assert "Index Scan" in lines[n], plan
            assert "Index Cond" in lines[n + 1], plan
        assert "Hash Join" not in plan, plan
        assert "Merge Join" not in plan, plan
    assert plans is not None
    assert plans["generic"] >= 20  # and none was planned again for its keys
    assert plans["custom"] == 0
