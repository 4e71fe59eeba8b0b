"""The fleet's job queue: pgqueuer's tables in the journal's PostgreSQL database.

A job's arguments are JSON (never pickle), checked against :class:`AwardJobArgs` when a
worker reads them: a job whose arguments do not match fails alone, with the reason, and
nothing of it is sent. The fleet's own tables sit beside the journal's: the campaigns
queued (so the same file is not queued twice by mistake) and the rows that failed
before they could reach the journal (a bad row, a row given up on), with their reasons.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Literal

import msgspec

from ..errors import ConfigurationError

if TYPE_CHECKING:
    import asyncpg

#: The entrypoint (pgqueuer's name for a job's function) of the fleet's jobs, every kind.
AWARD_JOB = "stampsync.award"

#: The write kinds a campaign can carry: stamp awards, a point of sale's transactions
#: (both through Stamps), Stamped V3 order pushes and points adjustments.
JobKind = Literal["stamps.add", "transactions.add", "v3.orders.push", "v3.points.adjust"]
KINDS: tuple[JobKind, ...] = (
    "stamps.add",
    "transactions.add",
    "v3.orders.push",
    "v3.points.adjust",
)

#: The kinds sent through a Stamped client: their accounts' credentials are Stamped's.
STAMPED_KINDS: frozenset[str] = frozenset({"v3.orders.push", "v3.points.adjust"})

Platform = Literal["stamps", "stamped"]


def platform_of(kind: str) -> Platform:
    """Which API a kind writes to, so which credentials its account needs."""
    return "stamped" if kind in STAMPED_KINDS else "stamps"


def row_reader(kind: str) -> Callable[[dict[str, Any], int], Any] | None:
    """How a job of ``kind`` reads one row's fields (``JobRow.data``) into the item its
    batch sends, or a ``Rejected`` row: the command line's own check. ``None`` for
    ``stamps.add``, whose rows are a campaign's cells."""
    from ..batch.pos_rows import to_transaction
    from ..batch.v3_rows import to_order, to_points

    readers: dict[str, Callable[[dict[str, Any], int], Any]] = {
        "transactions.add": to_transaction,
        "v3.orders.push": to_order,
        "v3.points.adjust": to_points,
    }
    return readers.get(kind)


#: Taken while the fleet's tables are made, so workers starting together do not race.
_FLEET_SCHEMA_LOCK = 0x5354_464C  # "STFL"

#: Most rows one job may carry; a job read from the queue with more is refused.
MAX_JOB_ROWS = 10_000

_Text = Annotated[str, msgspec.Meta(max_length=4096)]
_Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class JobRow(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """One campaign row as a job carries it: the file's cells as text, its line number."""

    row: Annotated[int, msgspec.Meta(ge=1)]
    key: _Text = ""
    user: _Text = ""
    number_of_stamps: _Text = ""
    store: _Text | None = None
    notes: _Text | None = None
    expiration_date: _Text | None = None
    rejected: _Text | None = None
    """Why the file's reader refused the row (it fails with this reason)."""
    data: Annotated[dict[str, Any], msgspec.Meta(max_length=64)] | None = None
    """The row's fields as read, for every kind but ``stamps.add`` (a transaction, an
    order, a points adjustment), checked as the command line checks them when the job
    runs: a row that is not one fails alone."""


class AwardJobArgs(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """An award job's arguments: up to :data:`MAX_JOB_ROWS` rows of one account."""

    v: Annotated[int, msgspec.Meta(ge=1, le=1)]
    id: _Name
    """The job's name: its campaign, account and position; children derive theirs."""
    campaign: _Name
    account: _Name
    rows: Annotated[list[JobRow], msgspec.Meta(min_length=1, max_length=MAX_JOB_ROWS)]
    attempt: Annotated[int, msgspec.Meta(ge=0)] = 0
    """How many times these rows were handed to a retry already."""
    kind: JobKind = "stamps.add"
    """What the rows write."""


class BadJob(ConfigurationError):
    """A job's arguments are not what a fleet job takes: the job is refused, unrun."""


def encode_job(job: AwardJobArgs) -> bytes:
    """The job's arguments as JSON."""
    return msgspec.json.encode(job)


_decoder = msgspec.json.Decoder(AwardJobArgs)


def decode_job(payload: bytes | None) -> AwardJobArgs:
    """The arguments of a job read from the queue, checked; :class:`BadJob` if they are
    not an award job's (the reason names the field, never its value)."""
    if payload is None:
        raise BadJob("the job has no arguments")
    try:
        return _decoder.decode(payload)
    except msgspec.ValidationError as exc:
        raise BadJob(f"the job's arguments are not valid: {exc}") from None
    except msgspec.DecodeError:
        raise BadJob("the job's arguments are not JSON") from None


def child_id(parent: str, suffix: str) -> str:
    """A stable name for a job that carries on ``parent``'s rows (its rest, its retry):
    the same parent run twice names its child the same, so the queue keeps one."""
    digest = hashlib.sha256(f"{parent}\0{suffix}".encode()).hexdigest()[:20]
    return f"{parent.split('~', 1)[0]}~{digest}"


_FLEET_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS stampsync_fleet_campaigns ("
    " campaign TEXT PRIMARY KEY, jobs INTEGER NOT NULL, rows INTEGER NOT NULL,"
    " queued_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    "CREATE TABLE IF NOT EXISTS stampsync_fleet_failed ("
    " campaign TEXT NOT NULL, account TEXT NOT NULL, row INTEGER NOT NULL,"
    " key TEXT NOT NULL, reason TEXT NOT NULL, at TIMESTAMPTZ NOT NULL DEFAULT now(),"
    " PRIMARY KEY (campaign, account, row))",
    # Each running worker's queue manager and the database session that lives as long as
    # its process: a session gone means the worker is gone (see worker._reap_dead).
    "CREATE TABLE IF NOT EXISTS stampsync_fleet_workers ("
    " manager UUID PRIMARY KEY, backend INTEGER NOT NULL, backend_start TIMESTAMPTZ,"
    " host TEXT NOT NULL, since TIMESTAMPTZ NOT NULL DEFAULT now())",
)


async def ensure_queue_schema(con: asyncpg.Connection) -> None:
    """Make the fleet's tables and pgqueuer's (if missing), under a lock."""
    from pgqueuer.queries import Queries

    async with con.transaction():
        await con.execute("SELECT pg_advisory_xact_lock($1)", _FLEET_SCHEMA_LOCK)
        for statement in _FLEET_SCHEMA:
            await con.execute(statement)
        queries = Queries.from_asyncpg_connection(con)
        if not await queries.has_table(queries.qbe.settings.queue_table):
            await queries.install()


def queue_table() -> str:
    """The name of pgqueuer's queue table (its settings' default unless configured)."""
    from pgqueuer.domain.settings import DBSettings

    return str(DBSettings().queue_table)


__all__ = [
    "AWARD_JOB",
    "KINDS",
    "MAX_JOB_ROWS",
    "STAMPED_KINDS",
    "AwardJobArgs",
    "BadJob",
    "JobRow",
    "child_id",
    "decode_job",
    "encode_job",
    "ensure_queue_schema",
    "platform_of",
    "queue_table",
    "row_reader",
]
