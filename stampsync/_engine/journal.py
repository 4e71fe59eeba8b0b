"""The write journal: a key is applied at most once, across runs and crashes.

For each item of a mass write the journal records the *intent* (``pending``) before the
request is sent, and the *outcome* after:

- ``applied``: the server confirmed it (with its id, e.g. the award id);
- ``failed``: the server provably did not apply it (a 4xx, a 429 or 503 after retries,
  no connection made); a rerun tries it again;
- ``ambiguous``: it was sent and its outcome is unknown (a reset, a timeout, a 502, a
  crash between intent and outcome). A rerun leaves it alone until a person resolves it
  (:meth:`Journal.resolve`), because retrying could apply it twice.

Two runs may share one journal (a cron job overlapping a manual rerun): each key is
*claimed* in one ``BEGIN IMMEDIATE`` transaction that checks it and records the intent
together, so no two runs ever send the same key. A key another live run holds is not
sent; the batch reports it as failed, ``held by another run`` (a rerun after that run
ends finds it applied). A run is alive while it renews its lease (every
``LEASE_SECONDS / 3``) and, on the same host, while its process exists; the ``pending``
keys of a run that died become ``ambiguous``, exactly as after ``kill -9``, when the next
run starts or meets them. Nothing here ever sends a key another run claimed: a wrong
verdict on liveness costs a key held back or marked ambiguous, never a second send.

The journal is a small protocol, :class:`WriteJournal`, with two implementations: this
module's :class:`Journal` (a SQLite file: one machine, the embedded default) and
:class:`~stampsync._engine.postgres.PgJournal` (PostgreSQL: one database shared by a fleet of
workers on many machines, its rows scoped by account). :func:`open_journal` picks one from
what the caller gave: a ``postgresql://`` URL, or a path.

The scope rule: a SQLite file is its own scope (its keys belong to whoever runs with that
file, so a rotated token or another spelling of the API URL finds the same keys). A
database is shared, so its keys are filed under an *account* the user names
(``account=``, ``--account``, ``STAMPSYNC_ACCOUNT``), or else the Stamps merchant
(``stamps:merchant:<id>``); never under anything derived from the token or URL. Without
either, a database journal is refused before anything is sent.

The file is SQLite (see :class:`~stampsync._engine._sqlite.SqliteFile`): WAL,
``synchronous=FULL``, one thread, so fsyncs never block the event loop. It is created
with mode 0600: it holds customers' emails and award history. Its schema version
(:data:`SCHEMA_VERSION`) is kept in the file: older journals are upgraded on open, newer
ones refused.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar, runtime_checkable

from ..errors import ConfigurationError
from ._runs import LEASE_SECONDS, RunInfo
from ._sqlite import SqliteFile

T = TypeVar("T")

EntryStatus = Literal["pending", "applied", "failed", "ambiguous"]
STATUSES: tuple[EntryStatus, ...] = ("pending", "applied", "failed", "ambiguous")

SCHEMA = """
CREATE TABLE IF NOT EXISTS writes (
    key TEXT PRIMARY KEY,
    operation TEXT NOT NULL,
    request TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'applied', 'failed', 'ambiguous')),
    result_id INTEGER,
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    run TEXT,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS writes_status ON writes (status);
CREATE TABLE IF NOT EXISTS runs (
    run TEXT PRIMARY KEY,
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    started_at REAL NOT NULL,
    lease_until REAL NOT NULL,
    ended INTEGER NOT NULL DEFAULT 0
);
"""

#: The schema's version, kept in the file's ``user_version``. 1: ``writes`` only (before
#: leases; such files said 0); 2: the ``runs`` table. An older file is upgraded on open; a
#: newer one is refused (see :class:`~stampsync._engine._sqlite.SqliteFile`).
SCHEMA_VERSION = 2

ClaimKind = Literal["claimed", "applied", "ambiguous", "conflict", "held", "foreign"]


@dataclass(frozen=True, slots=True)
class Claim:
    """What :meth:`Journal.aclaim` found for a key.

    ``claimed``: the intent is recorded under this run; send it. ``applied`` and
    ``ambiguous``: an earlier run settled (or lost) it; send nothing. ``conflict``: the key
    was used for a different request. ``held``: another live run is sending it now.
    ``foreign``: another account of a shared journal answers for the key (``why`` names
    both); send nothing.
    """

    kind: ClaimKind
    entry: Entry | None = None
    holder: RunInfo | None = None
    why: str | None = None


@dataclass(frozen=True, slots=True)
class Entry:
    """One journal row."""

    key: str
    operation: str
    request: dict[str, Any]
    status: EntryStatus
    result_id: int | None
    error: str | None
    attempts: int
    run: str | None
    updated_at: float
    account: str | None = None
    """The account (store) the key belongs to, in a shared (PostgreSQL) journal."""


@runtime_checkable
class WriteJournal(Protocol):
    """What a batch needs of a journal: SQLite's :class:`Journal`, PostgreSQL's
    :class:`~stampsync._engine.postgres.PgJournal`, or one of your own.

    Open it with ``async with``. Every claim is atomic (check and intent in one
    transaction) and committed before the request is sent.
    """

    lease_seconds: float
    """How long a run's claim outlives its last renewal (a run renews every third)."""

    def describe(self) -> str:
        """Where the journal is, for messages (no password)."""
        ...

    def new_run(self) -> RunInfo:
        """A new run of this process, as this journal identifies runs."""
        ...

    async def __aenter__(self) -> Any: ...

    async def __aexit__(self, *exc: object) -> None: ...

    async def astart_run(self, run: RunInfo) -> None:
        """Register ``run`` with a fresh lease; end the runs found dead."""
        ...

    async def arenew_run(self, run: RunInfo) -> None:
        """Extend ``run``'s lease."""
        ...

    async def aend_run(self, run: RunInfo) -> None:
        """End ``run``: its keys still pending become ambiguous."""
        ...

    async def aclaim(
        self, key: str, operation: str, request: dict[str, Any], run: RunInfo
    ) -> Claim:
        """Check ``key`` and record the intent under ``run``, atomically."""
        ...

    async def afinish(
        self,
        key: str,
        status: EntryStatus,
        *,
        result_id: int | None = None,
        error: str | None = None,
        run: RunInfo | None = None,
    ) -> bool:
        """Record the outcome of the write under ``key``."""
        ...

    async def aget(self, key: str) -> Entry | None:
        """The entry for ``key``, if any."""
        ...

    async def aentries(self, status: EntryStatus | None = None) -> list[Entry]:
        """Entries in key order, optionally only those with ``status``."""
        ...

    async def acounts(self) -> dict[str, int]:
        """How many entries have each status."""
        ...

    async def aresolve(
        self, key: str, *, applied: bool, result_id: int | None = None, note: str | None = None
    ) -> None:
        """Settle an ambiguous entry after checking the server."""
        ...


#: How to name a database journal's account, for the refusal without one.
NEED_ACCOUNT = (
    "a PostgreSQL journal needs an account to file its keys under: name one with "
    "account=... (on the command line --account NAME, or STAMPSYNC_ACCOUNT=NAME), e.g. "
    "the store's name, the same on every run; or set the client's merchant (merchant=, "
    "STAMPS_MERCHANT)"
)


def client_account(client: object) -> str | None:
    """The account a shared journal files a Stamps client's keys under when none is named:
    ``stamps:merchant:<id>`` when the client names its merchant, else None (never anything
    derived from the token or API URL, which change while the keys stay the same)."""
    merchant = getattr(client, "merchant", None)
    return None if merchant is None else f"stamps:merchant:{merchant}"


def batch_account(
    journal: str | Path | WriteJournal | None, account: str | None, client: object
) -> str | None:
    """The account a batch files its keys under: ``account`` if given; else none for a
    journal object (it carries its own); else the client's merchant's
    (:func:`client_account`)."""
    if account is not None or isinstance(journal, WriteJournal):
        return account
    return client_account(client)


def normal_account(value: object, *, what: str = "journal account") -> str:
    """An account name as journaled: stripped, NFC-normalised, non-empty, storable text;
    else a :class:`~stampsync.errors.ConfigurationError` naming what is wrong."""
    import unicodedata

    if not isinstance(value, str):
        raise ConfigurationError(f"{what} must be text, got {type(value).__name__}")
    name = unicodedata.normalize("NFC", value.strip())
    if not name:
        raise ConfigurationError(f"{what} is empty")
    if "\x00" in name or not name.isprintable():
        raise ConfigurationError(f"{what} {name!r} holds a control character")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise ConfigurationError(f"{what} {name!r} is not valid Unicode text") from None
    return name


def is_database_url(spec: object) -> bool:
    """Whether ``spec`` names a PostgreSQL journal (``postgresql://`` or ``postgres://``)."""
    return isinstance(spec, str) and spec.lower().startswith(("postgresql://", "postgres://"))


def open_journal(
    spec: str | Path | WriteJournal,
    *,
    account: str | None = None,
    host: str | None = None,
    merchant: str | int | None = None,
) -> WriteJournal:
    """The journal ``spec`` names, not yet opened (open it with ``async with``).

    ``postgresql://user:password@host/db`` is a shared PostgreSQL journal whose keys are
    filed under ``account`` (required: a ConfigurationError says how to name one), of
    ``merchant`` if known; anything else is the path of a SQLite file, its own scope
    (``account`` is not needed there). A journal object is returned as it is.
    """
    if isinstance(spec, WriteJournal):
        mine = getattr(spec, "account", None)
        if account is not None and mine is not None and normal_account(account) != mine:
            raise ConfigurationError(
                f"account {account!r} was given with a journal of account {mine!r}"
            )
        return spec
    if is_database_url(spec):
        from .postgres import PgJournal

        if account is None:
            raise ConfigurationError(NEED_ACCOUNT)
        return PgJournal(str(spec), account=account, merchant=merchant, host=host)
    if isinstance(spec, str | Path):
        return Journal(spec)
    raise ConfigurationError(
        f"journal must be a path, a postgresql:// URL or a journal object, got {type(spec)!r}"
    )


class Journal:
    """A SQLite journal of keyed writes. Open it with ``async with Journal(path) as j:``.

    The synchronous methods (``entries``, ``resolve``, ...) are for tools and the CLI;
    batch operations use the ``a``-prefixed coroutines, which run on the journal's own
    thread.
    """

    lease_seconds: float = LEASE_SECONDS

    def __init__(self, path: str | Path) -> None:
        self._file = SqliteFile(path, SCHEMA, "journal", SCHEMA_VERSION)
        self.path = self._file.path

    def __repr__(self) -> str:
        return f"Journal({str(self.path)!r})"

    def describe(self) -> str:
        """The file's path."""
        return str(self.path)

    def new_run(self) -> RunInfo:
        """A new run of this process."""
        return RunInfo.current()

    def _open(self) -> sqlite3.Connection:
        return self._file.db()

    def _run(self, fn: Callable[[], T]) -> T:
        return self._file.run(fn)

    async def _arun(self, fn: Callable[[], T]) -> T:
        return await self._file.arun(fn)

    def open(self) -> Journal:
        """Open (and create if needed) the journal file."""
        self._run(self._open)
        return self

    def close(self) -> None:
        """Close the file and the journal's thread."""
        self._file.close()

    def __enter__(self) -> Journal:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Journal:
        await self._arun(self._open)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._file.aclose()

    # -- the write protocol (coroutines, for batches) -----------------------------

    async def aget(self, key: str) -> Entry | None:
        """The entry for ``key``, if any."""
        return await self._arun(lambda: self._get(key))

    async def asettled(self, key: str) -> bool:
        """True if ``key`` is already applied or ambiguous (a hint; the claim decides)."""
        entry = await self.aget(key)
        return entry is not None and entry.status in ("applied", "ambiguous")

    async def astart_run(self, run: RunInfo) -> None:
        """Register ``run`` with a fresh lease (renew it with :meth:`arenew_run`).

        Runs found dead on the way (lease expired, or process gone on this host) are
        ended: their ``pending`` keys become ``ambiguous``, as after ``kill -9``.
        """

        def write() -> None:
            db = self._open()
            db.execute("BEGIN IMMEDIATE")
            try:
                self._bury_dead(db, time.time())
                db.execute(
                    "INSERT OR REPLACE INTO runs (run, pid, host, started_at, lease_until, ended)"
                    " VALUES (?, ?, ?, ?, ?, 0)",
                    (
                        run.run,
                        run.pid,
                        run.host,
                        run.started_at,
                        time.time() + self.lease_seconds,
                    ),
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

        await self._arun(write)

    async def aend_dead_runs(self) -> None:
        """End the runs found dead (lease expired, or process gone on this host), as the
        next run's start does: their ``pending`` keys become ``ambiguous``. A live run's
        keys stay ``pending``. For tools that read the journal (``journal list``)."""

        def write() -> None:
            db = self._open()
            db.execute("BEGIN IMMEDIATE")
            try:
                self._bury_dead(db, time.time())
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

        await self._arun(write)

    def _bury_dead(self, db: sqlite3.Connection, now: float) -> None:
        why = "interrupted after the request may have been sent (its run ended or died)"
        rows = db.execute(
            "SELECT run, pid, host, started_at, lease_until FROM runs WHERE ended = 0"
        ).fetchall()
        for row in rows:
            info = RunInfo(str(row[0]), int(row[1]), str(row[2]), float(row[3]))
            if not info.may_be_alive(float(row[4]), now):
                db.execute(
                    "UPDATE writes SET status = 'ambiguous', error = ?, updated_at = ?"
                    " WHERE status = 'pending' AND run = ?",
                    (why, now, info.run),
                )
                db.execute("UPDATE runs SET ended = 1, lease_until = 0 WHERE run = ?", (info.run,))
        # Pending keys of runs the table does not know: written before leases.
        db.execute(
            "UPDATE writes SET status = 'ambiguous', error = ?, updated_at = ?"
            " WHERE status = 'pending' AND (run IS NULL OR run NOT IN (SELECT run FROM runs))",
            (why, now),
        )

    async def arenew_run(self, run: RunInfo) -> None:
        """Extend ``run``'s lease by :attr:`lease_seconds` from now.

        A run another took for dead (its lease lapsed while it was stopped) is alive again:
        its keys already made ``ambiguous`` stay so until it records their outcome.
        """
        await self._arun(
            lambda: self._open().execute(
                "UPDATE runs SET lease_until = ?, ended = 0 WHERE run = ?",
                (time.time() + self.lease_seconds, run.run),
            )
        )

    async def aend_run(self, run: RunInfo) -> None:
        """End ``run``: its keys still ``pending`` (cut off mid-send) become ambiguous."""

        def write() -> None:
            db = self._open()
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute(
                    "UPDATE writes SET status = 'ambiguous', error = ?, updated_at = ?"
                    " WHERE run = ? AND status = 'pending'",
                    ("interrupted after the request may have been sent", time.time(), run.run),
                )
                db.execute("UPDATE runs SET ended = 1, lease_until = 0 WHERE run = ?", (run.run,))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

        await self._arun(write)

    async def aclaim(
        self, key: str, operation: str, request: dict[str, Any], run: RunInfo
    ) -> Claim:
        """Check ``key`` and, if it may be sent, record the intent under ``run``: atomically.

        One ``BEGIN IMMEDIATE`` transaction: no other run (thread or process) can claim the
        key between the check and the intent. A ``pending`` key of a run that is gone
        becomes ``ambiguous`` here; one of a live run is ``held``.
        """
        payload = json.dumps(request, sort_keys=True, separators=(",", ":"))
        normal = json.loads(payload)

        def claim() -> Claim:
            db = self._open()
            # A key already settled (applied, ambiguous, another request) or held by a live
            # run is answered from a plain read: those verdicts only ever lead to sending
            # nothing, so no lock is needed, and two overlapping runs (or a rerun of a done
            # journal) do not queue on the write lock for them.
            settled, _ = self._verdict(db, key, normal, run)
            if settled is not None:
                return settled
            db.execute("BEGIN IMMEDIATE")
            try:
                result = self._claim(db, key, operation, payload, normal, run)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            return result

        return await self._arun(claim)

    def _verdict(
        self, db: sqlite3.Connection, key: str, normal: Any, run: RunInfo
    ) -> tuple[Claim | None, Entry | None]:
        """What to answer without writing, or None (with the entry) if a write decides."""
        entry = self._get(key)
        if entry is None:
            return None, None
        if entry.request != normal:
            return Claim("conflict", entry), entry
        if entry.status == "applied":
            return Claim("applied", entry), entry
        if entry.status == "ambiguous":
            return Claim("ambiguous", entry, why=entry.error), entry
        if entry.status == "pending" and entry.run != run.run:
            holder = self._live_run(db, entry.run, time.time())
            if holder is not None:
                return Claim("held", entry, holder), entry
        return None, entry

    def _claim(
        self,
        db: sqlite3.Connection,
        key: str,
        operation: str,
        payload: str,
        normal: Any,
        run: RunInfo,
    ) -> Claim:
        settled, entry = self._verdict(db, key, normal, run)  # again, now under the lock
        if settled is not None:
            return settled
        now = time.time()
        if entry is not None and entry.status == "pending" and entry.run != run.run:
            why = "interrupted after the request may have been sent (its run ended or died)"
            db.execute(
                "UPDATE writes SET status = 'ambiguous', error = ?, updated_at = ? WHERE key = ?",
                (why, now, key),
            )
            return Claim("ambiguous", entry, why=why)
        db.execute(
            "INSERT INTO writes (key, operation, request, status, attempts, run, updated_at)"
            " VALUES (?, ?, ?, 'pending', 1, ?, ?)"
            " ON CONFLICT(key) DO UPDATE SET status='pending', error=NULL,"
            " attempts=attempts+1, run=excluded.run, updated_at=excluded.updated_at",
            (key, operation, payload, run.run, now),
        )
        return Claim("claimed", entry)

    def _live_run(self, db: sqlite3.Connection, run: str | None, now: float) -> RunInfo | None:
        row = db.execute(
            "SELECT run, pid, host, started_at, lease_until, ended FROM runs WHERE run = ?",
            (run,),
        ).fetchone()
        if row is None or row[5]:
            return None  # unknown (a journal from before leases) or ended: not alive
        info = RunInfo(str(row[0]), int(row[1]), str(row[2]), float(row[3]))
        return info if info.may_be_alive(float(row[4]), now) else None

    async def abegin(self, key: str, operation: str, request: dict[str, Any], run: str) -> None:
        """Record the intent to send ``request`` under ``key`` (committed before sending).

        Unconditional: batches use :meth:`aclaim`, which checks and records atomically.
        """
        payload = json.dumps(request, sort_keys=True, separators=(",", ":"))

        def write() -> None:
            db = self._open()
            db.execute(
                "INSERT INTO writes (key, operation, request, status, attempts, run, updated_at)"
                " VALUES (?, ?, ?, 'pending', 1, ?, ?)"
                " ON CONFLICT(key) DO UPDATE SET status='pending', error=NULL,"
                " attempts=attempts+1, run=excluded.run, updated_at=excluded.updated_at",
                (key, operation, payload, run, time.time()),
            )

        await self._arun(write)

    async def afinish(
        self,
        key: str,
        status: EntryStatus,
        *,
        result_id: int | None = None,
        error: str | None = None,
        run: RunInfo | None = None,
    ) -> bool:
        """Record the outcome of the write under ``key``.

        With ``run``, only while the key is still that run's claim: if another run has
        claimed it since (after a person resolved it), its row is left alone and this
        returns False.
        """
        return await self._arun(lambda: self._set(key, status, result_id, error, run))

    # -- reading and resolving --------------------------------------------------------

    async def aentries(self, status: EntryStatus | None = None) -> list[Entry]:
        """Entries in key order, optionally only those with ``status``."""
        return await self._arun(lambda: list(self._read_entries(status)))

    async def acounts(self) -> dict[str, int]:
        """How many entries have each status."""
        return await self._arun(self._counts)

    async def aresolve(
        self, key: str, *, applied: bool, result_id: int | None = None, note: str | None = None
    ) -> None:
        """:meth:`resolve`, from async code."""
        await self._arun(lambda: self._resolve_now(key, applied, result_id, note))

    def _get(self, key: str) -> Entry | None:
        row = (
            self._open()
            .execute(
                "SELECT key, operation, request, status, result_id, error, attempts, run,"
                " updated_at FROM writes WHERE key = ?",
                (key,),
            )
            .fetchone()
        )
        return None if row is None else _entry(row)

    def _set(
        self,
        key: str,
        status: EntryStatus,
        result_id: int | None,
        error: str | None,
        run: RunInfo | None = None,
    ) -> bool:
        if status not in STATUSES:
            raise ConfigurationError(f"unknown journal status {status!r}")
        sql = (
            "UPDATE writes SET status = ?, result_id = COALESCE(?, result_id), error = ?,"
            " updated_at = ? WHERE key = ?"
        )
        args: tuple[object, ...] = (status, result_id, error, time.time(), key)
        if run is not None:
            sql += " AND run = ?"
            args += (run.run,)
        cur = self._open().execute(sql, args)
        if cur.rowcount == 0 and run is None:
            raise ConfigurationError(f"no journal entry for key {key!r}")
        return cur.rowcount > 0

    def get(self, key: str) -> Entry | None:
        """The entry for ``key``, if any."""
        return self._run(lambda: self._get(key))

    def _read_entries(self, status: EntryStatus | None) -> list[Entry]:
        sql = (
            "SELECT key, operation, request, status, result_id, error, attempts, run,"
            " updated_at FROM writes"
        )
        args: tuple[object, ...] = ()
        if status is not None:
            sql += " WHERE status = ?"
            args = (status,)
        return [_entry(r) for r in self._open().execute(sql + " ORDER BY key", args)]

    def entries(self, status: EntryStatus | None = None) -> Iterator[Entry]:
        """Entries in key order, optionally only those with ``status``."""
        yield from self._run(lambda: self._read_entries(status))

    def _counts(self) -> dict[str, int]:
        rows = self._open().execute("SELECT status, COUNT(*) FROM writes GROUP BY status")
        return {status: 0 for status in STATUSES} | {s: n for s, n in rows.fetchall()}

    def counts(self) -> dict[str, int]:
        """How many entries have each status."""
        return self._run(self._counts)

    def resolve(
        self, key: str, *, applied: bool, result_id: int | None = None, note: str | None = None
    ) -> None:
        """Settle an ambiguous (or pending) entry after checking the server.

        ``applied=True`` marks it applied (a rerun will skip it); ``applied=False`` marks it
        failed (a rerun will send it again). Only do the latter when you know the server
        did not apply it.
        """
        self._run(lambda: self._resolve_now(key, applied, result_id, note))

    def _resolve_now(
        self, key: str, applied: bool, result_id: int | None, note: str | None
    ) -> None:
        status: EntryStatus = "applied" if applied else "failed"
        reason = note or ("resolved: applied" if applied else "resolved: not applied")
        db = self._open()
        db.execute("BEGIN IMMEDIATE")
        try:
            self._resolve(db, key, status, result_id, None if applied else reason)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _resolve(
        self,
        db: sqlite3.Connection,
        key: str,
        status: EntryStatus,
        result_id: int | None,
        error: str | None,
    ) -> None:
        entry = self._get(key)
        if entry is None:
            raise ConfigurationError(f"no journal entry for key {key!r}")
        if entry.status not in ("ambiguous", "pending"):
            raise ConfigurationError(
                f"key {key!r} is {entry.status}, not ambiguous; nothing to resolve"
            )
        if entry.status == "pending":
            # Its request may be in flight now: only its own run may settle it.
            holder = self._live_run(db, entry.run, time.time())
            if holder is not None:
                raise ConfigurationError(
                    f"key {key!r} is being sent by a live run ({holder.describe()}); "
                    "wait for it to end"
                )
        self._set(key, status, result_id, error)


def _entry(row: tuple[Any, ...]) -> Entry:
    key, operation, request, status, result_id, error, attempts, run, updated_at = row
    return Entry(
        key, operation, json.loads(request), status, result_id, error, attempts, run, updated_at
    )
