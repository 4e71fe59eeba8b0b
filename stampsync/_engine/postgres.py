"""A write journal on PostgreSQL: one database shared by a fleet of workers and stores.

The protocol is the SQLite journal's (:mod:`stampsync._engine.journal`): a key's intent is
committed before its request is sent, its outcome after; a key is claimed atomically (an
``INSERT ... ON CONFLICT DO NOTHING``, else a ``SELECT ... FOR UPDATE`` of its row), so
no two workers ever send it; a run holds a lease that it renews, and the ``pending`` keys
of a run whose lease lapsed (or whose process is gone, on the same host) become
``ambiguous``, never sent again.

What changes with a shared database:

- keys are scoped by *account*, a name the user gives (a store, say) or the Stamps
  merchant (``stamps:merchant:<id>``), never a digest of a token or URL, so a rotated
  token or a URL spelled differently finds the same keys. The rows of many accounts live
  side by side, ``(account, key)`` unique. An account run with a merchant is recorded as
  that merchant's (``stampsync_accounts``); a key already under *another account of the
  same merchant*, or under a token-digest scope of an older stampsync, is refused, never
  sent (move such rows with :meth:`PgJournal.arescope`);
- leases are read on the database's clock, so machines whose clocks differ agree;
- a run's *host* is whatever the worker says it is (``host=``; the machine's name by
  default): process liveness is only checked for runs of this host;
- a lost connection is waited out: every operation is retried until the database answers
  again, for up to ``outage_seconds``, so a restarted PostgreSQL pauses a batch instead
  of failing it. Nothing is sent meanwhile (an intent must be committed first), and an
  outcome received during the outage is recorded once it is back. Past that, or on any
  other database error, the operation raises :class:`~stampsync.errors.JournalError`.

The schema (tables ``stampsync_writes``, ``stampsync_runs``, ``stampsync_accounts``,
``stampsync_schema``) is
created on first use under an advisory lock and versioned (:data:`SCHEMA_VERSION`): a
database written by a newer stampsync is refused. The URL's password never appears in a
repr, log line or message.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from yarl import URL

from ..errors import ConfigurationError, JournalError
from ._pg_batch import Coalescer
from ._runs import LEASE_SECONDS, RunInfo
from .journal import STATUSES, Claim, Entry, EntryStatus, normal_account

if TYPE_CHECKING:
    import asyncpg

log = logging.getLogger("stampsync.batch")

T = TypeVar("T")

#: The schema's version, kept in ``stampsync_schema``. 1: writes, runs; 2: accounts (an
#: account's merchant) and an index of keys across accounts.
SCHEMA_VERSION = 2

#: Serialises schema creation and upgrades across every process on the database.
_SCHEMA_LOCK = 0x5354_4A52  # "STJR"
_MIGRATION_LOCK_MS = 10_000
_IDLE_TX_MS = 30_000  # no transaction of ours waits on anything but the database

#: Seconds an operation must keep failing before the database is logged as away.
_OUTAGE_AFTER = 0.5

_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS stampsync_writes (
        account TEXT NOT NULL,
        key TEXT NOT NULL,
        operation TEXT NOT NULL,
        request TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'applied', 'failed', 'ambiguous')),
        result_id BIGINT,
        error TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        run TEXT,
        updated_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (account, key)
    )""",
    "CREATE INDEX IF NOT EXISTS stampsync_writes_status ON stampsync_writes (account, status)",
    "CREATE INDEX IF NOT EXISTS stampsync_writes_pending ON stampsync_writes (run)"
    " WHERE status = 'pending'",
    """CREATE TABLE IF NOT EXISTS stampsync_runs (
        run TEXT PRIMARY KEY,
        pid INTEGER NOT NULL,
        host TEXT NOT NULL,
        started_at DOUBLE PRECISION NOT NULL,
        lease_until DOUBLE PRECISION NOT NULL,
        ended BOOLEAN NOT NULL DEFAULT FALSE
    )""",
    "CREATE INDEX IF NOT EXISTS stampsync_runs_live ON stampsync_runs (run) WHERE NOT ended",
    # Schema 2: the merchant an account was run for, and keys looked up across accounts.
    """CREATE TABLE IF NOT EXISTS stampsync_accounts (
        account TEXT PRIMARY KEY,
        merchant TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS stampsync_writes_key ON stampsync_writes (key)",
]

#: The scopes older stampsyncs filed keys under when no merchant was set: a digest of the
#: API URL and token. Their keys are refused to every account until moved (``rescope``).
LEGACY_SCOPE_PREFIX = "stamps:token:"


def _foreign_rows(key: str, account: str, merchant: str) -> str:
    """SQL: the rows of ``key`` under another account than ``account`` that a run of
    ``merchant`` must not ignore: an account of the same merchant, or a legacy
    token-digest scope (the arguments are SQL expressions)."""
    return (
        "SELECT x.account, s.merchant FROM stampsync_writes x"
        " LEFT JOIN stampsync_accounts s ON s.account = x.account"
        f" WHERE x.key = {key} AND x.account <> {account}"
        f" AND (starts_with(x.account, '{LEGACY_SCOPE_PREFIX}')"
        f" OR ({merchant} IS NOT NULL AND s.merchant = {merchant}))"
    )


#: A new claim's foreign rows, in the claims' ``unnest`` (``t``).
_FOREIGN = _foreign_rows("t.k", "t.a", "t.m")

#: The database's clock, in Unix seconds: leases compare against it, never a worker's.
_NOW = "extract(epoch from clock_timestamp())::float8"

_COLUMNS = (
    "w.account, w.key, w.operation, w.request, w.status, w.result_id, w.error, w.attempts,"
    " w.run, w.updated_at"
)
_WITH_RUN = (
    f"SELECT {_COLUMNS}, r.pid, r.host, r.started_at, r.lease_until, r.ended, {_NOW} AS now"
    " FROM stampsync_writes w LEFT JOIN stampsync_runs r ON r.run = w.run"
)
_DIED = "interrupted after the request may have been sent (its run ended or died)"

#: A new key's claim: account, key, operation, request (JSON), run, merchant.
NewClaim = tuple[str, str, str, str, str, str | None]
#: An outcome: account, key, status, result id, error, and the run that must hold the key
#: (``None``: whichever).
OutcomeRow = tuple[str, str, str, int | None, str | None, str | None]


def _columns(items: Sequence[tuple[Any, ...]], width: int) -> list[list[Any]]:
    return [[item[i] for item in items] for i in range(width)]


async def _insert_claims(con: asyncpg.Connection, items: Sequence[NewClaim]) -> list[bool]:
    """Claim the keys nobody had: one ``INSERT ... ON CONFLICT DO NOTHING`` for all.

    A key that another account answers for (:data:`_FOREIGN`) is not inserted either."""
    rows = await con.fetch(
        "INSERT INTO stampsync_writes"
        " (account, key, operation, request, status, attempts, run, updated_at)"
        f" SELECT a, k, o, r, 'pending', 1, u, {_NOW}"
        " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],"
        " $6::text[]) AS t(a, k, o, r, u, m)"
        f" WHERE NOT EXISTS ({_FOREIGN})"
        " ORDER BY a, k"  # one lock order for every worker
        " ON CONFLICT (account, key) DO NOTHING RETURNING account, key",
        *_columns(items, 6),
    )
    inserted = {(row["account"], row["key"]) for row in rows}
    return [(item[0], item[1]) in inserted for item in items]


async def _foreign(
    con: asyncpg.Connection, account: str, merchant: str | None, keys: Sequence[str]
) -> dict[str, tuple[str, str | None]]:
    """Which of ``keys`` another account answers for (:data:`_FOREIGN`): ``{key: (that
    account, its merchant)}``, one read for all."""
    rows = await con.fetch(
        "SELECT t.k, f.account, f.merchant FROM unnest($1::text[]) AS t(k)"
        f" CROSS JOIN LATERAL ({_foreign_rows('t.k', '$2', '$3::text')}"
        " ORDER BY x.account LIMIT 1) AS f",
        list(keys),
        account,
        merchant,
    )
    return {row["k"]: (row["account"], row["merchant"]) for row in rows}


def foreign_message(key: str, account: str, other: str, merchant: str | None) -> str:
    """Why a key of ``account`` is refused: ``other`` answers for it. Names both, and the
    way out."""
    move = f"stampsync stamps journal rescope --from {other} --to {account}"
    if other.startswith(LEGACY_SCOPE_PREFIX):
        return (
            f"key {key!r} is already in the journal under {other!r}, a scope an older "
            "stampsync made from a digest of the API URL and token; this run's account is "
            f"{account!r}. If those are this account's keys, move them once: {move}"
        )
    return (
        f"key {key!r} is already in the journal under account {other!r} of the same "
        f"merchant ({merchant}); this run's account is {account!r}. Run with --account "
        f"{other} (account={other!r}) if that is the same store, or move its rows: {move}"
    )


async def _read_settled(con: asyncpg.Connection, items: Sequence[tuple[str, str]]) -> list[bool]:
    """Which of the (account, key) pairs are applied or ambiguous: one read for all."""
    rows = await con.fetch(
        "SELECT w.account, w.key FROM stampsync_writes w"
        " JOIN unnest($1::text[], $2::text[]) AS t(a, k) ON w.account = t.a AND w.key = t.k"
        " WHERE w.status IN ('applied', 'ambiguous')",
        *_columns(items, 2),
    )
    settled = {(row["account"], row["key"]) for row in rows}
    return [(item[0], item[1]) in settled for item in items]


async def _record_outcomes(con: asyncpg.Connection, items: Sequence[OutcomeRow]) -> list[bool]:
    """Record outcomes: one ``UPDATE`` for all; says which rows it changed."""
    rows = await con.fetch(
        "UPDATE stampsync_writes w SET status = t.s, result_id = COALESCE(t.i, w.result_id),"
        f" error = t.e, updated_at = {_NOW}"
        " FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[],"
        " $6::text[]) AS t(a, k, s, i, e, u)"
        " WHERE w.account = t.a AND w.key = t.k AND (t.u IS NULL OR w.run = t.u)"
        " RETURNING w.account, w.key",
        *_columns(items, 6),
    )
    changed = {(row["account"], row["key"]) for row in rows}
    return [(item[0], item[1]) in changed for item in items]


#: Query parameters of a PostgreSQL URL that hold a secret.
_SECRET_QUERY = ("password", "sslpassword", "passfile")


def safe_dsn(dsn: str) -> str:
    """``dsn`` with its password (and any secret query value) shown as ``***``."""
    try:
        url = URL(dsn)
        if url.password is not None:
            url = url.with_password("***")
        query = [(k, "***" if k.lower() in _SECRET_QUERY else v) for k, v in url.query.items()]
        if query:
            url = url.with_query(query)
        return str(url)
    except (ValueError, TypeError):
        return "<unparseable postgresql url>"


def _secrets_of(dsn: str) -> list[str]:
    try:
        url = URL(dsn)
        found = [url.password, url.raw_password]
        found += [v for k, v in url.query.items() if k.lower() in _SECRET_QUERY]
    except (ValueError, TypeError):
        return [dsn]
    return [s for s in found if s]


async def _session_settings(con: asyncpg.Connection) -> None:
    """Each new connection's settings, set by statements, not startup parameters (which
    poolers such as PgBouncer refuse).

    - A host that vanishes inside a transaction holds its locks until the server hears
      of it (hours, by TCP's defaults): the server ends such a session sooner.
    - Every statement is planned for its own arguments. asyncpg prepares statements,
      and PostgreSQL keeps a prepared statement's generic plan once it is no dearer than
      a fresh one: a plan made while a journal or a queue table was nearly empty (a new
      fleet's first seconds) scans the whole table ever after, until an ANALYZE. Measured
      on 20,000 rows: a claim of 4 keys took 10.6 ms on such a plan, 0.9 ms planned fresh.
    """
    await con.execute(
        f"SET idle_in_transaction_session_timeout = {_IDLE_TX_MS};"
        " SET plan_cache_mode = force_custom_plan"
    )


async def _keyed_session_settings(con: asyncpg.Connection) -> None:
    """The settings of the connections that claim keys and record outcomes, as
    :func:`_session_settings`'s but with each statement planned once per connection.

    Those statements find every row by its key: with sequential scans, hash and merge
    joins priced out, the generic plan looks each row up in an index (a nested loop over
    the call's keys) whatever the table's size when it was made, and planning every call
    again (about half of each claim's cost in PostgreSQL) is saved. Measured in the fleet
    benchmark: a claim statement's mean execution 1.41 ms planned each time, 0.44 ms on
    its kept plan. Only these statements: pricing scans out for the journal's other
    statements (run bookkeeping, counts) made them slower.
    """
    await con.execute(
        f"SET idle_in_transaction_session_timeout = {_IDLE_TX_MS};"
        " SET enable_seqscan = off; SET enable_hashjoin = off; SET enable_mergejoin = off;"
        " SET plan_cache_mode = force_generic_plan"
    )


async def _keep_session(con: asyncpg.Connection) -> None:
    """The pool's reset on release: nothing to send. The journal leaves no session state
    (no LISTEN, its settings made when the connection opens, advisory locks only per
    transaction), and asyncpg still rolls back a transaction left open; its default reset
    costs a round trip per query (measured in the fleet: 4 of every 10 statements)."""


async def open_pool(
    dsn: str,
    *,
    max_size: int,
    connect_timeout: float,
    command_timeout: float | None = None,
    keyed: bool = False,
) -> asyncpg.Pool:
    """An asyncpg pool with the journal's session settings (``keyed``: those of the
    claims' and outcomes' connections) and its free reset (see :func:`_session_settings`,
    :func:`_keyed_session_settings`, :func:`_keep_session`); the queue's pool is one too."""
    import asyncpg

    return await asyncpg.create_pool(
        dsn,
        min_size=1,
        max_size=max_size,
        timeout=connect_timeout,
        command_timeout=command_timeout,
        reset=_keep_session,
        init=_keyed_session_settings if keyed else _session_settings,
    )


def _transient(exc: BaseException) -> bool:
    """Whether ``exc`` means the database is away for now (restart, network), not refusing."""
    import asyncpg

    if isinstance(
        exc, OSError | TimeoutError | asyncpg.PostgresConnectionError | asyncpg.InternalClientError
    ):
        # InternalClientError ("cannot switch to state N; another operation is in
        # progress"): a connection the server shut down while idle keeps a half-read
        # state (MagicStack/asyncpg#1069, sqlalchemy#13241). Its connection is dropped
        # and the operation retried on a fresh one.
        return True
    if isinstance(
        exc,
        asyncpg.exceptions.OperatorInterventionError  # shutdown, starting up
        | asyncpg.exceptions.TransactionRollbackError  # serialization failure, deadlock
        | asyncpg.exceptions.IdleInTransactionSessionTimeoutError,  # a stall ended it
    ):
        return True
    # "closed"; "another operation is in progress" or "is cancelling": the client-side
    # state of a connection a failure left behind, checked before anything is sent.
    return isinstance(exc, asyncpg.InterfaceError) and any(
        words in str(exc) for words in ("closed", "in progress", "cancelling")
    )


def _suspect(exc: BaseException) -> bool:
    """Whether the connection that raised ``exc`` may be in a broken state: anything but
    an error the server answered with on a healthy session (a constraint, a syntax, a
    serialization failure)."""
    import asyncpg

    if isinstance(exc, ConfigurationError):
        return False  # ours, about the data: the connection is fine
    if isinstance(exc, asyncpg.PostgresError):
        return isinstance(
            exc,
            asyncpg.PostgresConnectionError
            | asyncpg.exceptions.OperatorInterventionError
            | asyncpg.exceptions.IdleInTransactionSessionTimeoutError,
        )
    return True


class PgDatabase:
    """A pool of connections to one PostgreSQL journal database, shared by its journals.

    One per process is enough: :meth:`PgJournal.for_account` gives journals of many
    stores over one pool. Opened (schema created or checked) on first use.

    Args:
        dsn: ``postgresql://user:password@host:port/dbname`` (libpq's URL form).
        max_connections: the pool's size. A journal's claims and outcomes open up to a
            third as many more of their own (see :func:`_keyed_session_settings`).
        outage_seconds: how long an operation waits for a database that went away.
        connect_timeout: seconds per connection attempt.
        schema: creates (or checks) the tables on first connection; the journal's by
            default. Another store on the same database (the webhook inbox) brings its
            own, so it neither creates the journal's tables nor versions them.
        label: how messages and log lines name the database.
    """

    def __init__(
        self,
        dsn: str,
        *,
        max_connections: int = 10,
        outage_seconds: float = 60.0,
        connect_timeout: float = 5.0,
        schema: Callable[[PgDatabase, asyncpg.Connection], Awaitable[None]] | None = None,
        label: str = "journal database",
    ) -> None:
        if not isinstance(dsn, str) or not dsn.lower().startswith(("postgresql://", "postgres://")):
            raise ConfigurationError("a PostgreSQL journal needs a postgresql:// URL")
        try:
            import asyncpg  # noqa: F401
        except ImportError:  # pragma: no cover - depends on the installed extras
            raise ConfigurationError(
                "a PostgreSQL journal needs asyncpg: pip install 'stampsync[fleet]'"
            ) from None
        self._dsn = dsn
        self._schema = schema or PgDatabase._migrate
        self.label = label
        self.url = safe_dsn(dsn)
        """The URL without its password."""
        self.max_connections = max_connections
        self.outage_seconds = outage_seconds
        self.connect_timeout = connect_timeout
        self._pool: asyncpg.Pool | None = None
        # The claims' and outcomes' own connections (see _keyed_session_settings).
        self._keyed_pool: asyncpg.Pool | None = None
        self._keyed_opening: asyncio.Lock | None = None
        self._opening: asyncio.Lock | None = None
        self._users = 0
        self._down = False
        # Claims of new keys and outcomes, the two statements of every row, share round
        # trips when several are waiting (see _pg_batch).
        self.new_claims: Coalescer[NewClaim, bool] = Coalescer(
            self,
            _insert_claims,
            key=lambda item: (item[0], item[1]),
            doing=lambda item: f"cannot claim key {item[1]!r}",
        )
        self.settled: Coalescer[tuple[str, str], bool] = Coalescer(
            self,
            _read_settled,
            key=lambda item: item,
            doing=lambda item: f"cannot read key {item[1]!r}",
        )
        self.outcomes: Coalescer[OutcomeRow, bool] = Coalescer(
            self,
            _record_outcomes,
            key=lambda item: (item[0], item[1]),
            doing=lambda item: f"cannot record the outcome of key {item[1]!r}",
        )

    def __repr__(self) -> str:
        return f"PgDatabase({self.url!r})"

    def error(self, exc: BaseException, doing: str) -> JournalError:
        """``exc`` as a :class:`JournalError` naming the database, never its password."""
        reason = str(exc) or type(exc).__name__
        for secret in _secrets_of(self._dsn):
            reason = reason.replace(secret, "***")
        return JournalError(f"{self.label} {self.url}: {doing}: {reason}")

    async def open(self) -> PgDatabase:
        """Connect and create (or check) the schema. Safe to call more than once."""
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            self._users += 1
            if self._pool is None:
                try:
                    self._pool = await self._connect()
                except BaseException:
                    self._users -= 1
                    raise
        return self

    async def _connect(self) -> asyncpg.Pool:
        import asyncpg

        try:
            pool = await self._open_pool(self.max_connections)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
            raise self.error(exc, "cannot connect") from None
        except ValueError as exc:  # a malformed URL
            raise self.error(exc, "bad URL") from None
        try:
            async with pool.acquire() as con:
                await self._schema(self, con)
        except BaseException:
            await pool.close()
            raise
        return pool

    async def _open_pool(self, size: int, *, keyed: bool = False) -> asyncpg.Pool:
        return await open_pool(
            self._dsn,
            max_size=size,
            connect_timeout=self.connect_timeout,
            command_timeout=max(30.0, self.outage_seconds),
            keyed=keyed,
        )

    async def _keyed(self) -> asyncpg.Pool:
        """The claims' and outcomes' pool, opened on their first statement (a database
        that never claims, the webhook inbox's, never opens it)."""
        if self._keyed_pool is None:
            if self._keyed_opening is None:
                self._keyed_opening = asyncio.Lock()
            async with self._keyed_opening:
                if self._pool is None:  # closed while this call waited for the lock
                    raise JournalError(f"{self.label} {self.url} was closed")
                if self._keyed_pool is None:
                    # Coalesced statements: a few in flight at most.
                    self._keyed_pool = await self._open_pool(
                        max(1, self.max_connections // 3), keyed=True
                    )
                    if self._pool is None:  # closed while it opened
                        keyed, self._keyed_pool = self._keyed_pool, None
                        await keyed.close()
                        raise JournalError(f"{self.label} {self.url} was closed")
        return self._keyed_pool

    async def _migrate(self, con: asyncpg.Connection) -> None:
        import asyncpg

        try:
            # A current schema is only read: its DDL (CREATE INDEX IF NOT EXISTS locks the
            # table even when the index exists) would queue behind a vanished host's open
            # transaction, and every worker's writes would queue behind it in turn.
            found = await con.fetchval("SELECT version FROM stampsync_schema WHERE id = 1")
        except asyncpg.UndefinedTableError:
            found = None
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            raise self.error(exc, "cannot read the journal's schema version") from None
        if found == SCHEMA_VERSION:
            return
        self._refuse_newer(found)
        try:
            async with con.transaction():
                # Another process upgrading waits its turn, however long it takes; the
                # tables, once ours to change, are waited for a bounded time only.
                await con.execute("SELECT pg_advisory_xact_lock($1)", _SCHEMA_LOCK)
                await con.execute(f"SET LOCAL lock_timeout = '{_MIGRATION_LOCK_MS}ms'")
                await con.execute(
                    "CREATE TABLE IF NOT EXISTS stampsync_schema"
                    " (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL)"
                )
                found = await con.fetchval("SELECT version FROM stampsync_schema WHERE id = 1")
                self._refuse_newer(found)
                for statement in _SCHEMA:
                    await con.execute(statement)
                if found is not None and found < 2:
                    # Keys an older stampsync filed under a merchant's account belong to
                    # that merchant: an account named now for it must meet them as its
                    # own merchant's, never send them again.
                    await con.execute(
                        "INSERT INTO stampsync_accounts (account, merchant)"
                        " SELECT DISTINCT account, substr(account, 17) FROM stampsync_writes"
                        " WHERE starts_with(account, 'stamps:merchant:')"
                        " ON CONFLICT (account) DO NOTHING"
                    )
                await con.execute(
                    "INSERT INTO stampsync_schema (id, version) VALUES (1, $1)"
                    " ON CONFLICT (id) DO UPDATE SET version = excluded.version",
                    SCHEMA_VERSION,
                )
        except asyncpg.LockNotAvailableError:
            raise JournalError(
                f"journal database {self.url}: cannot upgrade the journal's tables: another "
                f"session held them for over {_MIGRATION_LOCK_MS / 1000:.0f} s; try again "
                "(or stop the older workers first)"
            ) from None
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            raise self.error(exc, "cannot create the journal's tables") from None

    def _refuse_newer(self, found: int | None) -> None:
        if found is not None and found > SCHEMA_VERSION:
            raise ConfigurationError(
                f"journal database {self.url} was written by a newer stampsync "
                f"(schema {found}; this one knows up to {SCHEMA_VERSION}): upgrade stampsync"
            )

    async def close(self) -> None:
        """Release this user's hold; the last one closes the pool."""
        self._users = max(0, self._users - 1)
        if self._users == 0 and self._pool is not None:
            pool, self._pool = self._pool, None  # an open() from now on makes a new pool
            keyed, self._keyed_pool = self._keyed_pool, None
            await self.new_claims.aclose()
            await self.settled.aclose()
            await self.outcomes.aclose()
            try:
                await pool.close()
            finally:
                if keyed is not None:
                    await keyed.close()

    def outage_began(self, why: str) -> None:
        """Log that the database went away: once per outage, however many operations
        (or a queue's listener) notice it."""
        if not self._down:
            self._down = True
            log.warning(
                "%s %s unavailable (%s); waiting up to %.0f s per operation",
                self.label,
                self.url,
                why,
                self.outage_seconds,
            )

    def outage_ended(self) -> None:
        """Log that the database is back, once."""
        if self._down:
            self._down = False
            log.warning("%s %s is back", self.label, self.url)

    async def run(
        self,
        fn: Callable[[asyncpg.Connection], Awaitable[T]],
        doing: str,
        *,
        patience: float | None = None,
        keyed: bool = False,
    ) -> T:
        """``fn(connection)``, retried while the database is away, for up to ``patience``
        seconds (the outage's, by default). ``keyed``: on a connection of the claims and
        outcomes (see :func:`_keyed_session_settings`); only for statements that find
        every row by its primary key."""
        import asyncpg

        if self._pool is None:
            raise JournalError(f"{self.label} {self.url} is not open (use async with)")
        wait = self.outage_seconds if patience is None else min(patience, self.outage_seconds)
        deadline = time.monotonic() + wait
        delay = 0.05
        waiting = False
        first_failure: float | None = None
        while True:
            pool = self._pool
            if pool is None:  # closed while this operation waited out an outage
                raise JournalError(f"{self.label} {self.url} was closed; {doing}")
            try:
                if keyed:
                    pool = await self._keyed()
                async with pool.acquire(timeout=self.connect_timeout) as con:
                    try:
                        result = await fn(con)
                    except Exception as exc:
                        if _suspect(exc):
                            # Its protocol state is unknown: never hand it out again.
                            with contextlib.suppress(asyncpg.InterfaceError):
                                con.terminate()  # refused if the pool already let it go
                        raise
                if waiting:
                    self.outage_ended()
                return result
            except ConfigurationError:
                raise
            except (
                asyncpg.PostgresError,
                asyncpg.InterfaceError,
                asyncpg.InternalClientError,
                OSError,
                TimeoutError,
            ) as exc:
                if not _transient(exc) or time.monotonic() + delay > deadline:
                    raise self.error(exc, doing) from None
                if first_failure is None:
                    first_failure = time.monotonic()
                # A connection the pool kept across a restart fails once and is replaced
                # at once: only a failure that outlasts a moment is an outage.
                if not waiting and time.monotonic() - first_failure >= _OUTAGE_AFTER:
                    waiting = True
                    self.outage_began(type(exc).__name__)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)


class PgJournal:
    """A write journal in PostgreSQL, for one account (store) of a shared database.

    ``async with PgJournal("postgresql://...", account="store-7") as j:``, or pass
    ``journal="postgresql://...", account="store-7"`` to a batch (without ``account``, the
    Stamps client's merchant names it). Many journals can share one
    :class:`PgDatabase`: ``journal.for_account(account)``.

    Args:
        dsn: a ``postgresql://`` URL or an open-able :class:`PgDatabase`.
        account: whose keys these are; ``None`` for reading every account (tools).
        merchant: the Stamps merchant the account belongs to, if known: a run records it,
            and refuses keys already under another account of the same merchant.
        host: the host id runs are registered under (default: this machine's name).
        lease_seconds: how long a run's claim outlives its last renewal.
        outage_seconds: how long an operation waits for a database that went away.
    """

    def __init__(
        self,
        dsn: str | PgDatabase,
        *,
        account: str | None,
        merchant: str | int | None = None,
        host: str | None = None,
        lease_seconds: float = LEASE_SECONDS,
        outage_seconds: float = 60.0,
    ) -> None:
        if account is not None:
            account = normal_account(account)
        if merchant is not None:
            merchant = normal_account(str(merchant), what="merchant")
        if not lease_seconds > 0:
            raise ConfigurationError("lease_seconds must be positive")
        self._db = (
            dsn if isinstance(dsn, PgDatabase) else PgDatabase(dsn, outage_seconds=outage_seconds)
        )
        self.account = account
        self.merchant: str | None = merchant
        self.host = host or socket.gethostname()
        self.lease_seconds = float(lease_seconds)
        self._known: dict[str, bool] = {}  # asettled's answers read ahead (aprefetch)

    @property
    def database(self) -> PgDatabase:
        """The database (and pool) this journal uses."""
        return self._db

    def for_account(self, account: str) -> PgJournal:
        """A journal of ``account`` on the same database and pool."""
        return PgJournal(
            self._db, account=account, host=self.host, lease_seconds=self.lease_seconds
        )

    def __repr__(self) -> str:
        return f"PgJournal({self._db.url!r}, account={self.account!r}, merchant={self.merchant!r})"

    def describe(self) -> str:
        """The database URL (no password) and the account."""
        return f"{self._db.url} (account {self.account})" if self.account else self._db.url

    def new_run(self) -> RunInfo:
        """A new run of this process, under this journal's host id."""
        import os
        import uuid

        return RunInfo(uuid.uuid4().hex, os.getpid(), self.host, time.time())

    async def __aenter__(self) -> PgJournal:
        await self._db.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._db.close()

    def _account(self) -> str:
        if self.account is None:
            raise ConfigurationError("this journal reads every account; writes need account=")
        return self.account

    # -- runs -------------------------------------------------------------------------

    async def astart_run(self, run: RunInfo) -> None:
        """Register ``run`` with a fresh lease; runs found dead on the way are ended and
        their ``pending`` keys (of every account) become ``ambiguous``.

        With a merchant, the account is recorded as that merchant's; an account recorded
        for another merchant is refused (:class:`~stampsync.errors.ConfigurationError`).
        """

        async def write(con: asyncpg.Connection) -> None:
            async with con.transaction():
                await self._own_account(con)
                await self._bury_dead(con)
                await con.execute(
                    "INSERT INTO stampsync_runs (run, pid, host, started_at, lease_until, ended)"
                    f" VALUES ($1, $2, $3, $4, {_NOW} + $5, FALSE)"
                    " ON CONFLICT (run) DO UPDATE SET lease_until = excluded.lease_until,"
                    " ended = FALSE",
                    run.run,
                    run.pid,
                    run.host,
                    run.started_at,
                    self.lease_seconds,
                )

        await self._db.run(write, "cannot register the run")

    async def _own_account(self, con: asyncpg.Connection) -> None:
        """Record this account as its merchant's (the first merchant named stays)."""
        if self.account is None or self.merchant is None:
            return
        recorded = await con.fetchval(
            "INSERT INTO stampsync_accounts (account, merchant) VALUES ($1, $2)"
            " ON CONFLICT (account) DO UPDATE SET"
            " merchant = COALESCE(stampsync_accounts.merchant, excluded.merchant)"
            " RETURNING merchant",
            self.account,
            self.merchant,
        )
        if recorded != self.merchant:
            raise ConfigurationError(
                f"journal account {self.account!r} belongs to merchant {recorded}, but this "
                f"run's merchant is {self.merchant}: name this merchant's own account"
            )

    async def acheck_scope(self, keys: Sequence[str]) -> None:
        """Refuse, before anything is sent, a run whose ``keys`` another account answers
        for (another account of the same merchant, or a legacy token-digest scope): a
        :class:`~stampsync.errors.ConfigurationError` naming both accounts. Records the
        account's merchant, as a run's start does."""
        account = self._account()

        async def check(con: asyncpg.Connection) -> dict[str, tuple[str, str | None]]:
            async with con.transaction():
                await self._own_account(con)
            return await _foreign(con, account, self.merchant, keys)

        found = await self._db.run(check, "cannot check the run's keys")
        if found:
            key = min(found)
            more = f" ({len(found)} keys in all)" if len(found) > 1 else ""
            raise ConfigurationError(foreign_message(key, account, *found[key]) + more)

    async def arescope(self, old: str, new: str) -> int:
        """Move every entry of account ``old`` (a legacy ``stamps:token:...`` scope, say)
        to account ``new``; return how many moved.

        All or nothing, in one transaction: refused when ``old`` has no entries, when a
        key is in both accounts, or when a live run is sending one of ``old``'s keys
        (``pending``). Runs found dead are ended first, as a run's start does.
        """
        old = normal_account(old, what="--from scope")
        new = normal_account(new, what="--to account")
        if old == new:
            raise ConfigurationError(f"--from and --to are the same account ({old!r})")

        async def move(con: asyncpg.Connection) -> int:
            async with con.transaction():
                await self._bury_dead(con)
                rows = await con.fetch(
                    "SELECT key, status FROM stampsync_writes WHERE account = $1 FOR UPDATE",
                    old,
                )
                if not rows:
                    raise ConfigurationError(
                        f"no journal entries under {old!r}: see the scopes with "
                        "stampsync stamps journal list"
                    )
                busy = sorted(r["key"] for r in rows if r["status"] == "pending")
                if busy:
                    raise ConfigurationError(
                        f"{len(busy)} key(s) of {old!r} are being sent by a live run "
                        f"(first {busy[0]!r}); wait for it to end"
                    )
                both = await con.fetch(
                    "SELECT key FROM stampsync_writes WHERE account = $2 AND key IN"
                    " (SELECT key FROM stampsync_writes WHERE account = $1) ORDER BY key",
                    old,
                    new,
                )
                if both:
                    raise ConfigurationError(
                        f"{len(both)} key(s) are in both {old!r} and {new!r} (first "
                        f"{both[0]['key']!r}): settle them by hand; nothing was moved"
                    )
                await con.execute(
                    f"UPDATE stampsync_writes SET account = $2, updated_at = {_NOW}"
                    " WHERE account = $1",
                    old,
                    new,
                )
                await con.execute(
                    "INSERT INTO stampsync_accounts (account, merchant)"
                    " SELECT $2, merchant FROM stampsync_accounts WHERE account = $1"
                    " ON CONFLICT (account) DO UPDATE SET merchant ="
                    " COALESCE(stampsync_accounts.merchant, excluded.merchant)",
                    old,
                    new,
                )
                await con.execute("DELETE FROM stampsync_accounts WHERE account = $1", old)
                return len(rows)

        return await self._db.run(move, f"cannot move the entries of {old!r}")

    async def aend_dead_runs(self) -> None:
        """End the runs found dead, as a run's start does: their ``pending`` keys (of
        every account) become ``ambiguous``; a live run's stay ``pending``."""

        async def write(con: asyncpg.Connection) -> None:
            async with con.transaction():
                await self._bury_dead(con)

        await self._db.run(write, "cannot end the dead runs")

    async def _bury_dead(self, con: asyncpg.Connection) -> None:
        rows = await con.fetch(
            f"SELECT run, pid, host, started_at, lease_until, {_NOW} AS now"
            " FROM stampsync_runs WHERE NOT ended"
        )
        for row in rows:
            info = RunInfo(row["run"], row["pid"], row["host"], row["started_at"])
            if info.may_be_alive(row["lease_until"], row["now"]):
                continue
            await con.execute(
                f"UPDATE stampsync_writes SET status = 'ambiguous', error = $2, updated_at = {_NOW}"
                " WHERE run = $1 AND status = 'pending'",
                info.run,
                _DIED,
            )
            await con.execute(
                "UPDATE stampsync_runs SET ended = TRUE, lease_until = 0 WHERE run = $1",
                info.run,
            )
        # Ended runs are kept a week (to name who sent what), then forgotten.
        await con.execute(
            f"DELETE FROM stampsync_runs WHERE ended AND started_at < {_NOW} - 604800"
        )

    async def arenew_run(self, run: RunInfo) -> None:
        """Extend ``run``'s lease by :attr:`lease_seconds` from now (the database's)."""

        async def write(con: asyncpg.Connection) -> None:
            await con.execute(
                f"UPDATE stampsync_runs SET lease_until = {_NOW} + $2, ended = FALSE"
                " WHERE run = $1",
                run.run,
                self.lease_seconds,
            )

        await self._db.run(write, "cannot renew the run's lease")

    async def aend_run(self, run: RunInfo) -> None:
        """End ``run``: its keys still ``pending`` (cut off mid-send) become ambiguous."""

        async def write(con: asyncpg.Connection) -> None:
            async with con.transaction():
                await con.execute(
                    "UPDATE stampsync_writes SET status = 'ambiguous', error = $2,"
                    f" updated_at = {_NOW} WHERE run = $1 AND status = 'pending'",
                    run.run,
                    "interrupted after the request may have been sent",
                )
                await con.execute(
                    "UPDATE stampsync_runs SET ended = TRUE, lease_until = 0 WHERE run = $1",
                    run.run,
                )

        await self._db.run(write, "cannot end the run")

    # -- claims and outcomes -------------------------------------------------------------

    async def aclaim(
        self, key: str, operation: str, request: dict[str, Any], run: RunInfo
    ) -> Claim:
        """Check ``key`` and, if it may be sent, commit the intent under ``run``: atomically.

        A new key is claimed by one ``INSERT ... ON CONFLICT DO NOTHING`` (shared with the
        claims waiting at the same moment, :mod:`~stampsync._engine._pg_batch`); a known one is
        answered from a plain read when that settles it (applied, ambiguous, another
        request, held by a live run), else decided under ``SELECT ... FOR UPDATE``.
        """
        account = self._account()
        payload = json.dumps(request, sort_keys=True, separators=(",", ":"))
        normal = json.loads(payload)

        if await self._db.new_claims((account, key, operation, payload, run.run, self.merchant)):
            return Claim("claimed")

        async def claim(con: asyncpg.Connection) -> Claim:
            settled, entry = await self._verdict(con, account, key, normal, run, lock=False)
            if settled is not None:
                return settled
            if entry is None:
                # Not inserted and not ours: another account answers for the key.
                found = await _foreign(con, account, self.merchant, [key])
                if key in found:
                    why = foreign_message(key, account, *found[key])
                    return Claim("foreign", why=why)
                # Gone since (a rescope moved it away): claim it as new, once more.
                inserted = await _insert_claims(
                    con, [(account, key, operation, payload, run.run, self.merchant)]
                )
                if inserted[0]:
                    return Claim("claimed")
            async with con.transaction():
                settled, entry = await self._verdict(con, account, key, normal, run, lock=True)
                if settled is not None:
                    return settled
                if entry is None:
                    raise JournalError(f"key {key!r} moved while it was being claimed; rerun")
                if entry.status == "pending" and entry.run != run.run:
                    await con.execute(
                        "UPDATE stampsync_writes SET status = 'ambiguous', error = $3,"
                        f" updated_at = {_NOW} WHERE account = $1 AND key = $2",
                        account,
                        key,
                        _DIED,
                    )
                    return Claim("ambiguous", entry, why=_DIED)
                await con.execute(
                    "UPDATE stampsync_writes SET status = 'pending', error = NULL,"
                    f" attempts = attempts + 1, run = $3, updated_at = {_NOW}"
                    " WHERE account = $1 AND key = $2",
                    account,
                    key,
                    run.run,
                )
                return Claim("claimed", entry)

        return await self._db.run(claim, f"cannot claim key {key!r}")

    async def _verdict(
        self,
        con: asyncpg.Connection,
        account: str,
        key: str,
        normal: Any,
        run: RunInfo,
        *,
        lock: bool,
    ) -> tuple[Claim | None, Entry | None]:
        row = await con.fetchrow(
            _WITH_RUN
            + " WHERE w.account = $1 AND w.key = $2"
            + (" FOR UPDATE OF w" if lock else ""),
            account,
            key,
        )
        if row is None:
            return None, None
        entry = _entry(row)
        if entry.request != normal:
            return Claim("conflict", entry), entry
        if entry.status == "applied":
            return Claim("applied", entry), entry
        if entry.status == "ambiguous":
            return Claim("ambiguous", entry, why=entry.error), entry
        if entry.status == "pending" and entry.run != run.run:
            holder = _live_holder(row)
            if holder is not None:
                return Claim("held", entry, holder), entry
        return None, entry

    async def afinish(
        self,
        key: str,
        status: EntryStatus,
        *,
        result_id: int | None = None,
        error: str | None = None,
        run: RunInfo | None = None,
    ) -> bool:
        """Record the outcome of ``key``; with ``run``, only while it is that run's claim."""
        account = self._account()
        if status not in STATUSES:
            raise ConfigurationError(f"unknown journal status {status!r}")

        changed = await self._db.outcomes(
            (account, key, status, result_id, error, None if run is None else run.run)
        )
        if not changed and run is None:
            raise ConfigurationError(f"no journal entry for key {key!r}")
        return changed

    # -- reading and resolving ----------------------------------------------------------

    async def asettled(self, key: str) -> bool:
        """True if ``key`` is already applied or ambiguous (a hint; the claim decides).

        Answered from :meth:`aprefetch` when it read the key, else by a read shared with
        the others waiting at the same moment.
        """
        known = self._known.pop(key, None)
        if known is not None:
            return known
        return await self._db.settled((self._account(), key))

    async def aprefetch(self, keys: Sequence[str]) -> None:
        """Read ahead, in one statement, which of ``keys`` :meth:`asettled` will call
        settled: a fleet job does this once for its rows, not once per row."""
        account = self._account()
        found = await self._db.run(
            lambda con: _read_settled(con, [(account, key) for key in keys]),
            "cannot read the job's keys",
        )
        self._known.update(zip(keys, found, strict=True))

    async def aget(self, key: str) -> Entry | None:
        """The entry for ``key`` in this account, if any."""
        account = self._account()

        async def read(con: asyncpg.Connection) -> Entry | None:
            row = await con.fetchrow(
                _WITH_RUN + " WHERE w.account = $1 AND w.key = $2", account, key
            )
            return None if row is None else _entry(row)

        return await self._db.run(read, "cannot read the journal")

    async def aentries(self, status: EntryStatus | None = None) -> list[Entry]:
        """Entries (of this account, or of all) in (account, key) order."""
        clauses, args = self._where(status)

        async def read(con: asyncpg.Connection) -> list[Entry]:
            rows = await con.fetch(_WITH_RUN + clauses + " ORDER BY w.account, w.key", *args)
            return [_entry(r) for r in rows]

        return await self._db.run(read, "cannot read the journal")

    def _where(self, status: EntryStatus | None) -> tuple[str, list[object]]:
        conditions: list[str] = []
        args: list[object] = []
        if self.account is not None:
            args.append(self.account)
            conditions.append(f"w.account = ${len(args)}")
        if status is not None:
            args.append(status)
            conditions.append(f"w.status = ${len(args)}")
        return (" WHERE " + " AND ".join(conditions) if conditions else ""), args

    async def acounts(self) -> dict[str, int]:
        """How many entries (of this account, or of all) have each status."""
        by = await self.acounts_by_account()
        total: dict[str, int] = {status: 0 for status in STATUSES}
        for counts in by.values():
            for status, n in counts.items():
                total[status] += n
        return total

    async def acounts_by_account(self) -> dict[str, dict[str, int]]:
        """``{account: {status: count}}``, for this account or every one."""
        clauses, args = self._where(None)

        async def read(con: asyncpg.Connection) -> dict[str, dict[str, int]]:
            rows = await con.fetch(
                "SELECT w.account, w.status, COUNT(*) AS n FROM stampsync_writes w"
                + clauses
                + " GROUP BY w.account, w.status ORDER BY w.account",
                *args,
            )
            out: dict[str, dict[str, int]] = {}
            for r in rows:
                out.setdefault(r["account"], {s: 0 for s in STATUSES})[r["status"]] = r["n"]
            return out

        return await self._db.run(read, "cannot read the journal")

    async def aresolve(
        self, key: str, *, applied: bool, result_id: int | None = None, note: str | None = None
    ) -> None:
        """Settle an ambiguous (or dead run's pending) entry after checking the server.

        Without an account the key must be in exactly one account.
        """
        status: EntryStatus = "applied" if applied else "failed"
        error = None if applied else (note or "resolved: not applied")

        async def write(con: asyncpg.Connection) -> None:
            async with con.transaction():
                account = self.account
                if account is None:
                    found = await con.fetch(
                        "SELECT account FROM stampsync_writes WHERE key = $1", key
                    )
                    if len(found) > 1:
                        names = ", ".join(sorted(r["account"] for r in found))
                        raise ConfigurationError(
                            f"key {key!r} is in several accounts ({names}): name one"
                        )
                    account = found[0]["account"] if found else ""
                row = await con.fetchrow(
                    _WITH_RUN + " WHERE w.account = $1 AND w.key = $2 FOR UPDATE OF w",
                    account,
                    key,
                )
                if row is None:
                    raise ConfigurationError(f"no journal entry for key {key!r}")
                entry = _entry(row)
                if entry.status not in ("ambiguous", "pending"):
                    raise ConfigurationError(
                        f"key {key!r} is {entry.status}, not ambiguous; nothing to resolve"
                    )
                holder = _live_holder(row) if entry.status == "pending" else None
                if holder is not None:
                    raise ConfigurationError(
                        f"key {key!r} is being sent by a live run ({holder.describe()}); "
                        "wait for it to end"
                    )
                await con.execute(
                    "UPDATE stampsync_writes SET status = $3, result_id = COALESCE($4,"
                    f" result_id), error = $5, updated_at = {_NOW}"
                    " WHERE account = $1 AND key = $2",
                    account,
                    key,
                    status,
                    result_id,
                    error,
                )

        await self._db.run(write, f"cannot resolve key {key!r}")


def _live_holder(row: Any) -> RunInfo | None:
    if row["pid"] is None or row["ended"]:
        return None  # unknown or ended run: not alive
    info = RunInfo(row["run"], row["pid"], row["host"], row["started_at"])
    return info if info.may_be_alive(row["lease_until"], row["now"]) else None


def _entry(row: Any) -> Entry:
    return Entry(
        key=row["key"],
        operation=row["operation"],
        request=json.loads(row["request"]),
        status=row["status"],
        result_id=row["result_id"],
        error=row["error"],
        attempts=row["attempts"],
        run=row["run"],
        updated_at=row["updated_at"],
        account=row["account"],
    )
