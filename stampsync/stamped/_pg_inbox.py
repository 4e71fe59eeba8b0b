"""A durable webhook inbox on PostgreSQL: many receivers, one event handled once.

The SQLite inbox's protocol (:mod:`stampsync.stamped._inbox`) for receivers on several
processes or machines sharing one database (the journal's, say):

- ``accept`` stores a push under its key in one statement (``ON CONFLICT DO NOTHING``),
  so of two receivers given the same push, one stores it and the other is told it was
  stored already;
- ``handle`` takes a due event with ``SELECT ... FOR UPDATE SKIP LOCKED`` inside a
  transaction, runs the handler while that transaction holds the row, and marks the event
  done in the same transaction. Another receiver skips a held row. A receiver that dies
  (SIGKILL, a lost host) takes its transaction with it: the row is free again as soon as
  the server hears of it, and the event runs elsewhere; nothing of the dead try stays.
- a handler's own writes made through :func:`handler_connection` commit in that same
  transaction: such a handler runs **exactly once to completion**, whatever dies when.
  A handler with effects elsewhere (an API call) runs at least once, and again only if
  its receiver dies, or loses the database, between the handler's return and the commit
  (one round trip).

Its limits: a handler holds a pooled connection while it runs, and must finish within
``lease_seconds``: past it, it is cancelled and counted as a failed try (and a receiver
that froze has its transaction ended by the server 10 s later, its event free again). A
receiver that dies while handling an event does not count that try. The database's
clock times retries. Tasks a handler starts must not use :func:`handler_connection`
after the handler returns.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Mapping
from functools import partial
from typing import TYPE_CHECKING, Any, Literal, Self

from .._engine.journal import is_database_url
from .._engine.postgres import PgDatabase
from ..errors import ConfigurationError
from ._inbox import Accepted, HandleReport, InboxEntry, InboxRules, InboxStatus

if TYPE_CHECKING:
    import asyncpg

    from ._inbox import Handler

_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS stampsync_webhook_events (
        key TEXT PRIMARY KEY,
        topic TEXT NOT NULL,
        body BYTEA NOT NULL,
        store_url TEXT,
        shop_id TEXT,
        received_at DOUBLE PRECISION NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('new', 'done', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_at DOUBLE PRECISION NOT NULL,
        error TEXT,
        done_at DOUBLE PRECISION,
        handled_by TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS stampsync_webhook_events_due"
    " ON stampsync_webhook_events (received_at) WHERE status = 'new'",
]

#: Serialises the inbox's table creation across the receivers starting together.
_SCHEMA_LOCK = 0x5354_5748  # "STWH"

#: Seconds ``accept`` waits for a database that went away before it gives up (a 503).
ACCEPT_PATIENCE = 5.0

#: Seconds past a handler's deadline before the server itself ends its transaction.
_BACKSTOP_SECONDS = 10.0

_connection: contextvars.ContextVar[Any] = contextvars.ContextVar("stampsync_inbox_connection")


def handler_connection() -> asyncpg.Connection:
    """The connection of the transaction the running handler of a :class:`PgInbox` is in.

    Writes made through it commit with the event's done mark, or not at all: use it for
    a handler's own database effects, and the handler runs once to completion.

    Raises:
        ConfigurationError: called outside a handler that a :class:`PgInbox` runs.
    """
    con = _connection.get(None)
    if con is None:
        raise ConfigurationError("handler_connection() is only open inside a PgInbox handler")
    return con


async def _create_tables(db: PgDatabase, con: asyncpg.Connection) -> None:
    import asyncpg

    try:
        async with con.transaction():
            await con.execute("SELECT pg_advisory_xact_lock($1)", _SCHEMA_LOCK)
            for statement in _SCHEMA:
                await con.execute(statement)
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
        raise db.error(exc, "cannot create the inbox's table") from None


class PgInbox(InboxRules):
    """A durable inbox of Stamped.io webhook events in a PostgreSQL database, shared by
    any number of receivers. The same calls as :class:`Inbox`.

    Args:
        dsn: ``postgresql://user:password@host:port/dbname``; the table
            ``stampsync_webhook_events`` is created on first use.
        secret: the dashboard's shared secret, checked on every push (``None`` skips it).
        max_attempts: tries of a handler before its event is parked as failed.
        retry_seconds: the first retry's delay; it doubles with each try (capped).
        lease_seconds: the longest a handler may run: past it the handler is cancelled,
            its writes undone, and the try counted as failed.
        max_connections: the pool's size (each running handler holds one).
        outage_seconds: how long a call waits for a database that went away.
    """

    def __init__(
        self,
        dsn: str,
        *,
        secret: str | None,
        max_attempts: int = 5,
        retry_seconds: float = 1.0,
        lease_seconds: float = 30.0,
        max_connections: int = 4,
        outage_seconds: float = 60.0,
    ) -> None:
        super().__init__(secret, max_attempts, retry_seconds, lease_seconds)
        if not is_database_url(dsn):
            raise ConfigurationError("a PostgreSQL inbox needs a postgresql:// URL")
        self._db = PgDatabase(
            dsn,
            max_connections=max_connections,
            outage_seconds=outage_seconds,
            schema=_create_tables,
            label="webhook inbox database",
        )
        self.url = self._db.url
        """The database's URL without its password."""

    def __repr__(self) -> str:
        return f"PgInbox({self.url!r})"  # never the password or the secret

    async def __aenter__(self) -> Self:
        await self._db.open()
        return self

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._db.close()

    async def accept(self, headers: Mapping[str, str], body: bytes) -> Accepted:
        """Verify and parse one push, and store it under its key unless it is stored.

        Answer the sender 2xx only after this returns: the event is then committed.

        Raises:
            WebhookError: the secret does not match (401) or the body is not a JSON
                object (400); nothing is stored.
            JournalError: the database refused, or stayed away past
                :data:`ACCEPT_PATIENCE` (5 s): answer 503, the sender tries again.
        """
        event = self._verified(headers, body)

        async def store(con: asyncpg.Connection) -> bool:
            stored = await con.fetchval(
                "INSERT INTO stampsync_webhook_events (key, topic, body, store_url, shop_id,"
                " received_at, status, next_at) VALUES ($1, $2, $3, $4, $5,"
                " extract(epoch from clock_timestamp()), 'new',"
                " extract(epoch from clock_timestamp())) ON CONFLICT (key) DO NOTHING"
                " RETURNING true",
                event.key,
                event.topic,
                body,
                event.store_url,
                event.shop_id,
            )
            return stored is not None

        # A sender waits for its answer only so long: past this, the receiver answers 503
        # and the sender tries again later, rather than a timeout on its side.
        stored = await self._db.run(
            store, f"cannot store event {event.key!r}", patience=ACCEPT_PATIENCE
        )
        return Accepted(event, stored)

    async def handle(self, handler: Handler, *, limit: int | None = None) -> HandleReport:
        """Run ``handler`` for each due event, oldest first, one at a time (at most
        ``limit``), each inside the transaction that holds its row and marks it done.
        Returns the counts."""
        done = retried = failed = 0
        while limit is None or done + retried + failed < limit:
            outcome = await self._db.run(partial(self._handle_one, handler), "cannot handle")
            if outcome is None:
                break
            done += outcome == "done"
            retried += outcome == "retried"
            failed += outcome == "failed"
        return HandleReport(done, retried, failed)

    async def _handle_one(
        self, handler: Handler, con: asyncpg.Connection
    ) -> Literal["done", "retried", "failed"] | None:
        async with con.transaction():
            # The handler's deadline is enforced here (below); the server's backstop, a
            # little later, ends the transaction of a receiver that froze or vanished.
            await con.execute(
                "SELECT set_config('idle_in_transaction_session_timeout', $1, true)",
                str(int((self._lease + _BACKSTOP_SECONDS) * 1000)),
            )
            row = await con.fetchrow(
                "SELECT key, topic, body, store_url, shop_id, attempts"
                " FROM stampsync_webhook_events"
                " WHERE status = 'new' AND next_at <= extract(epoch from clock_timestamp())"
                " ORDER BY received_at, key LIMIT 1 FOR UPDATE SKIP LOCKED"
            )
            if row is None:
                return None
            key = row["key"]
            event = self._stored(row["topic"], bytes(row["body"]), row["store_url"], row["shop_id"])
            token = _connection.set(con)
            try:
                # A savepoint: a handler that raises leaves none of its writes behind.
                async with con.transaction(), asyncio.timeout(self._lease):
                    await handler(event)
            except Exception as exc:
                if con.is_closed():
                    raise  # the inbox's connection is gone: the event is free, tried anew
                if isinstance(exc, TimeoutError):
                    exc = TimeoutError(f"the handler ran past lease_seconds ({self._lease:g} s)")
                attempts = int(row["attempts"]) + 1
                status, delay = self._after_failure(attempts)
                await con.execute(
                    "UPDATE stampsync_webhook_events SET status = $2, attempts = $3,"
                    " error = $4, next_at = extract(epoch from clock_timestamp()) + $5,"
                    " handled_by = $6 WHERE key = $1",
                    key,
                    status,
                    attempts,
                    self._error_text(exc),
                    delay,
                    self._me,
                )
                return "failed" if status == "failed" else "retried"
            finally:
                _connection.reset(token)
            await con.execute(
                "UPDATE stampsync_webhook_events SET status = 'done', attempts = attempts + 1,"
                " error = NULL, done_at = extract(epoch from clock_timestamp()),"
                " handled_by = $2 WHERE key = $1",
                key,
                self._me,
            )
            return "done"

    async def entries(self, status: InboxStatus | None = None) -> list[InboxEntry]:
        """The stored events (of one ``status``), oldest first. An event whose handler is
        running is listed as ``new``."""

        async def read(con: asyncpg.Connection) -> list[InboxEntry]:
            rows = await con.fetch(
                "SELECT key, topic, status, attempts, received_at, error"
                " FROM stampsync_webhook_events WHERE $1::text IS NULL OR status = $1"
                " ORDER BY received_at, key",
                status,
            )
            return [InboxEntry(*row) for row in rows]

        return await self._db.run(read, "cannot list events")

    async def failed(self) -> list[InboxEntry]:
        """The events whose handler failed on every try, with the last error."""
        return await self.entries("failed")

    async def replay(self, key: str) -> bool:
        """Queue the event ``key`` again (failed, or done and to be redone): its tries
        start over. False if there is no such event, or it is queued already."""

        async def again(con: asyncpg.Connection) -> bool:
            result = await con.execute(
                "UPDATE stampsync_webhook_events SET status = 'new', attempts = 0,"
                " next_at = extract(epoch from clock_timestamp()), error = NULL"
                " WHERE key = $1 AND status IN ('failed', 'done')",
                key,
            )
            return bool(result == "UPDATE 1")

        return await self._db.run(again, f"cannot replay event {key!r}")


__all__ = ["PgInbox", "handler_connection"]
