"""The fleet's worker: pgqueuer on the journal's database, one client per store, the job.

pgqueuer runs a job at least once: again when its worker stops beating (a worker
SIGKILLed or its host cut off; ``stalled_seconds`` after its last heartbeat). Every run
of a job is a journal run of its own, so a rerun skips the rows applied, leaves a dead
run's in-flight rows ambiguous, and sends only what was provably not.

A job ends only when each of its rows is applied, failed with a reason (in the journal,
or in the fleet's failed rows when it never reached the journal), ambiguous, or handed
on: the rows it did not take by its soft deadline go on in a job of their own, and the
rows that could not be sent for now (no quota start, Redis away, held by another live
run, the breaker open) go to a retry of the job, later, in the same transaction that
records the job's failed rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

import anyio

from .._engine._runs import LEASE_SECONDS
from .._engine.postgres import PgDatabase, PgJournal, open_pool, safe_dsn
from .._engine.writes import BatchReport, Outcome, Rejected, key_problem, normal_key
from .._local_throttle import DEFAULT_RESERVE
from ..errors import ConfigurationError, JournalError
from ..stamped.client import StampedClient
from ..stamps.client import StampsClient
from ..stamps.stamps import DEFAULT_MAX_STAMPS, StampAward
from ..throttle import RedisThrottles
from .credentials import CredentialsProvider
from .queue import (
    AWARD_JOB,
    AwardJobArgs,
    BadJob,
    JobRow,
    Platform,
    child_id,
    decode_job,
    encode_job,
    ensure_queue_schema,
    platform_of,
    row_reader,
)

if TYPE_CHECKING:
    import asyncpg

log = logging.getLogger("stampsync.fleet")

#: How often the rows of a job may be handed to a retry before they fail for good
#: (with the last reason): about two hours at the longest delay.
MAX_ROW_ATTEMPTS = 30

#: The longest wait before a retry of rows that could not be sent for now.
MAX_RETRY_DELAY = 300.0

#: Failures that prove the row was not sent, for now only (no quota start, the quota's
#: wait past the call's budget, Redis away, the breaker open, held by a live run): the
#: row is retried.
_NOT_YET = ("not sent:", "held by another run", "cannot reach Redis")


@dataclass
class FleetSettings:
    """What every worker of a fleet needs; the same for all workers of one fleet.

    Attributes:
        redis_url: Redis for the per-store quotas (the queue is in ``journal``).
        journal: the shared journal and job queue, ``postgresql://...``.
        credentials: ``provider(account)`` -> StampsClient keyword arguments.
        throttle_key: the quota key template; ``{account}`` is the store.
        throttle_limit: each store's most requests per window.
        throttle_seconds: each store's window, in seconds.
        throttle_reserve: the fraction of each store's quota left to interactive callers
            (a store's bot) on the same Redis key; 0 when only the fleet sends for the
            stores, so its jobs may use all of it.
        host: this worker's host id in the journal (default: the machine's name). Runs
            of the same host are known dead as soon as their process is gone; runs of
            other hosts when their lease lapses.
        job_timeout: a job stops taking rows at half of it and hands the rest on as a new
            job; it is never cut off, so its claimed rows are always settled.
        concurrency: rows of one store claimed at once in this process, across its jobs.
            A worker that dies leaves those ambiguous: keep it low. 1 keeps a store at
            its full rate as long as a request takes less than the quota's interval.
        max_jobs: jobs one worker process runs at once; it takes no more than that from
            the queue (at least 2).
        lease_seconds: a job run's journal lease.
        outage_seconds: how long one journal operation waits for PostgreSQL to come back.
        max_stamps: the per-award guard of :meth:`~stampsync.stamps.stamps.Stamps.add_many`.
        stalled_seconds: a job whose worker has not beaten for this long runs again.
        poll_seconds: how often an idle worker looks for due jobs (new jobs wake it).
        max_row_attempts: how often rows are handed to a retry before they fail.
    """

    redis_url: str
    journal: str
    credentials: CredentialsProvider
    throttle_key: str = "stamps:{account}"
    throttle_limit: int = 500
    throttle_seconds: float = 60.0
    throttle_reserve: float = DEFAULT_RESERVE
    host: str = field(default_factory=socket.gethostname)
    job_timeout: float = 120.0
    concurrency: int = 1
    max_jobs: int = 50
    lease_seconds: float = LEASE_SECONDS
    outage_seconds: float = 60.0
    max_stamps: int = DEFAULT_MAX_STAMPS
    stalled_seconds: float = 30.0
    poll_seconds: float = 1.0
    max_row_attempts: int = MAX_ROW_ATTEMPTS

    def __repr__(self) -> str:
        from .._redis_throttle import safe_url

        return (
            f"FleetSettings(redis_url={safe_url(self.redis_url)!r}, "
            f"journal={safe_dsn(self.journal)!r}, throttle_key={self.throttle_key!r}, "
            f"throttle_limit={self.throttle_limit}, throttle_seconds={self.throttle_seconds:g}, "
            f"host={self.host!r})"
        )


class _Outage:
    """One log line when a service goes away, one when it is back, however many jobs
    notice it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.down = False
        self._back_at = float("-inf")

    def fell(self, why: str, since: float | None = None) -> None:
        """It failed for work begun at ``since``; work begun before it was last seen
        back only echoes the outage that is over."""
        if since is not None and since < self._back_at:
            return
        if not self.down:
            self.down = True
            log.warning("%s unavailable (%s); rows wait for it", self.name, why)

    def back(self) -> None:
        if self.down:
            self.down = False
            self._back_at = anyio.current_time()
            log.warning("%s is back", self.name)


class FleetState:
    """A worker process's shared parts: the journal's pool, the quotas, the clients."""

    def __init__(self, settings: FleetSettings) -> None:
        self.settings = settings
        self.database = PgDatabase(settings.journal, outage_seconds=settings.outage_seconds)
        self.throttles = RedisThrottles(
            settings.redis_url,
            key=settings.throttle_key,
            limit=settings.throttle_limit,
            seconds=settings.throttle_seconds,
            reserve=settings.throttle_reserve,
        )
        self.stopping = anyio.Event()
        """Set on SIGTERM: running jobs stop taking rows and hand the rest on."""
        self.redis = _Outage("Redis (the stores' quotas)")
        self._clients: dict[tuple[str, Platform], StampsClient | StampedClient] = {}
        self._making: dict[tuple[str, Platform], asyncio.Lock] = {}
        self._gates: dict[str, asyncio.Semaphore] = {}

    def gate(self, account: str) -> asyncio.Semaphore:
        """At most ``concurrency`` rows of ``account`` claimed at once in this process,
        whichever of its jobs they belong to."""
        found = self._gates.get(account)
        if found is None:
            found = self._gates[account] = asyncio.Semaphore(self.settings.concurrency)
        return found

    async def open(self) -> None:
        """Connect to the journal (making its tables and the queue's) and to Redis."""
        await self.database.open()
        await self.database.run(ensure_queue_schema, "cannot create the job queue's tables")

    def journal(self, account: str) -> PgJournal:
        """The journal of ``account`` over this process's pool."""
        return PgJournal(
            self.database,
            account=account,
            host=self.settings.host,
            lease_seconds=self.settings.lease_seconds,
        )

    async def client(self, account: str) -> StampsClient:
        """The open Stamps client of ``account``, made from the provider's credentials once."""
        client = await self.client_for(account, "stamps")
        assert isinstance(client, StampsClient)
        return client

    async def client_for(self, account: str, platform: Platform) -> StampsClient | StampedClient:
        """The open client of ``account`` on ``platform`` (``"stamped"`` for the V3
        kinds), made from the provider's credentials once."""
        found = self._clients.get((account, platform))
        if found is not None:
            return found
        lock = self._making.setdefault((account, platform), asyncio.Lock())
        async with lock:
            found = self._clients.get((account, platform))
            if found is None:
                found = await self._make(account, platform)
                self._clients[account, platform] = found
        return found

    async def credentials_of(self, account: str, platform: Platform = "stamps") -> dict[str, Any]:
        """The provider's client arguments for ``account``, checked: a Stamps token, or
        for the V3 kinds (``platform="stamped"``) a Stamped shop's ``store_hash`` and
        ``api_key``."""
        given = self.settings.credentials(account)
        if inspect.isawaitable(given):
            given = await given
        needs = ("token",) if platform == "stamps" else ("store_hash", "api_key")
        if not isinstance(given, Mapping) or any(not given.get(n) for n in needs):
            what = "token" if platform == "stamps" else "Stamped store_hash and api_key"
            raise ConfigurationError(
                f"the credentials provider gave no {what} for account {account!r}"
            )
        if "throttle" in given:
            raise ConfigurationError(
                "a credentials provider may not set the throttle: the fleet's is the store's"
            )
        return dict(given)

    async def _make(self, account: str, platform: Platform) -> StampsClient | StampedClient:
        kwargs = await self.credentials_of(account, platform)
        kwargs.setdefault("concurrent_batch_executions", self.settings.concurrency)
        throttle = self.throttles.for_account(account)
        client: StampsClient | StampedClient
        if platform == "stamped":
            client = StampedClient(**kwargs, throttle=throttle)
        else:
            client = StampsClient(**kwargs, throttle=throttle)
        await client.__aenter__()
        return client

    async def close(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()
        await self.throttles.aclose()
        await self.database.close()


def _award(row: JobRow) -> StampAward | Rejected:
    key, user = row.key, row.user
    if row.rejected:
        return Rejected(key, row.rejected, row.row, user or None)

    def number(value: str) -> Any:
        try:
            return int(value.strip())
        except ValueError:
            return value  # the award's own check fails the row with a clear message

    return StampAward(
        key=key,
        user=user,
        number_of_stamps=number(row.number_of_stamps),
        store=number(row.store) if row.store not in (None, "") else None,
        notes=row.notes or None,
        expiration_date=row.expiration_date or None,
        row=row.row,
    )


def _row_problem(
    row: JobRow, award: StampAward | Rejected, client: StampsClient, max_stamps: int
) -> str | None:
    """Why ``row`` can never be sent as it is (checked as an input row is), or None."""
    if isinstance(award, Rejected):
        return award.error
    key = normal_key(row.key)
    if not key:
        return "key is missing"
    if problem := key_problem(key):
        return problem
    if isinstance(award.number_of_stamps, int) and award.number_of_stamps > max_stamps:
        return (
            f"number_of_stamps {award.number_of_stamps} is over the limit of {max_stamps} "
            "per award (max_stamps)"
        )
    try:
        client.stamps.add_body(
            user=award.user,
            number_of_stamps=award.number_of_stamps,
            store=award.store,
            notes=award.notes,
            expiration_date=award.expiration_date,
        )
    except ConfigurationError as exc:
        return str(exc)
    return None


E = TypeVar("E", bound=BaseException)


def _found(exc: BaseException, kind: type[E]) -> E | None:
    """``exc`` or the first ``kind`` inside it (task groups wrap what they raise)."""
    if isinstance(exc, kind):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _found(inner, kind)
            if found is not None:
                return found
    return None


@dataclass
class _Handoff:
    """What a job leaves to others: its rest, its retry, its failed rows."""

    rest: list[JobRow] = field(default_factory=list)
    retry: list[JobRow] = field(default_factory=list)
    retry_why: str = ""
    failed: list[tuple[JobRow, str]] = field(default_factory=list)


async def award_job(state: FleetState, args: AwardJobArgs, *, priority: int = 0) -> dict[str, int]:
    """Award ``args.rows`` of ``args.account`` through its quota and the journal; hand
    every row not settled on (see the module's docs). Returns the outcome counts.

    A :class:`~stampsync.errors.ConfigurationError` (the provider has no credentials for
    the account) fails the job, unrun; anything else unplanned hands its unsettled rows
    to a retry.
    """
    settings = state.settings
    account = args.account
    try:
        client = await state.client_for(account, platform_of(args.kind))
    except ConfigurationError:
        raise
    except Exception as exc:
        # A provider's passing fault (a secrets store timing out): every row waits.
        log.warning(
            "fleet job for %s: no client (%s); its rows are retried", account, type(exc).__name__
        )
        await _hand_on(
            state,
            args,
            _Handoff(retry=list(args.rows), retry_why=f"no client: {type(exc).__name__}"),
            priority,
        )
        return {"retried": len(args.rows)}
    journal = state.journal(account)
    gate = state.gate(account)
    stop = anyio.Event()
    handoff = _Handoff()
    to_send: list[tuple[JobRow, Any]] = []
    convert = row_reader(args.kind)
    if convert is not None:
        # Checked as the command line checks its rows; the batch fails a bad one alone.
        for row in args.rows:
            item = (
                convert(dict(row.data), row.row)
                if row.data is not None
                else Rejected(row.key or f"line-{row.row}", row.rejected or "no fields", row.row)
            )
            to_send.append((row, item))
    else:
        assert isinstance(client, StampsClient)
        seen: set[str] = set()
        for row in args.rows:
            award = _award(row)
            problem = _row_problem(row, award, client, settings.max_stamps)
            key = normal_key(row.key)
            if problem is None and key in seen:
                problem = "duplicate key in this job"
            if problem is not None or isinstance(award, Rejected):
                handoff.failed.append((row, problem or "rejected"))
                continue
            seen.add(key)
            to_send.append((row, award))
    outcomes: dict[int | None, Outcome] = {}  # by row (line) number
    held = 0
    taken = 0
    started = anyio.current_time()

    async def soft_deadline() -> None:
        with anyio.move_on_after(settings.job_timeout / 2):
            await state.stopping.wait()
        stop.set()

    async def items() -> AsyncIterator[Any]:
        nonlocal held, taken
        for _, item in to_send:
            await gate.acquire()  # released by the row's outcome
            held += 1
            taken += 1
            yield item

    def settled(outcome: Outcome) -> None:
        nonlocal held
        held -= 1
        gate.release()
        outcomes[outcome.row] = outcome

    stopped: str | None = None
    failure: str | None = None
    try:
        if to_send:
            async with anyio.create_task_group() as tg:
                tg.start_soon(soft_deadline)
                report = await _run_batch(state, client, args, journal, items(), settled, stop)
                tg.cancel_scope.cancel()
            stopped = report.stopped
    except Exception as exc:
        bad = _found(exc, ConfigurationError)
        if bad is not None and not isinstance(bad, JournalError):
            raise bad from None
        journal_down = _found(exc, JournalError)
        failure = (
            f"journal unavailable: {journal_down}"
            if journal_down is not None
            else f"{type(exc).__name__}: {exc}"
        )
        # The kind of failure only: an unplanned error's text may quote a row.
        log.warning(
            "fleet job %s for %s failed (%s); its rows are retried",
            args.id,
            account,
            "journal unavailable" if journal_down is not None else type(exc).__name__,
        )
    finally:
        for _ in range(held):  # rows that never reached an outcome (the job failed)
            gate.release()
    final_failed: list[tuple[JobRow, str, str]] = []
    for n, (row, _) in enumerate(to_send):
        outcome = outcomes.get(row.row)
        if outcome is None:
            if failure is None and stopped is None and n >= taken:
                handoff.rest.append(row)  # not taken by the soft deadline: goes on now
            else:
                handoff.retry.append(row)
                handoff.retry_why = failure or stopped or "not tried"
        elif outcome.status == "failed":
            why = outcome.error or "failed"
            if any(mark in why for mark in _NOT_YET):
                handoff.retry.append(row)
                handoff.retry_why = why
            else:
                final_failed.append((row, outcome.key, why))
    if final_failed:
        # Those the journal lists as failed are accounted for there; the others (a key
        # another account or operation owns) are the fleet's to list.
        in_journal = await _journal_failed(state, account, [k for _, k, _ in final_failed])
        handoff.failed += [(r, w) for r, k, w in final_failed if normal_key(k) not in in_journal]
    redis_trouble = any("cannot reach Redis" in (o.error or "") for o in outcomes.values())
    if redis_trouble:
        state.redis.fell("cannot reach it", since=started)
    elif any(o.status == "applied" and not o.skipped for o in outcomes.values()):
        state.redis.back()
    counts = {"applied": 0, "failed": 0, "ambiguous": 0, "skipped": 0}
    for outcome in outcomes.values():
        counts[outcome.status] += 1
        counts["skipped"] += outcome.skipped
    counts["held"] = sum(
        1 for o in outcomes.values() if (o.error or "").startswith("held by another run")
    )
    counts["invalid"] = len(handoff.failed)
    counts["continued"] = len(handoff.rest)
    counts["retried"] = len(handoff.retry)
    await _hand_on(state, args, handoff, priority)
    log.info(
        "fleet job for %s (try %d): %s in %.1f s",
        account,
        args.attempt + 1,
        counts,
        anyio.current_time() - started,
    )
    return counts


async def _run_batch(
    state: FleetState,
    client: StampsClient | StampedClient,
    args: AwardJobArgs,
    journal: PgJournal,
    items: AsyncIterator[Any],
    settled: Callable[[Outcome], None],
    stop: anyio.Event,
) -> BatchReport:
    """The job's rows through the batch of its kind, on the store's journal."""
    many: Callable[..., Awaitable[BatchReport]]
    if isinstance(client, StampedClient):
        # The journal, open, files the keys under the campaign's account.
        v3 = client.v3
        many = (
            v3.orders.push_many if args.kind == "v3.orders.push" else v3.loyalty.adjust_points_many
        )
    elif args.kind == "transactions.add":
        many = client.transactions.add_many
    else:
        keys = [normal_key(row.key) for row in args.rows]
        await journal.aprefetch([k for k in keys if k and key_problem(k) is None])
        many = partial(client.stamps.add_many, max_stamps=state.settings.max_stamps)
    return await many(
        items,
        journal=journal,
        on_outcome=settled,
        keep_outcomes=False,
        stop=stop,
        check_first=False,
    )


async def _journal_failed(state: FleetState, account: str, keys: list[str]) -> set[str]:
    normal = [normal_key(k) for k in keys]

    async def read(con: asyncpg.Connection) -> set[str]:
        rows = await con.fetch(
            "SELECT key FROM stampsync_writes WHERE account = $1 AND key = ANY($2::text[])"
            " AND status = 'failed'",
            account,
            normal,
        )
        return {r["key"] for r in rows}

    return await state.database.run(read, "cannot read the journal")


def retry_delay(attempt: int, lease_seconds: float) -> float:
    """The wait before the ``attempt``-th retry (1-based): doubling, a third of a lease
    at least (a held row's run renews its lease that often), capped."""
    return min(MAX_RETRY_DELAY, max(2.0 ** min(attempt, 16), lease_seconds / 3))


async def _hand_on(state: FleetState, args: AwardJobArgs, handoff: _Handoff, priority: int) -> None:
    """The job's failed rows, its rest and its retry, in one transaction."""
    from pgqueuer.queries import Queries

    settings = state.settings
    failed = list(handoff.failed)
    retry = handoff.retry
    attempt = args.attempt + 1
    if retry and attempt > settings.max_row_attempts:
        why = f"given up after {args.attempt} retries: {handoff.retry_why}"
        failed += [(row, why) for row in retry]
        retry = []
    jobs: list[tuple[AwardJobArgs, int, timedelta | None]] = []
    if handoff.rest:
        rest = AwardJobArgs(
            v=1,
            id=child_id(args.id, f"rest:{handoff.rest[0].row}"),
            campaign=args.campaign,
            account=args.account,
            rows=handoff.rest,
            attempt=args.attempt,
            kind=args.kind,
        )
        # Ahead of fresh jobs: at the back of the queue, a store could be left with no
        # job running for seconds (measured: 1-4 s gaps per store at 50 stores).
        jobs.append((rest, priority + 1, None))
    if retry:
        again = AwardJobArgs(
            v=1,
            id=child_id(args.id, f"retry:{attempt}:{retry[0].row}"),
            campaign=args.campaign,
            account=args.account,
            rows=retry,
            attempt=attempt,
            kind=args.kind,
        )
        delay = retry_delay(attempt, settings.lease_seconds)
        jobs.append((again, priority, timedelta(seconds=delay)))
        log.info(
            "fleet job for %s: %d row(s) retried in %.0f s (%s)",
            args.account,
            len(retry),
            delay,
            _reason_kind(handoff.retry_why),
        )
    if not failed and not jobs:
        return

    async def write(con: asyncpg.Connection) -> None:
        async with con.transaction():
            if failed:
                await con.executemany(
                    "INSERT INTO stampsync_fleet_failed (campaign, account, row, key, reason)"
                    " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (campaign, account, row)"
                    " DO UPDATE SET reason = excluded.reason, key = excluded.key, at = now()",
                    [(args.campaign, args.account, r.row, r.key, why) for r, why in failed],
                )
            if jobs:
                await Queries.from_asyncpg_connection(con).enqueue(
                    [AWARD_JOB] * len(jobs),
                    [encode_job(job) for job, _, _ in jobs],
                    [p for _, p, _ in jobs],
                    [after for _, _, after in jobs],
                    [job.id for job, _, _ in jobs],
                    on_conflict="skip",
                )

    await state.database.run(write, "cannot hand the job's rows on")


def _reason_kind(why: str) -> str:
    """A reason shortened for a log line (no key, no customer)."""
    if "cannot reach Redis" in why or "throttle is unavailable" in why:
        return "Redis unavailable"
    if "quota needs" in why:
        return "waiting for the store's quota"
    if "held by another run" in why:
        return "held by another live run"
    return why.split(":", 1)[0][:60]


async def run_payload(state: FleetState, payload: bytes | None, *, priority: int = 0) -> None:
    """Check a job's arguments as read from the queue, then run it: :class:`BadJob` (it
    fails alone, unrun) if they are not an award job's."""
    args = decode_job(payload)
    await award_job(state, args, priority=priority)


async def check_start(state: FleetState) -> None:
    """What a worker checks before taking jobs; a :class:`ConfigurationError` (or a
    :class:`JournalError`) names what is wrong.

    The journal's database (reachable, the password right), Redis (the same), and the
    credentials of every account that has jobs in the queue.
    """
    from .credentials import credentials_file, json_credentials

    if state.settings.credentials is json_credentials:
        credentials_file()
    await state.open()
    try:
        await state.throttles._redis.ping()
    except Exception as exc:
        from .._redis_throttle import safe_url

        raise ConfigurationError(
            f"cannot reach Redis at {safe_url(state.settings.redis_url)} for the stores' "
            f"quotas ({type(exc).__name__})"
        ) from None
    for account, platform in await queued_platforms(state.database):
        await state.credentials_of(account, platform)


async def queued_platforms(database: PgDatabase) -> list[tuple[str, Platform]]:
    """Each account with jobs waiting or running in the queue, with the API its jobs
    write to (so which credentials it needs): an account may have both."""
    from .queue import queue_table

    table = queue_table()

    async def read(con: asyncpg.Connection) -> list[bytes]:
        rows = await con.fetch(
            f"SELECT payload FROM {table} WHERE entrypoint = $1"  # noqa: S608 - a constant
            " AND status IN ('queued', 'picked')",
            AWARD_JOB,
        )
        return [r["payload"] for r in rows]

    found: set[tuple[str, Platform]] = set()
    for payload in await database.run(read, "cannot read the job queue"):
        with contextlib.suppress(BadJob):
            job = decode_job(payload)
            found.add((job.account, platform_of(job.kind)))
    return sorted(found)


async def run_worker(
    settings: FleetSettings, *, stop: asyncio.Event | None = None, burst: bool = False
) -> None:
    """Run a fleet worker until ``stop`` is set (or, with ``burst``, the queue is empty).

    Checks its settings first (:func:`check_start`). Rides out PostgreSQL going away:
    running jobs wait for the journal, and the worker takes jobs again once it is back.
    """
    import asyncpg

    if not isinstance(settings, FleetSettings):
        raise ConfigurationError("run_worker needs a FleetSettings")
    stop = stop or asyncio.Event()
    state = FleetState(settings)
    try:
        await check_start(state)
        log.info("fleet worker ready (host %s)", settings.host)
        while not stop.is_set():
            try:
                await _serve(state, stop, burst)
                if burst:
                    return
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
                # A connection kept across a restart fails once; only a database that
                # cannot be reached now is an outage.
                if not await _reachable(settings.journal):
                    state.database.outage_began(type(exc).__name__)
                else:
                    # Reachable, yet the queue failed (a refused statement, a table it
                    # may not write): said once per failure, and retried at a pace.
                    log.warning(
                        "fleet worker: the job queue failed (%s); starting it again",
                        type(exc).__name__,
                    )
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(1.0):  # not wait_for: see _receivers
                        await stop.wait()
    finally:
        state.stopping.set()
        await state.close()


async def _reachable(dsn: str) -> bool:
    import asyncpg

    try:
        con = await asyncpg.connect(dsn, timeout=2)
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError):
        return False
    await con.close()
    return True


async def _serve(state: FleetState, stop: asyncio.Event, burst: bool) -> None:
    """One pgqueuer queue manager over its own small pool, until ``stop`` or an outage."""
    from pgqueuer import QueueManager
    from pgqueuer.models import Job
    from pgqueuer.queries import Queries
    from pgqueuer.types import QueueExecutionMode

    settings = state.settings
    # The journal's session settings (plans made for each query's arguments) and its
    # free reset: pgqueuer's listener connection resets itself when the manager stops.
    pool = await open_pool(settings.journal, max_size=3, connect_timeout=5)
    try:
        state.database.outage_ended()  # connected: the outage (if any) is over
        qm = QueueManager(Queries.from_asyncpg_pool(pool))

        @qm.entrypoint(AWARD_JOB, on_failure="hold")
        async def award(job: Job) -> None:
            try:
                await run_payload(state, job.payload, priority=job.priority)
            except BadJob as exc:
                log.warning("fleet job %s refused, not run: %s", job.id, exc)
                raise
            except ConfigurationError as exc:
                log.warning("fleet job %s failed, not run: %s", job.id, exc)
                raise

        async def watch() -> None:
            await stop.wait()
            state.stopping.set()
            qm.shutdown.set()

        batch = max(1, settings.max_jobs // 2)
        life = _Life(settings, qm.queue_manager_id)
        await life.register()
        watcher = asyncio.create_task(watch())
        reaper = asyncio.create_task(_reap_dead(life, max(1.0, settings.poll_seconds)))
        try:
            await qm.run(
                dequeue_timeout=timedelta(seconds=settings.poll_seconds),
                batch_size=batch,
                max_concurrent_tasks=max(settings.max_jobs, 2 * batch),
                heartbeat_timeout=timedelta(seconds=settings.stalled_seconds),
                mode=QueueExecutionMode.drain if burst else QueueExecutionMode.continuous,
                log_aggregation_interval=timedelta(0),
            )
        finally:
            watcher.cancel()
            reaper.cancel()
            # Their own cancels are results here; one aimed at this task still raises.
            await asyncio.gather(watcher, reaper, return_exceptions=True)
            await life.unregister()
    finally:
        pool.terminate()


_WORKERS = "stampsync_fleet_workers"

#: How long one liveness statement may take: a host cut off from the database must not
#: hang a worker's shutdown.
_LIFE_TIMEOUT = 5.0


class _Life:
    """This worker's session of life: a connection held as long as the process lives,
    recorded with its queue manager. A worker SIGKILLed (or crashed) closes it at once,
    and the others see it gone (:func:`_reap_dead`) long before its heartbeats go stale.
    """

    def __init__(self, settings: FleetSettings, manager: Any) -> None:
        self.settings = settings
        self.manager = manager
        self.con: asyncpg.Connection | None = None

    async def register(self) -> None:
        """Connect (again) and record this connection as the manager's session."""
        import asyncpg

        self.close()
        con = await asyncpg.connect(self.settings.journal, timeout=_LIFE_TIMEOUT)
        try:
            await con.execute(
                f"INSERT INTO {_WORKERS} (manager, backend, backend_start, host)"  # noqa: S608
                " SELECT $1::uuid, pid, backend_start, $2 FROM pg_stat_activity"
                " WHERE pid = pg_backend_pid()"
                " ON CONFLICT (manager) DO UPDATE SET backend = excluded.backend,"
                " backend_start = excluded.backend_start",
                self.manager,
                self.settings.host,
                timeout=_LIFE_TIMEOUT,
            )
        except BaseException:
            con.terminate()
            raise
        self.con = con

    async def unregister(self) -> None:
        """Leave the list of workers (a worker stopped cleanly hands its jobs on itself)."""
        import asyncpg

        try:
            if self.con is not None:
                with contextlib.suppress(
                    asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError
                ):
                    await self.con.execute(
                        f"DELETE FROM {_WORKERS} WHERE manager = $1::uuid",  # noqa: S608
                        self.manager,
                        timeout=_LIFE_TIMEOUT,
                    )
        finally:
            self.close()

    def close(self) -> None:
        if self.con is not None:
            self.con.terminate()
            self.con = None


async def _reap_dead(life: _Life, every: float) -> None:
    """Every ``every`` seconds: the workers whose session of life has ended are gone;
    their running jobs run again now, not ``stalled_seconds`` after their last heartbeat.

    A session counts as alive while any session has its process id (and, when this
    role may see it, its start time): a false "alive" only leaves the heartbeat to
    notice. Sessions from before the server's last start (a restart, a failover) ended
    with it, not with their workers: their jobs are left to the heartbeats. A false
    "gone" (a worker whose connection alone dropped, until it registers again) runs a
    job twice at once, which the journal makes harmless: a row one run holds, the other
    retries. A host cut off keeps its sessions open until the server notices:
    heartbeats then. Behind a pooler in transaction mode a session is not a worker's:
    connect the workers directly or in session mode.
    """
    import asyncpg

    from .queue import queue_table

    reap = (
        f"WITH gone AS (DELETE FROM {_WORKERS} w WHERE NOT EXISTS ("  # noqa: S608
        " SELECT 1 FROM pg_stat_activity a WHERE a.pid = w.backend"
        " AND (a.backend_start IS NULL OR a.backend_start = w.backend_start))"
        " RETURNING w.manager, w.backend_start)"
        f" UPDATE {queue_table()} q SET heartbeat = to_timestamp(0) FROM gone"
        " WHERE q.queue_manager_id = gone.manager AND q.status = 'picked'"
        " AND gone.backend_start >= pg_postmaster_start_time()"
        " RETURNING q.id"
    )
    while True:
        await asyncio.sleep(every)
        try:
            if life.con is None or life.con.is_closed():
                await life.register()  # the same manager, its new session
            assert life.con is not None
            freed = await life.con.fetch(reap, timeout=_LIFE_TIMEOUT)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
            # The database away: the outage is the journal's to report; heartbeats remain.
            log.debug("fleet worker: cannot look for dead workers (%s)", type(exc).__name__)
            life.close()
            continue
        if freed:
            log.warning(
                "fleet worker: a worker's session ended (it died); its %d running job(s) "
                "run again now",
                len(freed),
            )


__all__ = [
    "AWARD_JOB",
    "MAX_ROW_ATTEMPTS",
    "FleetSettings",
    "FleetState",
    "award_job",
    "check_start",
    "retry_delay",
    "run_payload",
    "run_worker",
]
