"""Report files written so that a refused or crashed run never destroys the last one."""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

from .._files import open_private


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
        self._fh = os.fdopen(fd, "w", encoding="utf-8")
        return self

    def write(self, row: dict[str, Any]) -> None:
        """Append one row (flushed, so a crash keeps what was written)."""
        assert self._fh is not None
        self._fh.write(json.dumps(row) + "\n")
        self._fh.flush()
        self.rows += 1

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
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
