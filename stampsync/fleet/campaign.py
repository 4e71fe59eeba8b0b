"""A campaign file cut into jobs: bounded size, one store each, queued round-robin."""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError, QueueError

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
        fh = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigurationError(f"cannot read campaign {path}: {exc.strerror}") from None
    with fh:
        reader = csv.reader(fh)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise ConfigurationError(f"campaign {path} is empty") from None
        except (csv.Error, UnicodeDecodeError) as exc:
            raise ConfigurationError(f"campaign {path} is not UTF-8 CSV: {exc}") from None
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
            for cells in reader:
                if not any(c.strip() for c in cells):
                    continue
                row: dict[str, Any] = dict(zip(header, (c.strip() for c in cells), strict=False))
                row["row"] = reader.line_num
                if len(cells) > len(header):
                    row["rejected"] = (
                        f"line {reader.line_num} has {len(cells)} cells but the header has "
                        f"{len(header)}; a comma inside a value needs quotes"
                    )
                if not row.get("account"):
                    raise ConfigurationError(
                        f"campaign {path} line {reader.line_num} names no account"
                    )
                yield row
        except (csv.Error, UnicodeDecodeError) as exc:
            raise ConfigurationError(f"campaign {path} is not UTF-8 CSV: {exc}") from None


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


async def enqueue_campaign(
    path: str | Path,
    redis_url: str,
    *,
    job_rows: int = DEFAULT_JOB_ROWS,
    campaign: str | None = None,
    queue_name: str | None = None,
) -> tuple[int, int]:
    """Queue ``path``'s rows as award jobs; return (jobs queued, rows).

    Job ids are stable (``campaign`` defaults to a digest of the file), so enqueuing the
    same file twice while its jobs are queued, running or kept as results queues nothing
    new; the journal would skip their applied rows anyway.
    """
    from arq import create_pool
    from arq.connections import RedisSettings
    from arq.constants import default_queue_name

    from .worker import AWARD_JOB

    jobs = split_jobs(read_campaign(path), job_rows=job_rows)
    name = campaign or campaign_id(path)
    try:
        settings = RedisSettings.from_dsn(redis_url)
    except (RuntimeError, ValueError) as exc:
        raise ConfigurationError(f"bad redis url: {exc}") from None
    settings.conn_retries = 0
    queued = 0
    pool = await _connect(create_pool, settings)
    try:
        for job in jobs:
            done = await pool.enqueue_job(
                AWARD_JOB,
                job.account,
                job.rows,
                _job_id=job.job_id(name),
                _queue_name=queue_name or default_queue_name,
            )
            queued += done is not None
    finally:
        await pool.aclose()
    return queued, sum(len(job.rows) for job in jobs)


async def _connect(create_pool: Any, settings: Any) -> Any:
    import redis.exceptions

    try:
        return await create_pool(settings)
    except (OSError, redis.exceptions.RedisError) as exc:
        raise QueueError(f"cannot reach Redis to queue jobs: {exc}") from None
