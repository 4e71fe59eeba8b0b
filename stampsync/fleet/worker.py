"""The fleet's worker: arq settings, one client per store on demand, the award job.

arq runs a job at least once: again after a worker dies (once the job's in-progress mark
expires, ``job_timeout`` + 10 s after it started), or when the job asks to be retried.
Every run of a job is a journal run of its own, so a rerun skips the rows applied,
leaves a dead run's in-flight rows ambiguous, and sends only what was provably not.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import socket
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import anyio

from ..batch._runs import LEASE_SECONDS
from ..batch.postgres import PgDatabase, PgJournal, safe_dsn
from ..batch.writes import Outcome, Rejected, key_problem, normal_key
from ..errors import ConfigurationError, JournalError
from ..stamps.client import StampsClient
from ..stamps.stamps import DEFAULT_MAX_STAMPS, StampAward
from ..throttle import RedisThrottles
from .credentials import CredentialsProvider

log = logging.getLogger("stampsync.fleet")

#: The name the award job is queued under.
AWARD_JOB = "stampsync.award"

#: How often a job is run when it fails in a way nobody planned for (not the journal's
#: outage, not a soft stop): a rerun is safe, and most such faults pass.
UNEXPECTED_TRIES = 5

_SETTINGS = "stampsync_settings"
_STATE = "stampsync_fleet"


@dataclass
class FleetSettings:
    """What every worker of a fleet needs; the same for all workers of one fleet.

    Attributes:
        redis_url: Redis for the queue and the per-store quotas.
        journal: the shared journal, ``postgresql://...``.
        credentials: ``provider(account)`` -> StampsClient keyword arguments.
        throttle_key: the quota key template; ``{account}`` is the store.
        throttle_limit: each store's most requests per window.
        throttle_seconds: each store's window, in seconds.
        host: this worker's host id in the journal (default: the machine's name). Runs
            of the same host are known dead as soon as their process is gone; runs of
            other hosts when their lease lapses.
        job_timeout: arq's hard limit per job. A job stops taking rows at half of it
            and queues the rest as a new job, so it never meets the limit.
        concurrency: awards claimed at once per job. A store's rate is its quota's
            anyway, and a row is claimed (its intent committed) before it waits for the
            quota, so every claimed row of a worker that dies becomes ambiguous: keep it
            low. 1 keeps a store at its full rate as long as a request takes less than
            the quota's interval.
        max_jobs: jobs one worker process runs at once.
        max_tries: how often arq may run a job (each soft stop is a try).
        lease_seconds: a job run's journal lease.
        outage_seconds: how long journal operations wait for PostgreSQL to come back.
        max_stamps: the per-award guard of :meth:`~stampsync.stamps.stamps.Stamps.add_many`.
        queue_name: arq's queue (default: arq's).
    """

    redis_url: str
    journal: str
    credentials: CredentialsProvider
    throttle_key: str = "stamps:{account}"
    throttle_limit: int = 500
    throttle_seconds: float = 60.0
    host: str = field(default_factory=socket.gethostname)
    job_timeout: float = 120.0
    concurrency: int = 1
    max_jobs: int = 50
    max_tries: int = 1000
    lease_seconds: float = LEASE_SECONDS
    outage_seconds: float = 60.0
    max_stamps: int = DEFAULT_MAX_STAMPS
    queue_name: str | None = None

    def __repr__(self) -> str:
        from .._redis_throttle import safe_url

        return (
            f"FleetSettings(redis_url={safe_url(self.redis_url)!r}, "
            f"journal={safe_dsn(self.journal)!r}, throttle_key={self.throttle_key!r}, "
            f"throttle_limit={self.throttle_limit}, throttle_seconds={self.throttle_seconds:g}, "
            f"host={self.host!r})"
        )


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
        )
        self._clients: dict[str, StampsClient] = {}
        self._making: dict[str, asyncio.Lock] = {}
        self._gates: dict[str, asyncio.Semaphore] = {}

    def gate(self, account: str) -> asyncio.Semaphore:
        """At most ``concurrency`` rows of ``account`` claimed at once in this process,
        whichever of its jobs they belong to: a row is claimed before it waits for the
        store's quota, and a worker that dies leaves its claimed rows ambiguous."""
        found = self._gates.get(account)
        if found is None:
            found = self._gates[account] = asyncio.Semaphore(self.settings.concurrency)
        return found

    async def open(self) -> None:
        await self.database.open()

    def journal(self, account: str) -> PgJournal:
        """The journal of ``account`` over this process's pool."""
        return PgJournal(
            self.database,
            account=account,
            host=self.settings.host,
            lease_seconds=self.settings.lease_seconds,
        )

    async def client(self, account: str) -> StampsClient:
        """The open client of ``account``, made from the provider's credentials once."""
        found = self._clients.get(account)
        if found is not None:
            return found
        lock = self._making.setdefault(account, asyncio.Lock())
        async with lock:
            found = self._clients.get(account)
            if found is None:
                found = await self._make(account)
                self._clients[account] = found
        return found

    async def _make(self, account: str) -> StampsClient:
        given = self.settings.credentials(account)
        if inspect.isawaitable(given):
            given = await given
        if not isinstance(given, Mapping) or "token" not in given:
            raise ConfigurationError(
                f"the credentials provider gave no token for account {account!r}"
            )
        if "throttle" in given:
            raise ConfigurationError(
                "a credentials provider may not set the throttle: the fleet's is the store's"
            )
        kwargs = dict(given)
        kwargs.setdefault("concurrent_batch_executions", self.settings.concurrency)
        client = StampsClient(**kwargs, throttle=self.throttles.for_account(account))
        await client.__aenter__()
        return client

    async def close(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()
        await self.throttles.aclose()
        await self.database.close()


def _award(row: Mapping[str, Any]) -> StampAward | Rejected:
    key, user = str(row.get("key", "")), str(row.get("user", ""))
    if row.get("rejected"):
        return Rejected(key, str(row["rejected"]), row.get("row"), user or None)

    def number(value: Any) -> Any:
        try:
            return int(str(value).strip())
        except ValueError:
            return value  # the award's own check fails the row with a clear message

    store = row.get("store")
    return StampAward(
        key=key,
        user=user,
        number_of_stamps=number(row.get("number_of_stamps", "")),
        store=number(store) if store not in (None, "") else None,
        notes=row.get("notes") or None,
        expiration_date=row.get("expiration_date") or None,
        row=row.get("row"),
    )


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


def _journal_error(exc: BaseException) -> JournalError | None:
    return _found(exc, JournalError)


async def _count_failure(ctx: dict[str, Any], try_: int) -> int:
    """How often this job has failed unexpectedly, this time included (kept in Redis a
    day, by job id); arq's own try count when Redis cannot say."""
    key = f"stampsync:failures:{ctx.get('job_id', '')}"
    try:
        failures = int(await ctx["redis"].incr(key))
        await ctx["redis"].expire(key, 86400)
    except Exception:  # no Redis at hand: arq's count, which is never lower
        return try_
    return failures


async def award_job(
    ctx: dict[str, Any], account: str, rows: list[dict[str, Any]]
) -> dict[str, Any]:
    """The arq job: award ``rows`` of ``account`` through its quota and the journal.

    Returns the outcome counts. Asks arq to run it again (``Retry``) when it stopped
    taking rows at its soft deadline, when rows were held by another live run, when the
    server could not be reached, or when the journal stayed away past its outage limit.
    """
    from arq.constants import default_queue_name
    from arq.worker import Retry

    state: FleetState = ctx[_STATE]
    settings = state.settings
    journal = state.journal(account)
    stop = anyio.Event()
    gate = state.gate(account)
    held = 0
    taken = 0
    try_ = int(ctx.get("job_try", 1))
    started = anyio.current_time()

    async def soft_deadline() -> None:
        await anyio.sleep_until(started + settings.job_timeout / 2)
        stop.set()

    async def items() -> AsyncIterator[StampAward | Rejected]:
        nonlocal held, taken
        for row in rows:
            await gate.acquire()  # released by the row's outcome
            held += 1
            taken += 1
            yield _award(row)

    def settled(_: Outcome) -> None:
        nonlocal held
        held -= 1
        gate.release()

    deadline: anyio.CancelScope | None = None
    try:
        # Within arq's own timeout: arq does not run a timed-out job again, so a job held
        # up past it (a journal outage, a long quota wait) would drop its unclaimed rows.
        with anyio.fail_after(settings.job_timeout * 0.9) as deadline:
            client = await state.client(account)  # a provider's fault is retried too
            # Its settled rows (a rerun's) in one read, rather than one per row. Only keys
            # the batch can journal: it fails the others row by row.
            keys = [normal_key(row.get("key")) for row in rows]
            await journal.aprefetch([k for k in keys if k and key_problem(k) is None])
            async with anyio.create_task_group() as tg:
                tg.start_soon(soft_deadline)
                report = await client.stamps.add_many(
                    items(),
                    journal=journal,
                    on_outcome=settled,
                    keep_outcomes=False,
                    stop=stop,
                    check_first=False,
                    max_stamps=settings.max_stamps,
                )
                tg.cancel_scope.cancel()
    except Exception as exc:
        if isinstance(exc, TimeoutError) and deadline is not None and deadline.cancelled_caught:
            log.warning("fleet job for %s outlived its time; retrying", account)
            raise Retry(defer=5) from None
        failure = _journal_error(exc)
        if failure is not None:
            log.warning("fleet job for %s: journal unavailable, retrying: %s", account, failure)
            raise Retry(defer=5) from None
        bad_settings = _found(exc, ConfigurationError)
        if bad_settings is not None:
            raise bad_settings from None
        # Anything else that escaped the batch (a driver's fault, a provider's, a bug): a
        # rerun is safe, since the journal skips what this run settled, while a job that
        # fails for good leaves its untried rows out of the journal (``fleet status``
        # lists such jobs). Counted apart from arq's tries, which held rows and journal
        # outages use up too.
        failures = await _count_failure(ctx, try_)
        if failures >= UNEXPECTED_TRIES:
            raise
        log.exception("fleet job for %s (failure %d) failed; retrying", account, failures)
        raise Retry(defer=5 * failures) from None
    finally:
        for _ in range(held):  # rows that never reached an outcome (the job failed)
            gate.release()
    counts = {**report.counts, "sent": report.sent, "held": report.held}
    log.info("fleet job for %s (try %d): %s", account, try_, counts)
    if report.held:
        raise Retry(defer=max(1.0, settings.lease_seconds / 3))
    if report.stopped is not None and try_ < 5:
        log.warning("fleet job for %s stopped (%s); retrying", account, report.stopped)
        raise Retry(defer=5 * try_)
    if report.interrupted and taken < len(rows):
        # The rows not taken go on in a job of their own, so no run checks the rows this
        # one settled again. It keeps this job's place in the queue (its score): at the
        # back, behind every other store's jobs, a store could be left with no job
        # running for seconds (measured: 1-4 s gaps per store at 50 stores). If this
        # worker dies before the job is marked done, arq runs this job again too: the
        # journal skips its rows.
        score = ctx.get("score")
        await ctx["redis"].enqueue_job(
            AWARD_JOB,
            account,
            rows[taken:],
            _job_id=f"{ctx.get('job_id', 'job')}+{taken}",
            _queue_name=settings.queue_name or default_queue_name,
            _defer_until=(
                datetime.fromtimestamp(score / 1000, tz=UTC) if isinstance(score, int) else None
            ),
            # arq's default lifetime counts from the score: a day less the time already
            # spent, which a long chain of continuations would use up.
            _expires=timedelta(days=1),
        )
        counts["continued"] = len(rows) - taken
    return counts


async def _startup(ctx: dict[str, Any]) -> None:
    state = FleetState(ctx[_SETTINGS])
    await state.open()
    ctx[_STATE] = state


async def _shutdown(ctx: dict[str, Any]) -> None:
    state: FleetState | None = ctx.pop(_STATE, None)
    if state is not None:
        await state.close()


def worker_settings(settings: FleetSettings) -> dict[str, Any]:
    """Keyword arguments of ``arq.Worker`` for a fleet worker: ``Worker(**them).run()``.

    The worker opens the journal's pool and the per-store quotas at startup and builds a
    client per store on its first job for that store.
    """
    from arq.connections import RedisSettings
    from arq.worker import func

    if not isinstance(settings, FleetSettings):
        raise ConfigurationError("worker_settings needs a FleetSettings")
    try:
        redis_settings = RedisSettings.from_dsn(settings.redis_url)
    except (RuntimeError, ValueError) as exc:
        raise ConfigurationError(f"bad redis url: {exc}") from None
    out: dict[str, Any] = {
        "functions": [
            func(
                award_job,
                name=AWARD_JOB,
                timeout=settings.job_timeout,
                max_tries=settings.max_tries,
            )
        ],
        "redis_settings": redis_settings,
        "on_startup": _startup,
        "on_shutdown": _shutdown,
        "max_jobs": settings.max_jobs,
        "job_timeout": settings.job_timeout,
        "max_tries": settings.max_tries,
        "poll_delay": 0.5,
        # SIGTERM/SIGINT: stop picking jobs and let the running ones end, which they do
        # by their soft deadline (half the timeout), queuing their rest; cancelling them
        # would leave their claimed rows ambiguous.
        "job_completion_wait": max(1, int(settings.job_timeout)),
        "keep_result": 3600,
        "ctx": {_SETTINGS: settings},
    }
    if settings.queue_name:
        out["queue_name"] = settings.queue_name
    return out


__all__ = [
    "AWARD_JOB",
    "UNEXPECTED_TRIES",
    "FleetSettings",
    "FleetState",
    "award_job",
    "worker_settings",
]
