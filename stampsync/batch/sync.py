"""Customer sync to Stamped.io: send only what changed since the last run.

Each input row (email, names, external id, tags, and an optional ``subscribed`` column)
is normalised and hashed. A state file remembers the hash last sent per email, so a
rerun upserts only rows whose hash changed: API calls grow with the changes, not with
the file. A row's hash is stored only after the server accepted it, so a failed row is
sent again next time.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import time
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
)
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import anyio

from .._engine._runs import exclusive
from .._engine._sqlite import SqliteFile
from .._engine.fanout import StopEvent, _aiter, fan_out
from .._engine.writes import BREAKER_THRESHOLD, RunEnding, hopeless
from .._validate import email as check_email
from ..errors import ConfigurationError, StampsyncError

if TYPE_CHECKING:
    from ..stamped.client import StampedClient

SyncStatus = Literal["sent", "unchanged", "would_send", "failed"]

STATE_SCHEMA = """
CREATE TABLE IF NOT EXISTS synced (
    email TEXT PRIMARY KEY,
    hash TEXT NOT NULL,
    updated_at REAL NOT NULL
);
"""

_ALIASES = {
    "email": "email",
    "first_name": "first_name",
    "firstname": "first_name",
    "last_name": "last_name",
    "lastname": "last_name",
    "customer_id": "customer_id",
    "customerid": "customer_id",
    "tags": "tags",
    "subscribed": "subscribed",
}
_TRUE = {"1", "true", "yes", "y", "subscribed"}
_FALSE = {"0", "false", "no", "n", "unsubscribed"}


@dataclass(frozen=True, slots=True)
class SyncOutcome:
    """What happened to one input row."""

    email: str
    status: SyncStatus
    error: str | None = None
    row: int | None = None
    """The row's line in the input file (the CLI's readers say), else its position."""

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "email": self.email, "status": self.status, "error": self.error}


#: The key under which a reader gives a row's line in its file; it is not a column.
LINE_KEY = "__line__"


@dataclass
class SyncReport(RunEnding):
    """Counts of a sync, and its outcomes when kept."""

    counts: dict[str, int] = field(
        default_factory=lambda: {"sent": 0, "unchanged": 0, "would_send": 0, "failed": 0}
    )
    outcomes: list[SyncOutcome] = field(default_factory=list)
    requests: int = 0
    """Writes sent (upserts and subscription choices); the credentials check is not one."""
    stopped: str | None = None
    """Why the run stopped early (credentials refused, server unreachable); rows not
    tried are left for the next run."""
    interrupted: bool = False
    """True if the sync was stopped (``stop`` set) before every row was taken."""
    interrupted_by: int | None = None
    """The signal number that stopped it, if the caller says (the CLI does)."""

    def __iter__(self) -> Iterator[SyncOutcome]:
        return iter(self.outcomes)


@dataclass(frozen=True, slots=True)
class CustomerRow:
    """A normalised input row."""

    email: str
    fields: dict[str, Any]
    subscribed: bool | None

    def digest(self) -> str:
        payload = json.dumps([self.fields, self.subscribed], sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def canonical_column(name: str) -> str:
    """The field a column or JSON key names (``First Name`` -> ``first_name``); else itself."""
    return _ALIASES.get(name.strip().lower().replace(" ", "_"), name)


def normalise(raw: dict[str, Any]) -> CustomerRow:
    """Check and normalise one row; a ConfigurationError names what is wrong."""
    row = _columns(raw)
    _check_columns(row)
    email = check_email(str(row.get("email") or "").strip(), "email").lower()
    return CustomerRow(email, _fields(row), _subscribed(row.get("subscribed")))


def _columns(raw: dict[str, Any]) -> dict[str, Any]:
    """The row's values by canonical column (the reader's line number left out)."""
    if "__error__" in raw:
        raise ConfigurationError(str(raw["__error__"]))
    row: dict[str, Any] = {}
    given: dict[str, str] = {}
    for key, value in raw.items():
        if key == LINE_KEY:
            continue
        name = canonical_column(key)
        if name in row:
            # "firstname" and "first_name" both given: which one to send would be a guess.
            raise ConfigurationError(f"{name} is given twice (as {given[name]!r} and {key!r})")
        row[name], given[name] = value, key
    return row


def _check_columns(row: dict[str, Any]) -> None:
    """Refuse text that cannot be sent and columns that are not known."""
    for name, value in row.items():
        if isinstance(value, str) and not _encodable(value):
            raise ConfigurationError(
                f"{name} is not valid Unicode text (it holds a lone surrogate, such as a "
                "JSON \\ud800 escape without its pair)"
            )
    unknown = sorted(k for k in row if k not in _ALIASES.values())
    if unknown:
        raise ConfigurationError(f"unknown column(s): {', '.join(unknown)}")


def _fields(row: dict[str, Any]) -> dict[str, Any]:
    """The upsert's fields: names and customer id trimmed, blanks left out, tags sorted."""
    fields: dict[str, Any] = {}
    for name in ("first_name", "last_name", "customer_id"):
        value = row.get(name)
        if value not in (None, ""):
            fields[name] = str(value).strip()
    tags = row.get("tags")
    if isinstance(tags, str) and tags.strip():
        fields["tags"] = sorted({t.strip() for t in tags.replace(",", ";").split(";") if t.strip()})
    elif isinstance(tags, list):
        fields["tags"] = sorted({str(t) for t in tags})
    return fields


def _subscribed(sub: Any) -> bool | None:
    """The subscription choice: None (blank or absent) leaves it as it is."""
    if sub is None or (isinstance(sub, str) and not sub.strip()):
        return None
    if isinstance(sub, bool):
        return sub
    if str(sub).strip().lower() in _TRUE:
        return True
    if str(sub).strip().lower() in _FALSE:
        return False
    raise ConfigurationError(f"subscribed must be yes/no/true/false/1/0, got {sub!r}")


async def sync_customers(
    client: StampedClient,
    rows: Iterable[dict[str, Any]] | AsyncIterable[dict[str, Any]],
    *,
    state: str | Path,
    dry_run: bool = False,
    on_outcome: Callable[[SyncOutcome], Awaitable[None] | None] | None = None,
    keep_outcomes: bool = True,
    stop: StopEvent | None = None,
) -> SyncReport:
    """Upsert changed customers and apply their subscription choice.

    ``rows`` are dicts with ``email`` and any of ``first_name``, ``last_name``,
    ``customer_id``, ``tags`` (``a;b``), ``subscribed`` (yes/no; blank leaves it).
    With ``dry_run`` nothing is sent and the state is not changed: outcomes say
    ``would_send`` or ``unchanged``.

    Before the first write a cheap authenticated read checks the credentials and the
    connection; when they are refused or unreachable, or after a short run of such
    failures, the sync stops (:attr:`SyncReport.stopped`) and rows not tried are left.
    Setting ``stop`` takes no new rows (those in hand finish) and marks the report
    :attr:`~SyncReport.interrupted`.

    One sync at a time per state file: a second raises
    :class:`~stampsync.errors.ConcurrentRunError` naming the first, before sending.
    """
    report = SyncReport()
    halt = anyio.Event()
    streak = 0  # credential or connection failures in a row: the circuit breaker
    store = SqliteFile(state, STATE_SCHEMA, "sync state")  # its thread starts on first use
    seen: set[str] = set()

    async def emit(outcome: SyncOutcome) -> None:
        report.counts[outcome.status] += 1
        if keep_outcomes:
            report.outcomes.append(outcome)
        if on_outcome is not None:
            result = on_outcome(outcome)
            if inspect.isawaitable(result):
                await result

    def stored_hash(email: str) -> str | None:
        row = store.db().execute("SELECT hash FROM synced WHERE email = ?", (email,)).fetchone()
        return None if row is None else str(row[0])

    def save_hash(email: str, digest: str) -> None:
        store.db().execute(
            "INSERT INTO synced (email, hash, updated_at) VALUES (?, ?, ?) ON CONFLICT(email)"
            " DO UPDATE SET hash = excluded.hash, updated_at = excluded.updated_at",
            (email, digest, time.time()),
        )

    checking = anyio.Lock()
    check: list[bool] = []  # empty until the preflight ran; then its verdict

    async def checked_first() -> bool:
        # A cheap authenticated read before the first write: a refused key or an
        # unreachable server then stops the run after one request, not after a streak
        # of refused writes (an API may lock a key that keeps failing). Not before the
        # run: a rerun with nothing changed sends nothing at all.
        if check:
            return check[0]
        async with checking:
            if not check:
                try:
                    await client.customers.list(page=1, limit=1)
                except StampsyncError as exc:
                    why = hopeless(exc)
                    if why is not None and report.stopped is None:
                        report.stopped = why
                        halt.set()
                check.append(report.stopped is None)
        return check[0]

    async def one(item: tuple[int, dict[str, Any]]) -> None:
        position, raw = item
        line = raw.get(LINE_KEY)
        number = line if isinstance(line, int) else position

        def outcome(email: str, status: SyncStatus, error: str | None = None) -> SyncOutcome:
            return SyncOutcome(email, status, error, number)

        label = str(raw.get("email") or "").strip() or "<no email>"
        try:
            row = normalise(raw)
        except ConfigurationError as exc:
            await emit(outcome(label, "failed", str(exc)))
            return
        if row.email in seen:
            await emit(outcome(row.email, "failed", "duplicate email in this input"))
            return
        seen.add(row.email)
        digest = row.digest()
        if await store.arun(lambda: stored_hash(row.email)) == digest:
            await emit(outcome(row.email, "unchanged"))
            return
        if dry_run:
            await emit(outcome(row.email, "would_send"))
            return
        if not await checked_first():
            await emit(outcome(row.email, "failed", f"not sent: {report.stopped}"))
            return
        try:
            await client.customers.upsert(email=row.email, **row.fields)
            report.requests += 1
            if row.subscribed is True:
                await client.subscriptions.subscribe(email=row.email)
                report.requests += 1
            elif row.subscribed is False:
                await client.subscriptions.unsubscribe(email=row.email)
                report.requests += 1
        except StampsyncError as exc:
            why = hopeless(exc)
            nonlocal streak
            streak = streak + 1 if why else 0
            if why and streak >= BREAKER_THRESHOLD and report.stopped is None:
                report.stopped = why
                halt.set()
            await emit(outcome(row.email, "failed", str(exc)))
            return
        streak = 0
        await store.arun(lambda: save_hash(row.email, digest))
        await emit(outcome(row.email, "sent"))

    with exclusive(Path(state), "sync state"):
        try:
            await store.arun(store.db)
            async with anyio.create_task_group() as tg:
                if stop is not None:
                    tg.start_soon(_relay, stop, halt)
                finished = await fan_out(
                    _numbered(rows), one, concurrency=client.concurrent_batch_executions, stop=halt
                )
                tg.cancel_scope.cancel()
        finally:
            await store.aclose()
    report.interrupted = (
        stop is not None and stop.is_set() and not finished and report.stopped is None
    )
    return report


async def _numbered(
    rows: Iterable[dict[str, Any]] | AsyncIterable[dict[str, Any]],
) -> AsyncIterator[tuple[int, dict[str, Any]]]:
    position = 0
    async for raw in _aiter(rows):
        position += 1
        yield position, raw


async def _relay(stop: StopEvent, halt: anyio.Event) -> None:
    await stop.wait()
    halt.set()
