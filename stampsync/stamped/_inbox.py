"""A durable webhook inbox on SQLite: store each push once, act on it once.

``accept`` verifies and parses a push and stores it under its stable key in one
transaction, so a receiver answers 2xx only once the event is on disk; a redelivery
(the same key) is stored nothing and says so. ``handle`` runs a handler for each stored
event not yet done, one at a time: an event is claimed with a lease before its handler
runs and marked done when the handler returns, so a receiver that restarts, or a second
process on the same file, does not act on it again. A handler that raises is retried
with a growing delay, then parked as failed with its error; ``failed`` lists those and
``replay`` queues one again.

Its limits: one machine (the file is SQLite's); a handler that runs longer than the
lease may be started again by another process, so keep handlers shorter than it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Self

from .._engine._sqlite import SqliteFile
from .._engine.journal import is_database_url
from .._validate import positive, positive_seconds
from ..errors import ConfigurationError

if TYPE_CHECKING:
    from ._pg_inbox import PgInbox
    from .webhooks import WebhookEvent

    Handler = Callable[[WebhookEvent], Awaitable[None]]
    """An event's handler: an ``async`` function of the event."""

# ``webhooks`` re-exports this module's names, so this module imports it only when called:
# either may be imported first.

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    key TEXT PRIMARY KEY,
    topic TEXT NOT NULL,
    body BLOB NOT NULL,
    store_url TEXT,
    shop_id TEXT,
    received_at REAL NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_at REAL NOT NULL,
    lease_until REAL,
    claimed_by TEXT,
    error TEXT,
    done_at REAL
);
CREATE INDEX IF NOT EXISTS events_due ON events (status, next_at);
"""

#: The longest wait before a failed handler is tried again.
MAX_RETRY_DELAY = 300.0

InboxStatus = Literal["new", "running", "done", "failed"]


@dataclass(frozen=True, slots=True)
class Accepted:
    """What :meth:`Inbox.accept` did: the event, and whether it was new (stored now)."""

    event: WebhookEvent
    new: bool


@dataclass(frozen=True, slots=True)
class InboxEntry:
    """A stored event as the inbox lists it (its body is not repeated here)."""

    key: str
    topic: str
    status: InboxStatus
    attempts: int
    received_at: float
    error: str | None


@dataclass(frozen=True, slots=True)
class HandleReport:
    """What one :meth:`Inbox.handle` pass did: events done, retried later, parked."""

    done: int = 0
    retried: int = 0
    failed: int = 0


class InboxRules:
    """What every inbox checks and decides the same way, whatever it stores events in."""

    def __init__(
        self, secret: str | None, max_attempts: int, retry_seconds: float, lease_seconds: float
    ) -> None:
        self._max_attempts = positive(max_attempts, "max_attempts")
        if secret is not None and (not isinstance(secret, str) or not secret):
            raise ConfigurationError("the webhook secret must be a non-empty string")
        self._secret = secret
        self._retry = positive_seconds(retry_seconds, "retry_seconds")
        self._lease = positive_seconds(lease_seconds, "lease_seconds")
        self._me = uuid.uuid4().hex

    async def aclose(self) -> None:
        """Close what the inbox holds open."""
        raise NotImplementedError

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _verified(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        from .webhooks import parse_event

        return parse_event(headers, body, secret=self._secret)

    @staticmethod
    def _stored(
        topic: str, body: bytes, store_url: str | None, shop_id: str | None
    ) -> WebhookEvent:
        """A stored event as its handler sees it (its secret was checked when accepted)."""
        from .webhooks import parse_event

        headers = {"x-stamped-topic": topic}
        if store_url is not None:
            headers["x-stamped-store-url"] = store_url
        if shop_id is not None:
            headers["x-shopify-shop-id"] = shop_id
        return parse_event(headers, body, secret=None)

    def _after_failure(self, attempts: int) -> tuple[Literal["new", "failed"], float]:
        """A failed try's next status, and the seconds until the next try."""
        if attempts >= self._max_attempts:
            return "failed", 0.0
        return "new", min(MAX_RETRY_DELAY, self._retry * 2 ** (attempts - 1))

    @staticmethod
    def _error_text(exc: BaseException) -> str:
        return f"{type(exc).__name__}: {exc}"[:1000]


class Inbox(InboxRules):
    """A durable inbox of Stamped.io webhook events in a SQLite file.

    Args:
        path: the SQLite file (created 0600 if missing).
        secret: the dashboard's shared secret, checked on every push (``None`` skips the
            check: only behind another authentication).
        max_attempts: tries of a handler before its event is parked as failed.
        retry_seconds: the first retry's delay; it doubles with each try (capped at
            :data:`MAX_RETRY_DELAY`).
        lease_seconds: how long a claimed event is its process's; after that another
            process may run it (a process that died while handling it).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        secret: str | None,
        max_attempts: int = 5,
        retry_seconds: float = 1.0,
        lease_seconds: float = 300.0,
    ) -> None:
        super().__init__(secret, max_attempts, retry_seconds, lease_seconds)
        self._file = SqliteFile(path, _SCHEMA, "webhook inbox")
        self.path = self._file.path

    def __repr__(self) -> str:
        return f"Inbox({str(self.path)!r})"  # never the secret

    async def __aenter__(self) -> Self:
        await self._file.arun(self._file.db)
        return self

    async def aclose(self) -> None:
        """Close the file."""
        await self._file.aclose()

    async def accept(self, headers: Mapping[str, str], body: bytes) -> Accepted:
        """Verify and parse one push, and store it under its key unless it is stored.

        Answer the sender 2xx only after this returns: the event is then on disk.

        Raises:
            WebhookError: the secret does not match (``status`` 401) or the body is not
                a JSON object (400); nothing is stored.
        """
        event = self._verified(headers, body)
        now = time.time()

        def store() -> bool:
            cursor = self._file.db().execute(
                "INSERT OR IGNORE INTO events (key, topic, body, store_url, shop_id,"
                " received_at, status, attempts, next_at) VALUES (?, ?, ?, ?, ?, ?, 'new', 0, ?)",
                (event.key, event.topic, body, event.store_url, event.shop_id, now, now),
            )
            return cursor.rowcount == 1

        return Accepted(event, await self._file.arun(store))

    async def handle(self, handler: Handler, *, limit: int | None = None) -> HandleReport:
        """Run ``handler`` once for each event that is due (new, or due for a retry),
        oldest first, one at a time; at most ``limit`` events. Returns the counts.

        An event is claimed before its handler runs and marked done when it returns, so
        no event is handled to completion twice while handlers finish within the lease.
        """
        done = retried = failed = 0
        while limit is None or done + retried + failed < limit:
            claimed = await self._file.arun(self._claim)
            if claimed is None:
                break
            key, topic, body, store_url, shop_id, attempts = claimed
            event = self._stored(topic, body, store_url, shop_id)
            try:
                await handler(event)
            except Exception as exc:
                parked = await self._file.arun(partial(self._failed, key, attempts + 1, exc))
                failed += parked
                retried += not parked
            else:
                await self._file.arun(partial(self._done, key))
                done += 1
        return HandleReport(done, retried, failed)

    def _claim(self) -> tuple[str, str, bytes, str | None, str | None, int] | None:
        now = time.time()
        row = (
            self._file.db()
            .execute(
                "UPDATE events SET status = 'running', lease_until = ?, claimed_by = ?"
                " WHERE key = (SELECT key FROM events WHERE (status = 'new' AND next_at <= ?)"
                " OR (status = 'running' AND lease_until < ?) ORDER BY received_at LIMIT 1)"
                " RETURNING key, topic, body, store_url, shop_id, attempts",
                (now + self._lease, self._me, now, now),
            )
            .fetchone()
        )
        if row is None:
            return None
        return row[0], row[1], bytes(row[2]), row[3], row[4], int(row[5])

    def _done(self, key: str) -> None:
        self._file.db().execute(
            "UPDATE events SET status = 'done', done_at = ?, error = NULL, lease_until = NULL"
            " WHERE key = ? AND claimed_by = ?",
            (time.time(), key, self._me),
        )

    def _failed(self, key: str, attempts: int, exc: Exception) -> bool:
        """Record a handler's failure: retried later, or parked (True) after the last try."""
        error = self._error_text(exc)
        status, delay = self._after_failure(attempts)
        next_at = time.time() + delay
        self._file.db().execute(
            "UPDATE events SET status = ?, attempts = ?, error = ?, next_at = ?,"
            " lease_until = NULL WHERE key = ? AND claimed_by = ?",
            (status, attempts, error, next_at, key, self._me),
        )
        return status == "failed"

    async def entries(self, status: InboxStatus | None = None) -> list[InboxEntry]:
        """The stored events (of one ``status``), oldest first."""

        def read() -> list[InboxEntry]:
            rows = self._file.db().execute(
                "SELECT key, topic, status, attempts, received_at, error FROM events"
                " WHERE ? IS NULL OR status = ? ORDER BY received_at",
                (status, status),
            )
            return [InboxEntry(*row) for row in rows]

        return await self._file.arun(read)

    async def failed(self) -> list[InboxEntry]:
        """The events whose handler failed on every try, with the last error."""
        return await self.entries("failed")

    async def replay(self, key: str) -> bool:
        """Queue the event ``key`` again (a failed one, or one done that must be redone):
        its tries start over. False if there is no such event, or it is queued or
        running already."""

        def again() -> bool:
            cursor = self._file.db().execute(
                "UPDATE events SET status = 'new', attempts = 0, next_at = ?, error = NULL"
                " WHERE key = ? AND status IN ('failed', 'done')",
                (time.time(), key),
            )
            return cursor.rowcount == 1

        return await self._file.arun(again)


def open_inbox(where: str | Path, *, secret: str | None, **settings: Any) -> Inbox | PgInbox:
    """The inbox ``where`` names: a ``postgresql://`` URL (:class:`PgInbox`, for many
    receivers) or a SQLite file's path (:class:`Inbox`). ``settings`` go to its class."""
    from ._pg_inbox import PgInbox

    if isinstance(where, str) and is_database_url(where):
        return PgInbox(where, secret=secret, **settings)
    return Inbox(where, secret=secret, **settings)


__all__ = [
    "Accepted",
    "HandleReport",
    "Inbox",
    "InboxEntry",
    "InboxStatus",
    "open_inbox",
]
