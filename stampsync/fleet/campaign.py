"""A campaign file cut into jobs: bounded size, one store each, queued round-robin."""

from __future__ import annotations

import contextlib
import csv
import hashlib
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._csv import csv_header, csv_rows
from ..errors import ConfigurationError

#: Columns of a campaign file; ``store``, ``notes`` and ``expiration_date`` are optional.
CAMPAIGN_COLUMNS = ("account", "key", "user", "number_of_stamps")
CAMPAIGN_OPTIONAL = ("store", "notes", "expiration_date")

#: Rows per job unless told otherwise: small enough that a job finishes well within its
#: timeout at a store's rate, so a killed worker's job is run again soon.
DEFAULT_JOB_ROWS = 100


@dataclass(frozen=True, slots=True)
class CampaignJob:
    """One job: up to ``job_rows`` rows of one account, with their input line numbers."""

    account: str
    number: int
    """The job's position among its account's jobs (1-based)."""
    rows: list[dict[str, Any]] = field(default_factory=list)

    def job_id(self, campaign: str) -> str:
        """A stable id: enqueuing the same campaign again does not queue its jobs twice."""
        return f"stampsync:{campaign}:{self.account}:{self.number}"


def read_campaign(path: str | Path) -> Iterator[dict[str, Any]]:
    """Rows of a campaign CSV (``account,key,user,number_of_stamps[,store,notes,...]``),
    each with its line number as ``row``. The header is checked first; values are
    checked by the worker, where a bad row fails alone."""
    path = Path(path)
    try:
        header = csv_header(path)
    except OSError as exc:
        raise ConfigurationError(f"cannot read campaign {path}: {exc.strerror}") from None
    except (csv.Error, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"campaign {path} is not UTF-8 CSV: {exc}") from None
    if header is None:
        raise ConfigurationError(f"campaign {path} is empty")
    missing = [c for c in CAMPAIGN_COLUMNS if c not in header]
    if missing:
        raise ConfigurationError(
            f"campaign {path} lacks column(s) {', '.join(missing)} "
            f"(needs {','.join(CAMPAIGN_COLUMNS)})"
        )
    unknown = [c for c in header if c not in CAMPAIGN_COLUMNS + CAMPAIGN_OPTIONAL]
    if unknown:
        raise ConfigurationError(f"campaign {path} has unknown column(s) {', '.join(unknown)}")
    try:
        for found in csv_rows(path):
            row: dict[str, Any] = {**found.stripped(), "row": found.line}
            if found.problem:
                row["rejected"] = found.problem
            if not row.get("account"):
                raise ConfigurationError(f"campaign {path} line {found.line} names no account")
            yield row
    except (csv.Error, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"campaign {path} is not UTF-8 CSV: {exc}") from None


def read_pos_campaign(path: str | Path) -> Iterator[dict[str, Any]]:
    """Rows of a point of sale campaign: the transactions import's file (JSONL, or its
    flat CSV form) with an ``account`` column naming each row's store, each row as
    ``{"account", "row", "data"}``."""
    from ..batch.pos_rows import pos_records

    return _data_campaign(path, pos_records)


def read_orders_campaign(path: str | Path) -> Iterator[dict[str, Any]]:
    """Rows of a Stamped V3 order-push campaign: ``stampsync stamped push-orders``'s JSONL
    (one order per line, the API's field names, an optional ``key``) with an ``account``
    field naming each order's shop, each row as ``{"account", "row", "data"}``."""
    from ..batch.v3_rows import order_records

    return _data_campaign(path, order_records)


def read_points_campaign(path: str | Path) -> Iterator[dict[str, Any]]:
    """Rows of a Stamped V3 points campaign: ``stampsync stamped adjust-points``'s CSV
    (``key,customer_id,points[,reason]``) or JSONL with an ``account`` column naming each
    row's shop, each row as ``{"account", "row", "data"}``."""
    from ..batch.v3_rows import points_records

    return _data_campaign(path, points_records)


def _data_campaign(
    path: str | Path, records: Callable[[Path], Iterable[tuple[int, Any]]]
) -> Iterator[dict[str, Any]]:
    """Each record ``records`` reads, its ``account`` taken out; the rest is the row's
    data, checked by the worker (where a bad row fails alone). A line that cannot be read
    at all refuses the campaign: its account, so its store, is unknown."""
    path = Path(path)
    if not path.is_file():
        raise ConfigurationError(f"cannot read campaign {path}: no such file")
    try:
        for number, data in records(path):
            if not isinstance(data, dict):
                why = data if isinstance(data, str) else getattr(data, "error", "unreadable")
                raise ConfigurationError(f"campaign {path}: {why}; its account is unknown")
            account = data.pop("account", None)
            if not isinstance(account, str) or not account.strip():
                raise ConfigurationError(f"campaign {path} line {number} names no account")
            yield {"account": account.strip(), "row": number, "data": data}
    except (csv.Error, UnicodeDecodeError, StopIteration) as exc:
        raise ConfigurationError(f"campaign {path} is not UTF-8 CSV or JSONL: {exc}") from None


def split_jobs(
    rows: Iterable[dict[str, Any]], *, job_rows: int = DEFAULT_JOB_ROWS
) -> list[CampaignJob]:
    """Rows cut into jobs of at most ``job_rows`` rows of one account each, in round-robin
    order across accounts (every store's first job, then every store's second...), so
    the workers keep every store busy at once instead of one store after another."""
    if isinstance(job_rows, bool) or not isinstance(job_rows, int) or job_rows < 1:
        raise ConfigurationError(f"job_rows must be a positive integer, got {job_rows!r}")
    by_account: dict[str, list[CampaignJob]] = {}
    for row in rows:
        jobs = by_account.setdefault(row["account"], [])
        if not jobs or len(jobs[-1].rows) >= job_rows:
            jobs.append(CampaignJob(row["account"], len(jobs) + 1))
        jobs[-1].rows.append(row)
    ordered: list[CampaignJob] = []
    depth = max((len(jobs) for jobs in by_account.values()), default=0)
    for i in range(depth):
        ordered += [jobs[i] for jobs in by_account.values() if i < len(jobs)]
    return ordered


def campaign_id(path: str | Path) -> str:
    """A name for a campaign file: the first 12 hex digits of its content's SHA-256."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class Enqueued:
    """What :func:`queue_campaign` did: jobs queued, rows, and why nothing was, if so."""

    jobs: int
    rows: int
    campaign: str
    why: str | None = None
    """Set when nothing was queued: the reason, and what to do."""


async def queue_campaign(
    path: str | Path,
    journal: str,
    *,
    job_rows: int = DEFAULT_JOB_ROWS,
    campaign: str | None = None,
    kind: str = "stamps.add",
) -> Enqueued:
    """Queue ``path``'s rows as award jobs in the journal's database, in one transaction
    with the campaign's record.

    A campaign is queued once: ``campaign`` defaults to a digest of the file, so the
    same file queued again queues nothing and says why (its rows are in the queue or
    the journal already). Name it anew to queue it again: the journal skips every row
    settled before.

    ``kind`` is what the rows write: ``stamps.add`` (columns
    ``account,key,user,number_of_stamps[,store,notes,expiration_date]``),
    ``transactions.add`` (the transactions import's JSONL or flat CSV), ``v3.orders.push``
    (``stampsync stamped push-orders``'s JSONL) or ``v3.points.adjust`` (``stampsync
    stamped adjust-points``' CSV or JSONL), each of the last three with an ``account``
    column or field.
    """
    from pgqueuer.queries import Queries

    from .._engine.postgres import PgDatabase
    from .queue import AWARD_JOB, KINDS, AwardJobArgs, encode_job, ensure_queue_schema

    if kind not in KINDS:
        raise ConfigurationError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")

    if not isinstance(journal, str) or not journal.lower().startswith(
        ("postgresql://", "postgres://")
    ):
        raise ConfigurationError(
            "the fleet's queue is in the journal's database: give its postgresql:// URL"
        )
    reader = _READERS.get(kind, read_campaign)
    jobs = split_jobs(reader(path), job_rows=job_rows)
    name = campaign or campaign_id(path)
    total = sum(len(job.rows) for job in jobs)
    payloads = []
    for job in jobs:
        rows = [_job_row(r, kind) for r in job.rows]
        args = AwardJobArgs(
            v=1, id=job.job_id(name), campaign=name, account=job.account, rows=rows, kind=kind
        )
        payloads.append((args.id, encode_job(args)))

    async def write(con: Any) -> str | None:
        async with con.transaction():
            at = await con.fetchval(
                "INSERT INTO stampsync_fleet_campaigns (campaign, jobs, rows) VALUES ($1, $2, $3)"
                " ON CONFLICT (campaign) DO NOTHING RETURNING queued_at",
                name,
                len(payloads),
                total,
            )
            if at is None:
                before = await con.fetchrow(
                    "SELECT jobs, rows, queued_at FROM stampsync_fleet_campaigns"
                    " WHERE campaign = $1",
                    name,
                )
                return (
                    f"campaign {name!r} was queued already ({before['jobs']} job(s), "
                    f"{before['rows']} row(s), at {before['queued_at']:%Y-%m-%d %H:%M:%S %Z}): "
                    "its rows are in the queue or the journal. To queue the file again, "
                    "name it anew with --campaign (the journal skips its settled rows)"
                )
            if payloads:
                await Queries.from_asyncpg_connection(con).enqueue(
                    [AWARD_JOB] * len(payloads),
                    [p for _, p in payloads],
                    [0] * len(payloads),
                    None,
                    [job_id for job_id, _ in payloads],
                    on_conflict="skip",
                )
            return None

    database = PgDatabase(journal, max_connections=2)
    async with _opened(database):
        await database.run(ensure_queue_schema, "cannot create the job queue's tables")
        why = await database.run(write, "cannot queue the campaign")
    if why is not None:
        return Enqueued(0, total, name, why)
    return Enqueued(len(payloads), total, name)


_READERS: dict[str, Callable[[str | Path], Iterator[dict[str, Any]]]] = {
    "transactions.add": read_pos_campaign,
    "v3.orders.push": read_orders_campaign,
    "v3.points.adjust": read_points_campaign,
}


def _job_row(r: dict[str, Any], kind: str) -> Any:
    from .queue import JobRow

    if "data" in r:  # its fields as read, checked again when the job runs
        data = r["data"]
        key, user = data.get("key"), data.get("user")
        if kind in ("v3.orders.push", "v3.points.adjust"):
            key, user = _v3_identity(kind, data, int(r["row"]))
        return JobRow(
            row=int(r["row"]),
            key=str(key or ""),
            user=str(user or ""),
            data=data,
        )
    return JobRow(
        row=int(r["row"]),
        key=str(r.get("key") or ""),
        user=str(r.get("user") or ""),
        number_of_stamps=str(r.get("number_of_stamps") or ""),
        store=r.get("store") or None,
        notes=r.get("notes") or None,
        expiration_date=r.get("expiration_date") or None,
        rejected=r.get("rejected"),
    )


def _v3_identity(kind: str, data: dict[str, Any], row: int) -> tuple[str, str | None]:
    """A V3 row's key and customer as its batch will read them (a key the row does not
    give is its order's ``customOrderId``)."""
    from .queue import row_reader

    read = row_reader(kind)
    assert read is not None
    item = read(data, row)
    customer = getattr(item, "user", None) or getattr(item, "customer_id", None)
    return item.key, None if customer is None else str(customer)


async def enqueue_campaign(
    path: str | Path,
    journal: str,
    *,
    job_rows: int = DEFAULT_JOB_ROWS,
    campaign: str | None = None,
) -> tuple[int, int]:
    """Queue ``path``'s rows as award jobs; return (jobs queued, rows). See
    :func:`queue_campaign`, which also says why nothing was queued."""
    done = await queue_campaign(path, journal, job_rows=job_rows, campaign=campaign)
    return done.jobs, done.rows


@contextlib.asynccontextmanager
async def _opened(database: Any) -> AsyncIterator[Any]:
    await database.open()
    try:
        yield database
    finally:
        await database.close()
