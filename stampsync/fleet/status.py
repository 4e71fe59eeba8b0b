"""A fleet's progress, per store: the shared journal's outcomes and the queue's jobs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._engine.journal import STATUSES
from .._engine.postgres import PgDatabase, PgJournal
from .._engine.writes import Rejected, normal_key
from .._local_throttle import LocalThrottle
from ..batch.pos_rows import to_transaction

if TYPE_CHECKING:
    import asyncpg

    from .queue import JobRow

#: The per-store figures of :func:`fleet_overview`, in the order ``fleet status`` shows.
COLUMNS = (
    "applied",
    "failed",
    "ambiguous",
    "pending",
    "queued_jobs",
    "running_jobs",
    "stalled_jobs",
    "failed_jobs",
)


def eta_seconds(pending: int, applied_last_minute: int) -> float | None:
    """How long ``pending`` rows take at the rate of the last minute; None when nothing
    was applied in it (a store waiting for its quota, say)."""
    if pending <= 0:
        return 0.0
    if applied_last_minute <= 0:
        return None
    return pending * 60.0 / applied_last_minute


def store_eta(
    pending: int, applied_last_minute: int, *, limit: int, seconds: float
) -> tuple[float, str]:
    """How long a store's ``pending`` rows take, and from what: ``"rate"`` (the last
    minute's, :func:`eta_seconds`) or, with none applied in it, ``"plan"`` (the planner's
    estimate at the store's quota, ``limit`` per ``seconds``, less the interactive reserve)."""
    measured = eta_seconds(pending, applied_last_minute)
    if measured is not None:
        return measured, "rate"
    return LocalThrottle(limit, seconds).plan(pending).seconds, "plan"


@dataclass(frozen=True, slots=True)
class FailedJob:
    """A job the queue holds as failed: refused (its arguments are not an award job's)
    or failed before it ran (no credentials for its account). Its rows were not sent."""

    job_id: str
    account: str
    rows: int
    error: str


@dataclass(frozen=True, slots=True)
class FailedRow:
    """A row that failed, with its reason: from the journal (sent and refused, or not
    sent for a reason the row carries) or from the fleet (never reached the journal)."""

    account: str
    key: str
    reason: str
    row: int | None = None
    campaign: str | None = None


async def fleet_status(journal: str) -> dict[str, dict[str, int]]:
    """``{account: {status: count}}`` for every account of the PostgreSQL ``journal``."""
    async with PgJournal(journal, account=None) as every:
        return await every.acounts_by_account()


async def fleet_overview(
    journal: str, *, stalled_seconds: float = 30.0
) -> dict[str, dict[str, int]]:
    """Per store: rows applied, failed (in the journal or the fleet's list), ambiguous,
    pending (claimed now, or waiting in a queued or running job), its jobs queued,
    running, stalled (no heartbeat for ``stalled_seconds``: they run again) and failed,
    and ``applied_last_minute`` (its rate now: see :func:`eta_seconds`).

    Read in one snapshot, and each row counted once: a running job's rows that are
    already in the journal (or the fleet's failed list), or carried on by a queued
    child job, are not counted again as pending.
    """
    from .queue import ensure_queue_schema

    database = PgDatabase(journal, max_connections=2)
    await database.open()
    try:
        await database.run(ensure_queue_schema, "cannot create the job queue's tables")
        return await database.run(
            lambda con: _overview(con, stalled_seconds), "cannot read the fleet's progress"
        )
    finally:
        await database.close()


async def _overview(con: asyncpg.Connection, stalled_seconds: float) -> dict[str, dict[str, int]]:
    async with con.transaction(isolation="repeatable_read", readonly=True):
        counts = await con.fetch(
            "SELECT account, status, COUNT(*) AS n FROM stampsync_writes GROUP BY account, status"
        )
        fleet_failed = await con.fetch("SELECT campaign, account, row FROM stampsync_fleet_failed")
        jobs = await _queue_rows(con, stalled_seconds)
        # Which of the jobs' rows the journal holds already (claimed or settled).
        candidates = [(account, key) for account, _, _, rows in jobs for _, key in rows if key]
        journaled: set[tuple[str, str]] = set()
        if candidates:
            found = await con.fetch(
                "SELECT w.account, w.key FROM stampsync_writes w"
                " JOIN unnest($1::text[], $2::text[]) AS j(account, key)"
                " ON w.account = j.account AND w.key = j.key",
                [a for a, _ in candidates],
                [k for _, k in candidates],
            )
            journaled = {(r["account"], r["key"]) for r in found}
        recent = await _applied_last_minute(con)
    out: dict[str, dict[str, int]] = {}

    def of(account: str) -> dict[str, int]:
        return out.setdefault(account, dict.fromkeys(COLUMNS, 0))

    for r in counts:
        if r["status"] in STATUSES:
            of(r["account"])[r["status"]] += int(r["n"])
    failed_rows_seen = {(r["account"], r["campaign"], r["row"]) for r in fleet_failed}
    for r in fleet_failed:
        of(r["account"])["failed"] += 1
    waiting: set[tuple[str, str, int]] = set()
    for account, state, stalled, rows in jobs:
        entry = of(account)
        if state == "queued":
            entry["queued_jobs"] += 1
        elif state == "picked":
            entry["stalled_jobs" if stalled else "running_jobs"] += 1
        elif state == "failed":
            entry["failed_jobs"] += 1
            continue
        else:
            continue
        for (campaign, row), key in rows:
            if (account, key) in journaled or (account, campaign, row) in failed_rows_seen:
                continue
            waiting.add((account, campaign, row))
    for account, _, _ in waiting:
        of(account)["pending"] += 1
    for account, entry in out.items():
        entry["applied_last_minute"] = recent.get(account, 0)
    return dict(sorted(out.items()))


async def _applied_last_minute(con: asyncpg.Connection) -> dict[str, int]:
    rows = await con.fetch(
        "SELECT account, count(*) AS n FROM stampsync_writes WHERE status = 'applied'"
        " AND updated_at > extract(epoch FROM now()) - 60 GROUP BY account"
    )
    return {r["account"]: int(r["n"]) for r in rows}


_JobRows = list[tuple[tuple[str, int], str]]


async def _queue_rows(
    con: asyncpg.Connection, stalled_seconds: float
) -> list[tuple[str, str, bool, _JobRows]]:
    """(account, status, stalled, rows) of every award job, each row as its
    ((campaign, line), journal key); a job whose arguments are not an award job's counts
    under the account ``?`` with no rows."""
    from .queue import AWARD_JOB, BadJob, decode_job, queue_table

    found = await con.fetch(
        f"SELECT payload, status::text AS status,"  # noqa: S608 - a constant table name
        " heartbeat < now() - make_interval(secs => $2) AS stalled"
        f" FROM {queue_table()} WHERE entrypoint = $1",
        AWARD_JOB,
        float(stalled_seconds),
    )
    out: list[tuple[str, str, bool, _JobRows]] = []
    for r in found:
        try:
            args = decode_job(r["payload"])
        except BadJob:
            out.append(("?", r["status"], bool(r["stalled"]), []))
            continue
        rows = [((args.campaign, row.row), _journal_key(args.kind, row)) for row in args.rows]
        out.append((args.account, r["status"], bool(r["stalled"]), rows))
    return out


def _journal_key(kind: str, row: JobRow) -> str:
    """The key the worker journals ``row`` by, or "" when it cannot be told here (a
    transaction with no key and no store takes its store from the account's settings)."""
    if kind != "transactions.add":
        return normal_key(row.key)
    if row.data is None:
        return ""
    item = to_transaction(dict(row.data), row.row)
    if isinstance(item, Rejected):
        return ""
    if item.key is None and item.store is None:
        return ""
    return normal_key(item.journal_key())


async def failed_rows(journal: str) -> list[FailedRow]:
    """Every failed row with its reason: the journal's and the fleet's own, by account."""
    from .queue import ensure_queue_schema

    database = PgDatabase(journal, max_connections=2)
    await database.open()
    try:
        await database.run(ensure_queue_schema, "cannot create the job queue's tables")
        entries = await PgJournal(database, account=None).aentries("failed")

        async def read(con: asyncpg.Connection) -> list[Any]:
            return list(
                await con.fetch(
                    "SELECT campaign, account, row, key, reason FROM stampsync_fleet_failed"
                    " ORDER BY account, campaign, row"
                )
            )

        fleet = await database.run(read, "cannot read the failed rows")
    finally:
        await database.close()
    out = [
        FailedRow(str(e.account), e.key, e.error or "failed")
        for e in entries
        if getattr(e, "account", None) is not None
    ]
    out += [FailedRow(r["account"], r["key"], r["reason"], r["row"], r["campaign"]) for r in fleet]
    return sorted(out, key=lambda f: (f.account, f.row or 0, f.key))


async def failed_jobs(journal: str) -> list[FailedJob]:
    """The award jobs the queue holds as failed, each with its reason."""
    from .queue import AWARD_JOB, BadJob, decode_job, ensure_queue_schema, queue_table

    table = queue_table()

    async def read(con: asyncpg.Connection) -> list[Any]:
        return list(
            await con.fetch(
                f"SELECT q.id, q.payload, (SELECT l.traceback::text FROM {table}_log l"  # noqa: S608
                " WHERE l.job_id = q.id AND l.traceback IS NOT NULL ORDER BY l.id DESC LIMIT 1)"
                f" AS traceback FROM {table} q WHERE q.entrypoint = $1"
                " AND q.status = 'failed' ORDER BY q.id",
                AWARD_JOB,
            )
        )

    database = PgDatabase(journal, max_connections=2)
    await database.open()
    try:
        await database.run(ensure_queue_schema, "cannot create the job queue's tables")
        found = await database.run(read, "cannot read the job queue")
    finally:
        await database.close()
    out = []
    for r in found:
        error = _reason(r["traceback"])
        try:
            args = decode_job(r["payload"])
        except BadJob as exc:
            out.append(FailedJob(str(r["id"]), "?", 0, str(exc)))
            continue
        out.append(FailedJob(str(r["id"]), args.account, len(args.rows), error))
    return out


def _reason(traceback: str | None) -> str:
    """The exception's message from pgqueuer's traceback record."""
    import json

    if not traceback:
        return "failed"
    try:
        record = json.loads(traceback)
    except ValueError:
        return "failed"
    if isinstance(record, dict):
        return f"{record.get('exception_type', 'Error')}: {record.get('exception_message', '')}"
    return "failed"
