"""Mass writes that must not apply twice: keyed items, a journal, per-item outcomes."""

from __future__ import annotations

import inspect
import json
import uuid
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import anyio

from ..errors import (
    AmbiguousWriteError,
    APIError,
    ConfigurationError,
    DecodeError,
    StampsyncError,
    ThrottleUnavailableError,
    TransportError,
)
from .fanout import fan_out
from .journal import Journal

T = TypeVar("T")

OutcomeStatus = Literal["applied", "failed", "ambiguous"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one item of a mass write.

    Attributes:
        key: the caller's key for the item (an order id, say).
        status: ``applied`` (with ``award_id``), ``failed`` (provably not applied; a rerun
            tries again) or ``ambiguous`` (sent, outcome unknown; resolve before rerunning).
        award_id: the id the server gave the write (award or deduction id), if known.
        error: why it failed or is ambiguous; ``None`` when applied.
        skipped: True when nothing was sent in this run because the journal already
            knew the outcome.
    """

    key: str
    status: OutcomeStatus
    award_id: int | None = None
    error: str | None = None
    skipped: bool = False

    def as_dict(self) -> dict[str, Any]:
        """The report row: key, status, award_id, error."""
        return {
            "key": self.key,
            "status": self.status,
            "award_id": self.award_id,
            "error": self.error,
        }


@dataclass
class BatchReport:
    """Outcomes of a mass write; iterate it for one :class:`Outcome` per input item."""

    outcomes: list[Outcome] = field(default_factory=list)
    counts: dict[str, int] = field(
        default_factory=lambda: {"applied": 0, "failed": 0, "ambiguous": 0, "skipped": 0}
    )
    sent: int = 0
    """Requests sent in this run."""
    interrupted: bool = False
    """True if the batch was stopped before every item was taken."""

    def __iter__(self) -> Iterator[Outcome]:
        return iter(self.outcomes)

    def __len__(self) -> int:
        return sum(self.counts[s] for s in ("applied", "failed", "ambiguous"))

    def add(self, outcome: Outcome, keep: bool) -> None:
        self.counts[outcome.status] += 1
        if outcome.skipped:
            self.counts["skipped"] += 1
        if keep:
            self.outcomes.append(outcome)

    @property
    def exit_code(self) -> int:
        """0 all applied, 1 some failed, 3 some ambiguous (the CLI's exit codes)."""
        if self.counts["ambiguous"]:
            return 3
        if self.counts["failed"]:
            return 1
        return 0


def classify(exc: BaseException) -> tuple[OutcomeStatus, str]:
    """Whether a write that raised ``exc`` was provably not applied, or is ambiguous."""
    text = str(exc)
    if isinstance(exc, AmbiguousWriteError):
        return "ambiguous", text
    if isinstance(exc, TransportError):
        return ("ambiguous", text) if exc.sent else ("failed", text)
    if isinstance(exc, (APIError, ConfigurationError, ThrottleUnavailableError)):
        return "failed", text
    if not isinstance(exc, StampsyncError):
        text = f"{type(exc).__name__}: {text}"
    return "ambiguous", text  # anything unexpected after sending: never assume


@dataclass(frozen=True, slots=True)
class Prepared:
    """An item checked and ready to send: its key, the request to journal, the send."""

    key: str
    request: dict[str, Any]
    send: Callable[[], Awaitable[int | None]]


async def run_writes(
    items: Iterable[T] | AsyncIterable[T],
    prepare: Callable[[T], Prepared],
    *,
    operation: str,
    concurrency: int,
    journal: str | Path | Journal | None = None,
    on_outcome: Callable[[Outcome], Awaitable[None] | None] | None = None,
    keep_outcomes: bool = True,
    stop: anyio.Event | None = None,
) -> BatchReport:
    """Send every item at most once, journaling intent and outcome per key.

    ``prepare(item)`` checks an item and returns what to send; a ConfigurationError
    there fails just that item. Duplicate keys within one run fail the later rows.
    """
    report = BatchReport()
    run = uuid.uuid4().hex
    seen: set[str] = set()
    owned = journal is not None and not isinstance(journal, Journal)
    jrn = Journal(journal) if isinstance(journal, str | Path) else journal

    async def emit(outcome: Outcome) -> None:
        report.add(outcome, keep_outcomes)
        if on_outcome is not None:
            result = on_outcome(outcome)
            if inspect.isawaitable(result):
                await result

    async def one(item: T) -> None:
        raw_key = getattr(item, "key", None)
        key = raw_key.strip() if isinstance(raw_key, str) else ""
        if not key:
            await emit(Outcome(str(raw_key or ""), "failed", error="key is missing"))
            return
        if key in seen:
            await emit(Outcome(key, "failed", error="duplicate key in this batch"))
            return
        seen.add(key)
        try:
            prepared = prepare(item)
        except ConfigurationError as exc:
            await emit(Outcome(key, "failed", error=str(exc)))
            return
        if jrn is not None:
            entry = await jrn.aget(key)
            if entry is not None:
                if entry.request != _normal(prepared.request):
                    await emit(
                        Outcome(
                            key,
                            "failed",
                            error=(
                                f"key {key!r} was already used for a different {operation} in the "
                                "journal; use a new key"
                            ),
                        )
                    )
                    return
                if entry.status == "applied":
                    await emit(Outcome(key, "applied", entry.result_id, skipped=True))
                    return
                if entry.status in ("ambiguous", "pending"):
                    why = entry.error or "interrupted after the request may have been sent"
                    if entry.status == "pending":
                        await jrn.afinish(key, "ambiguous", error=why)
                    await emit(
                        Outcome(
                            key,
                            "ambiguous",
                            entry.result_id,
                            f"unresolved from an earlier run: {why}",
                            skipped=True,
                        )
                    )
                    return
            await jrn.abegin(key, operation, prepared.request, run)
        report.sent += 1
        try:
            result_id = await prepared.send()
        except DecodeError as exc:
            # The server answered 2xx, so it applied the write; only the id is unknown.
            status: OutcomeStatus = "applied" if exc.status < 300 else "ambiguous"
            error = None if status == "applied" else str(exc)
            if jrn is not None:
                await jrn.afinish(key, status, error=error or f"answer unreadable: {exc}")
            await emit(Outcome(key, status, None, error))
            return
        except Exception as exc:
            status, error = classify(exc)
            if jrn is not None:
                await jrn.afinish(key, status, error=error)
            await emit(Outcome(key, status, error=error))
            return
        if jrn is not None:
            await jrn.afinish(key, "applied", result_id=result_id)
        await emit(Outcome(key, "applied", result_id))

    try:
        if jrn is not None and owned:
            await jrn.__aenter__()
        await fan_out(items, one, concurrency=concurrency, stop=stop)
        report.interrupted = stop is not None and stop.is_set()
    finally:
        if jrn is not None and owned:
            await jrn.__aexit__(None, None, None)
    return report


def _normal(request: dict[str, Any]) -> dict[str, Any]:
    """The request as the journal stores it (JSON round trip), for comparison."""
    loaded: dict[str, Any] = json.loads(json.dumps(request, sort_keys=True))
    return loaded
