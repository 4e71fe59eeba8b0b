"""Report files written so that a refused or crashed run never destroys the last one."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Self

import typer

from .._engine._runs import pid_alive
from .._engine.writes import BatchReport, ExitCode
from .._files import open_private
from ..errors import ConfigurationError, StateFileError
from ._common import fail

try:  # POSIX: a lock the kernel releases when its process dies, however it dies.
    import fcntl
except ImportError:  # pragma: no cover - Windows: stale partial files stay, documented
    fcntl = None  # type: ignore[assignment]


class Aborted(Exception):
    """A second SIGINT/SIGTERM cut the run short; ``signum`` is the first signal's number."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"aborted by signal {signum}")
        self.signum = signum


class ReportFile:
    """A JSONL report written beside its path and renamed over it when the run ends.

    The old report stays whole until the new one is complete (or as complete as an
    interrupted run makes it); the file is created 0600 since rows name customers.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
        self._fh: IO[str] | None = None
        self.rows = 0

    def __enter__(self) -> Self:
        fd = open_private(self._partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        if fcntl is not None:
            # Held while this run writes: the next run knows a partial file is stale
            # (its run died, SIGKILLed say) when it can take the lock.
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._fh = os.fdopen(fd, "w", encoding="utf-8")
        self._remove_stale()
        return self

    def _remove_stale(self) -> None:
        """Remove the partial reports of runs that died (killed before renaming theirs):
        unlocked, and their process gone. Another live run's file is left alone."""
        if fcntl is None:
            return
        for other in self.path.parent.glob(f".{glob_escape(self.path.name)}.*.partial"):
            pid = other.name.removeprefix(f".{self.path.name}.").removesuffix(".partial")
            if other == self._partial or not pid.isdigit() or pid_alive(int(pid)):
                continue
            try:
                fd = os.open(other, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            except OSError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue  # held: its run is alive (on another host sharing the folder)
            else:
                with contextlib.suppress(OSError):
                    other.unlink()
            finally:
                os.close(fd)

    def write(self, row: dict[str, Any]) -> None:
        """Append one row (flushed, so a crash keeps what was written)."""
        assert self._fh is not None
        self._fh.write(json.dumps(row) + "\n")
        self._fh.flush()
        self.rows += 1

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        assert self._fh is not None
        self._fh.close()
        if exc_type is not None and self.rows == 0:
            # Refused (or failed) before any row was done: the last report still says
            # what the last run did, so it stays.
            self._partial.unlink(missing_ok=True)
            return
        # Even an interrupted or crashed run's rows are worth keeping: they are what was
        # done. The rename is atomic, so a reader sees the old report or the new one.
        os.replace(self._partial, self.path)


def glob_escape(name: str) -> str:
    """``name`` with the characters :meth:`Path.glob` reads as a pattern escaped."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


def write_failure(exc: BaseException) -> str | None:
    """What stopped a run when ``exc`` is a journal or report that could not be written
    (a full disk, say), found inside exception groups; ``None`` for anything else."""
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            if (found := write_failure(inner)) is not None:
                return found
        return None
    if isinstance(exc, StateFileError):
        return str(exc)
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        return f"cannot write {where}{exc.strerror or exc}"
    return None


@contextmanager
def batch_report(path: Path) -> Iterator[ReportFile]:
    """The report of a batch command, opened now, and its files' failures as exit codes.

    A report path that cannot be opened (a symbolic link, a directory) refuses the run
    (exit 2) before anything is sent. A journal or report that cannot be written during
    the run (a full disk) stops it with exit 4, the cause named (not as an internal
    error): rows not tried are untouched, rows in flight are in the journal as sent.
    """
    report = ReportFile(path)
    try:
        report.__enter__()
    except ConfigurationError as exc:
        fail(str(exc))
    with stop_on_write_failure():
        try:
            yield report
        except BaseException as exc:
            report.__exit__(type(exc), exc, exc.__traceback__)
            raise
        report.__exit__(None, None, None)


@contextmanager
def stop_on_write_failure() -> Iterator[None]:
    """A journal, state or report file that cannot be written during a run (a full
    disk) ends the command with exit 4 and the cause named; anything else goes on up."""
    try:
        yield
    except Exception as exc:
        why = write_failure(exc)
        if why is None:
            raise
        fail(
            f"stopped: {why}; rows not tried are untouched: free the space (or fix the file) "
            "and rerun the same command",
            ExitCode.STOPPED,
        )


def run_batch_file(
    journal: object,
    report: Path,
    run: Callable[[ReportFile], Coroutine[Any, Any, BatchReport]],
    writes: str,
) -> BatchReport:
    """Run a journaled batch command's loop with its report file: a second signal
    (:class:`Aborted`) exits 128 + its number, saying ``writes`` in flight are ambiguous;
    a SQLite journal is closed either way."""
    from .._engine.journal import Journal
    from ._common import err

    try:
        with batch_report(report) as out:
            return asyncio.run(run(out))
    except Aborted as aborted:
        err.print(f"[yellow]aborted: {writes} in flight are ambiguous; see the journal")
        raise typer.Exit(128 + aborted.signum) from None
    finally:
        if isinstance(journal, Journal):
            journal.close()
