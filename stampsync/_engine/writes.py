"""Mass writes that must not apply twice: keyed items, a journal, per-item outcomes."""

from __future__ import annotations

import enum
import inspect
import logging
import signal
import unicodedata
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
)
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypedDict, TypeVar

import anyio

from .._options import BREAKER_THRESHOLD as BREAKER_THRESHOLD  # this path stays
from .._validate import positive
from ..errors import (
    AmbiguousWriteError,
    APIError,
    AuthenticationError,
    ConfigurationError,
    DecodeError,
    StampsyncError,
    StateFileError,
    ThrottleUnavailableError,
    TokenExchangeError,
    TransportError,
)
from ._runs import RunInfo
from .fanout import StopEvent, _aiter, fan_out
from .journal import WriteJournal, open_journal

if TYPE_CHECKING:
    from .._admission import QuotaStart

log = logging.getLogger("stampsync.batch")

T = TypeVar("T")

OutcomeStatus = Literal["applied", "failed", "ambiguous"]


class ExitCode(enum.IntEnum):
    """What a batch's exit code says; the CLI exits with :attr:`BatchReport.exit_code`.

    In order of precedence: an interrupted run says so first (rows were left untried),
    then a run the circuit breaker stopped, then ambiguous rows, then failed ones.
    """

    OK = 0
    """Every row applied (or already applied in the journal)."""
    FAILED = 1
    """Some rows failed and were provably not applied: a rerun sends them again."""
    REFUSED = 2
    """The input, a setting or the journal was refused before anything was sent."""
    AMBIGUOUS = 3
    """Some rows were sent and their outcome is unknown: resolve them before rerunning."""
    STOPPED = 4
    """Stopped early: credentials refused or the server unreachable, so every row would
    fail (or, on the command line, the journal or report could not be written: a full
    disk). Rows not tried are untouched; fix the cause and rerun."""
    CRASHED = 70
    """An internal error (a bug): nothing more was sent; the journal is consistent."""
    INTERRUPTED = 130
    """Stopped by SIGINT (Ctrl-C) before every row was tried; rerun to finish."""
    TERMINATED = 143
    """Stopped by SIGTERM before every row was tried; rerun to finish."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one item of a mass write.

    Attributes:
        key: the caller's key for the item (an order id, say), NFC-normalised.
        status: ``applied`` (with ``award_id``), ``failed`` (provably not applied; a rerun
            tries again) or ``ambiguous`` (sent, outcome unknown; resolve before rerunning).
        award_id: the id the server gave the write, if known: the award's for
            ``add_many``, the deduction's for ``deduct_many``, the transaction's for
            ``transactions.add_many`` (also as :attr:`result_id`, the name that fits them all).
        error: why it failed or is ambiguous; ``None`` when applied.
        skipped: True when nothing was sent in this run because the journal already
            knew the outcome.
        row: the item's row: its ``row`` attribute if it has one (the CLI gives the
            input file's line number), else its 1-based position in the input.
        user: the customer the item is for, as given.
    """

    key: str
    status: OutcomeStatus
    award_id: int | None = None
    error: str | None = None
    skipped: bool = False
    row: int | None = None
    user: str | None = None

    @property
    def result_id(self) -> int | None:
        """The id the server gave the write (``award_id``, named for every kind of write)."""
        return self.award_id

    def as_dict(self) -> dict[str, Any]:
        """The report row: row, key, user, status, award_id, error."""
        return {
            "row": self.row,
            "key": self.key,
            "user": self.user,
            "status": self.status,
            "award_id": self.award_id,
            "error": self.error,
        }


#: What ``on_outcome=`` takes: called with each outcome as it happens (sync or async).
OnOutcome = Callable[[Outcome], Awaitable[None] | None]


class RunEnding:
    """How a run ended, and the exit code that makes: one rule for every report (the
    reports declare these attributes as their dataclass fields)."""

    counts: dict[str, int]
    interrupted: bool
    interrupted_by: int | None
    stopped: str | None

    @property
    def exit_code(self) -> int:
        """The CLI's exit code for this report (see :class:`ExitCode`)."""
        return exit_code(
            interrupted=self.interrupted,
            interrupted_by=self.interrupted_by,
            stopped=self.stopped is not None,
            ambiguous=self.counts.get("ambiguous", 0),
            failed=self.counts["failed"],
        )


@dataclass
class BatchReport(RunEnding):
    """Outcomes of a mass write; iterate it for one :class:`Outcome` per input item."""

    outcomes: list[Outcome] = field(default_factory=list)
    counts: dict[str, int] = field(
        default_factory=lambda: {"applied": 0, "failed": 0, "ambiguous": 0, "skipped": 0}
    )
    """Outcomes by status; ``skipped`` counts the applied ones the journal already had."""
    sent: int = 0
    """Requests sent in this run."""
    interrupted: bool = False
    """True if the batch was stopped (``stop`` set) before every item was taken."""
    interrupted_by: int | None = None
    """The signal number that stopped it, if the caller says (the CLI does)."""
    stopped: str | None = None
    """Why the circuit breaker stopped the run (credentials refused, server unreachable)."""
    held: int = 0
    """Rows not sent because another live run on the same journal was sending them."""

    def __iter__(self) -> Iterator[Outcome]:
        return iter(self.outcomes)

    def __len__(self) -> int:
        return sum(self.counts[s] for s in ("applied", "failed", "ambiguous"))

    def add(self, outcome: Outcome, keep: bool) -> None:
        """Count ``outcome`` (and keep it if ``keep``)."""
        self.counts[outcome.status] += 1
        if outcome.skipped and outcome.status == "applied":
            self.counts["skipped"] += 1
        if keep:
            self.outcomes.append(outcome)


def exit_code(
    *, interrupted: bool, interrupted_by: int | None, stopped: bool, ambiguous: int, failed: int
) -> ExitCode:
    """The batch exit code, by :class:`ExitCode`'s precedence."""
    if interrupted:
        return ExitCode.TERMINATED if interrupted_by == signal.SIGTERM else ExitCode.INTERRUPTED
    if stopped:
        return ExitCode.STOPPED
    if ambiguous:
        return ExitCode.AMBIGUOUS
    if failed:
        return ExitCode.FAILED
    return ExitCode.OK


def classify(exc: BaseException) -> tuple[OutcomeStatus, str]:
    """Whether a write that raised ``exc`` was provably not applied, or is ambiguous."""
    text = str(exc)
    if isinstance(exc, AmbiguousWriteError):
        return "ambiguous", text
    if isinstance(exc, TransportError):
        return ("ambiguous", text) if exc.sent else ("failed", text)
    if isinstance(
        exc,
        APIError
        | ConfigurationError
        | ThrottleUnavailableError
        | StateFileError
        | TokenExchangeError,
    ):
        return "failed", text
    if not isinstance(exc, StampsyncError):
        text = f"{type(exc).__name__}: {text}"
    return "ambiguous", text  # anything unexpected after sending: never assume


def hopeless(exc: BaseException) -> str | None:
    """Why every further request would fail like this one, or None.

    Credentials refused (401, 403) and a server that cannot be reached (no connection, or
    a shared throttle that is down) fail every row alike; anything else may be the row's.
    """
    if isinstance(exc, AuthenticationError):
        return f"credentials refused ({exc.status}): {exc}"
    if isinstance(exc, TransportError) and not exc.sent:
        return f"cannot reach the server: {exc}"
    if isinstance(exc, ThrottleUnavailableError):
        return f"the shared throttle is unavailable: {exc}"
    if isinstance(exc, TokenExchangeError):
        return f"no access token: {exc}"
    return None


@dataclass(frozen=True, slots=True)
class Rejected:
    """An input row a reader could not turn into an item; the batch reports it failed.

    Readers yield it in place of the item so that one unreadable row (a CSV line with
    more cells than the header, say) fails alone, with its reason, and the batch goes on.
    """

    key: str
    error: str
    row: int | None = None
    user: str | None = None


@dataclass(frozen=True, slots=True)
class Prepared:
    """An item checked and ready to send: its key, the request to journal, the send.

    ``send(start)`` makes the request, passing ``start`` (the row's slot and quota start
    taken ahead, or None) on as the write's ``start=``.

    ``settle``, if given, finds out what became of this item when an earlier run left its
    key ambiguous (with the same request: the journal compares it), returning the id if
    it proves the write applied and raising otherwise. It is built from the item of the
    current input, never from what the journal stored.
    """

    key: str
    request: dict[str, Any]
    send: Callable[[QuotaStart | None], Awaitable[int | None]]
    settle: Callable[[], Awaitable[int | None]] | None = None


def normal_key(raw: object) -> str:
    """A key as compared and journaled: stripped, NFC-normalised ("" if not text)."""
    return unicodedata.normalize("NFC", raw.strip()) if isinstance(raw, str) else ""


def key_problem(key: str) -> str | None:
    """Why ``key`` cannot be journaled (a lone surrogate, a NUL), or None."""
    if "\x00" in key:
        return "key contains a NUL character"
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        return (
            "key is not valid Unicode text (it holds a lone surrogate, such as a JSON "
            "\\ud800 escape without its pair)"
        )
    return None


class BatchKeywords(TypedDict, total=False):
    """The keywords every journaled ``*_many`` call takes, all optional:
    :meth:`Stamps.add_many <stampsync.stamps.Stamps.add_many>`, ``deduct_many``,
    ``transactions.add_many``, ``v3.orders.push_many`` and
    ``v3.loyalty.adjust_points_many``."""

    journal: str | Path | WriteJournal | None
    """A SQLite journal file's path (its own scope), a ``postgresql://`` URL (a journal
    shared by a fleet), or an open journal. Without one, nothing is remembered across
    runs (keys are still checked for repeats within the run)."""
    account: str | None
    """The account a ``postgresql://`` journal files the keys under: the same on every
    run, whatever the token or URL. Default: the client's merchant for Stamps (with none,
    a database journal is refused before anything is sent), the shop's store hash for
    Stamped. A key already under another account of the same merchant fails its row and
    stops the run. Not needed for a SQLite file."""
    on_outcome: OnOutcome | None
    """Called with each :class:`Outcome` as it happens (sync or async)."""
    keep_outcomes: bool
    """Keep every outcome in the report (default ``True``; turn it off for huge batches
    and stream them through ``on_outcome``)."""
    stop: StopEvent | None
    """Set it to stop taking new rows; those in flight finish."""
    check_first: bool
    """One cheap authenticated read before the first write (default ``True``), so wrong
    credentials or an unreachable server stop the run before any row is tried."""
    breaker: int
    """Stop after this many credential or connection failures in a row (default 5,
    :attr:`BatchReport.stopped`); rows not tried stay untouched."""


#: The names :class:`BatchKeywords` declares.
BATCH_KEYWORDS = frozenset(BatchKeywords.__annotations__)


class BatchClient(Protocol):
    """What the engine takes from a client: how many rows run at once, and how a row
    takes its connection slot and quota start before its claim."""

    @property
    def concurrent_batch_executions(self) -> int: ...

    async def take_start(self, what: str = ...) -> QuotaStart | None: ...


def batch_options(
    batch: Mapping[str, Any],
    *,
    what: str,
    client: BatchClient,
    preflight: Callable[[], Awaitable[object]],
    account: str | None,
    merchant: str | int | None = None,
) -> BatchOptions:
    """The engine's options for one ``*_many`` call: the caller's :class:`BatchKeywords`
    (checked: an unknown one is refused by name), the account the kind chose, and the
    client's concurrency and quota starts."""
    unknown = sorted(set(batch) - BATCH_KEYWORDS)
    if unknown:
        raise ConfigurationError(
            f"{what}() got unknown keyword argument(s) {', '.join(unknown)}; it takes "
            f"{', '.join(sorted(BATCH_KEYWORDS))}"
        )
    return BatchOptions(
        concurrency=client.concurrent_batch_executions,
        journal=batch.get("journal"),
        account=account,
        merchant=merchant,
        on_outcome=batch.get("on_outcome"),
        keep_outcomes=batch.get("keep_outcomes", True),
        stop=batch.get("stop"),
        preflight=preflight if batch.get("check_first", True) else None,
        breaker=positive(batch.get("breaker", BREAKER_THRESHOLD), "breaker"),
        take_start=client.take_start,
    )


@dataclass(frozen=True, slots=True)
class BatchOptions:
    """The settings of one journaled batch, the same for every kind of write.

    ``journal`` is a SQLite path, a ``postgresql://`` URL (keys filed under ``account``,
    of ``merchant``; refused without an account) or an open journal (see
    :func:`~stampsync.batch.journal.open_journal`). ``preflight`` (a cheap authenticated
    read) runs before the first write; ``breaker`` consecutive credential or connection
    failures stop the run. ``take_start`` (the client's ``take_start``): with a journal,
    each row first takes its connection slot and quota start and only then claims its
    key, so a run that dies leaves ambiguous only the rows it was sending.
    """

    concurrency: int
    journal: str | Path | WriteJournal | None = None
    account: str | None = None
    merchant: str | int | None = None
    on_outcome: OnOutcome | None = None
    keep_outcomes: bool = True
    stop: StopEvent | None = None
    preflight: Callable[[], Awaitable[object]] | None = None
    breaker: int = BREAKER_THRESHOLD
    take_start: Callable[[str], Awaitable[QuotaStart | None]] | None = None


class WriteRun(Generic[T]):
    """One run of a journaled write over many items: claim, send, outcome, per key.

    ``prepare(item)`` checks an item and returns what to send; a ConfigurationError
    there fails just that item. Duplicate keys within one run fail the later rows.
    The preflight or the breaker stopping the run sets :attr:`BatchReport.stopped` and
    leaves the rows not yet tried untouched. A key another account of a shared journal
    answers for fails its row, naming both accounts, and stops the run: its other keys
    are likely that account's too.

    Taking starts ahead, a row whose start cannot be had (the quota's wait outlasts the
    retry budget, a shared throttle is down) fails unclaimed. Rows begun before the
    preflight decided claim first: a start held across the preflight's own request
    could starve it. A run is used once.
    """

    def __init__(
        self, operation: str, prepare: Callable[[T], Prepared], options: BatchOptions
    ) -> None:
        self.operation = operation
        self.prepare = prepare
        self.options = options
        self.report = BatchReport()
        self._seen: set[str] = set()
        self._owned = options.journal is not None and not isinstance(options.journal, WriteJournal)
        self._journal = (
            None
            if options.journal is None
            else open_journal(options.journal, account=options.account, merchant=options.merchant)
        )
        self._me = RunInfo.current() if self._journal is None else self._journal.new_run()
        self._halt = anyio.Event()
        self._streak = 0
        self._checking = anyio.Lock()
        self._check: bool | None = None  # the preflight's verdict, once it ran
        self._settled = None if self._journal is None else getattr(self._journal, "asettled", None)

    async def run(self, items: Iterable[T | Rejected] | AsyncIterable[T | Rejected]) -> BatchReport:
        """Send every item at most once; the report of the run."""
        jrn, stop = self._journal, self.options.stop
        try:
            if jrn is not None and self._owned:
                await jrn.__aenter__()
            if jrn is not None:
                await jrn.astart_run(self._me)
            try:
                async with anyio.create_task_group() as tg:
                    if jrn is not None:
                        tg.start_soon(self._renew, jrn)
                    if stop is not None:
                        tg.start_soon(self._watch, stop)
                    finished = await fan_out(
                        _numbered(items),
                        self._one,
                        concurrency=self.options.concurrency,
                        stop=self._halt,
                    )
                    tg.cancel_scope.cancel()
            finally:
                if jrn is not None:
                    with anyio.CancelScope(shield=True):
                        await jrn.aend_run(self._me)
            # Interrupted only if rows were left untried: a signal after the last row was
            # taken cut nothing off, and "rerun to finish" would be wrong.
            self.report.interrupted = (
                stop is not None and stop.is_set() and not finished and self.report.stopped is None
            )
        finally:
            if jrn is not None and self._owned:
                await jrn.__aexit__(None, None, None)
        return self.report

    # -- the run's state ----------------------------------------------------------------

    def _trip(self, why: str) -> None:
        if self.report.stopped is None:
            self.report.stopped = why
            log.warning("batch stopped: %s", why)
        self._halt.set()

    async def _emit(self, outcome: Outcome, exc: BaseException | None = None) -> None:
        self.report.add(outcome, self.options.keep_outcomes)
        why = None if exc is None else hopeless(exc)
        self._streak = self._streak + 1 if why else 0
        if why and self._streak >= self.options.breaker:
            self._trip(why)
        if self.options.on_outcome is not None:
            result = self.options.on_outcome(outcome)
            if inspect.isawaitable(result):
                await result

    async def _renew(self, journal: WriteJournal) -> None:
        while True:
            await anyio.sleep(journal.lease_seconds / 3)
            try:
                await journal.arenew_run(self._me)
            except StateFileError as exc:
                # A busy or full disk must not kill the run: a lease that lapses only
                # makes other runs take our in-flight keys for ambiguous, never resend them.
                log.warning("could not renew this run's lease on the journal: %s", exc)

    async def _watch(self, event: StopEvent) -> None:
        await event.wait()
        self._halt.set()

    async def _checked_first(self) -> bool:
        # Before the first send, not before the run: a rerun with nothing left to send
        # sends nothing at all.
        preflight = self.options.preflight
        if preflight is None or self.report.stopped:
            return self.report.stopped is None
        if self._check is not None:  # decided: skip the lock, whose acquire yields
            return self._check
        async with self._checking:
            if self._check is None:
                self._check = await self._run_preflight(preflight)
        return self._check

    async def _run_preflight(self, ping: Callable[[], Awaitable[object]]) -> bool:
        try:
            await ping()
        except Exception as exc:
            why = hopeless(exc)
            if why is None:
                log.info("preflight check failed, going on: %s", exc)
                return True
            self._trip(why)
            return False
        return True

    # -- one row ------------------------------------------------------------------------

    async def _one(self, numbered: tuple[int, T | Rejected]) -> None:
        number, item = numbered
        out = _Row(item, number)
        if isinstance(item, Rejected):
            await self._emit(out(normal_key(item.key), "failed", error=item.error))
            return
        key = await self._checked_key(item, out)
        if key is None:
            return
        try:
            prepared = self.prepare(item)
        except ConfigurationError as exc:
            await self._emit(out(key, "failed", error=str(exc)))
            return
        except Exception as exc:
            # Nothing is claimed or sent yet: a row the checks did not foresee (a value of
            # a type no check names) fails alone rather than ending the run.
            log.warning("row %s could not be prepared: %s", out.row, type(exc).__name__)
            why = f"the row cannot be sent: {type(exc).__name__}: {exc}"
            await self._emit(out(key, "failed", error=why))
            return
        start: QuotaStart | None = None
        take_start = await self._start_taker(key)
        if take_start is not None:
            try:
                start = await take_start(self.operation)
            except StampsyncError as exc:
                # Not claimed, not sent: the row fails alone, and a rerun sends it.
                await self._emit(out(key, "failed", error=str(exc)), exc)
                return
        try:
            await self._claim_and_send(key, prepared, out, start)
        finally:
            if start is not None:
                start.release()  # what the request did not use

    async def _checked_key(self, item: T, out: _Row) -> str | None:
        """The item's key, or None once the row has failed for it."""
        raw_key = getattr(item, "key", None)
        key = normal_key(raw_key)
        if not key:
            missing = raw_key is None or isinstance(raw_key, str)
            why = "key is missing" if missing else f"key must be text, got {raw_key!r}"
            await self._emit(out("", "failed", error=why))
            return None
        if problem := key_problem(key):
            shown = key.encode("utf-8", "backslashreplace").decode()
            await self._emit(out(shown, "failed", error=problem))
            return None
        if key in self._seen:
            await self._emit(out(key, "failed", error="duplicate key in this batch"))
            return None
        self._seen.add(key)
        return key

    async def _start_taker(self, key: str) -> Callable[[str], Awaitable[QuotaStart | None]] | None:
        """How the row takes its slot and quota start before its claim, when it is to."""
        if (
            self.options.take_start is None
            or self._settled is None
            or self.report.stopped is not None
        ):
            return None
        if self.options.preflight is not None and not self._check:
            return None
        if await self._settled(key):  # a rerun's settled rows need no quota
            return None
        return self.options.take_start

    async def _claim_and_send(
        self, key: str, prepared: Prepared, out: _Row, start: QuotaStart | None
    ) -> None:
        if self._journal is not None and not await self._claimed(self._journal, key, prepared, out):
            return
        if not await self._checked_first():
            why = f"not sent: {self.report.stopped}"
            if self._journal is not None:
                await self._journal.afinish(key, "failed", error=why, run=self._me)
            await self._emit(out(key, "failed", error=why))
            return
        await self._send(key, prepared, out, start)

    async def _claimed(self, jrn: WriteJournal, key: str, prepared: Prepared, out: _Row) -> bool:
        """Claim ``key``; False once the row's outcome is known without sending it."""
        claim = await jrn.aclaim(key, self.operation, prepared.request, self._me)
        entry = claim.entry
        if claim.kind == "claimed":
            return True
        if claim.kind == "conflict":
            message = (
                f"key {key!r} was already used for a different {self.operation} in the "
                "journal; use a new key"
            )
            await self._emit(out(key, "failed", error=message))
        elif claim.kind == "applied":
            await self._emit(out(key, "applied", entry.result_id if entry else None, skipped=True))
        elif claim.kind == "foreign":
            why = claim.why or f"key {key!r} belongs to another account of the journal"
            await self._emit(out(key, "failed", error=why))
            self._trip(why)
        elif claim.kind == "held":
            self.report.held += 1
            who = claim.holder.describe() if claim.holder else "another run"
            await self._emit(out(key, "failed", error=f"held by another run ({who}); not sent"))
        elif claim.kind == "ambiguous":
            why = claim.why or "interrupted after the request may have been sent"
            if prepared.settle is not None and await self._checked_first():
                await self._settle_earlier(jrn, key, prepared.settle, why, out)
            else:
                error = f"unresolved from an earlier run: {why}"
                result_id = entry.result_id if entry else None
                await self._emit(out(key, "ambiguous", result_id, error, skipped=True))
        return False

    async def _send(
        self, key: str, prepared: Prepared, out: _Row, start: QuotaStart | None
    ) -> None:
        jrn = self._journal
        self.report.sent += 1
        try:
            result_id = await prepared.send(start)
        except DecodeError as exc:
            # The server answered 2xx, so it applied the write; only the id is unknown.
            status: OutcomeStatus = "applied" if exc.status < 300 else "ambiguous"
            error = None if status == "applied" else str(exc)
            if jrn is not None:
                await jrn.afinish(
                    key, status, error=error or f"answer unreadable: {exc}", run=self._me
                )
            await self._emit(out(key, status, None, error))
            return
        except Exception as exc:
            status, error = classify(exc)
            if jrn is not None:
                await jrn.afinish(key, status, error=error, run=self._me)
            await self._emit(out(key, status, error=error), exc)
            return
        if jrn is not None:
            await jrn.afinish(key, "applied", result_id=result_id, run=self._me)
        await self._emit(out(key, "applied", result_id))

    async def _settle_earlier(
        self,
        jrn: WriteJournal,
        key: str,
        settle: Callable[[], Awaitable[int | None]],
        why: str,
        out: _Row,
    ) -> None:
        # An earlier run's ambiguous key, named by this input with the same request:
        # find out from the server what became of it, through the item's own settle.
        self.report.sent += 1
        try:
            result_id = await settle()
        except Exception as exc:
            error = f"unresolved from an earlier run: {why}; not settled: {exc}"
            await self._emit(out(key, "ambiguous", None, error), exc)
            return
        try:
            await jrn.aresolve(key, applied=True, result_id=result_id, note="settled")
        except ConfigurationError:
            # Another run settled it meanwhile: its verdict stands.
            entry = await jrn.aget(key)
            if entry is None or entry.status != "applied":
                status = "ambiguous" if entry is None else entry.status
                error = f"settled elsewhere meanwhile ({status})"
                await self._emit(
                    out(key, "ambiguous" if status != "failed" else "failed", None, error)
                )
                return
            result_id = entry.result_id
        await self._emit(out(key, "applied", result_id))


class _Row:
    """Makes the outcomes of one input row (its row number and user filled in)."""

    __slots__ = ("row", "user")

    def __init__(self, item: object, number: int) -> None:
        self.row: int = getattr(item, "row", None) or number
        raw_user = getattr(item, "user", None)
        self.user = None if raw_user is None else str(raw_user)

    def __call__(
        self,
        key: str,
        status: OutcomeStatus,
        award_id: int | None = None,
        error: str | None = None,
        skipped: bool = False,
    ) -> Outcome:
        return Outcome(key, status, award_id, error, skipped, self.row, self.user)


async def _numbered(
    items: Iterable[T | Rejected] | AsyncIterable[T | Rejected],
) -> AsyncIterator[tuple[int, T | Rejected]]:
    position = 0
    async for item in _aiter(items):
        position += 1
        yield position, item
