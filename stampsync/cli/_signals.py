"""SIGINT and SIGTERM in a batch command: the first stops taking rows, a second aborts."""

from __future__ import annotations

import asyncio
import signal
from types import TracebackType
from typing import Self

import anyio

from ._common import err
from ._report import Aborted

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class GracefulStop:
    """While entered (inside the event loop), SIGINT/SIGTERM set :attr:`event`.

    The batch watches :attr:`event` and takes no new rows; what it has in hand finishes,
    so the journal, state and report stay consistent, and the exit code says which
    signal came (130 or 143). A second signal cancels the task that entered this, and
    leaving turns that cancellation into :class:`Aborted`: a quiet exit, no traceback.
    """

    def __init__(self, stopping: str) -> None:
        self.event = anyio.Event()
        self.received: list[int] = []
        self._stopping = stopping

    @property
    def signum(self) -> int | None:
        """The first signal received, if any."""
        return self.received[0] if self.received else None

    def __enter__(self) -> Self:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        for signum in SIGNALS:
            self._loop.add_signal_handler(signum, self._on_signal, signum)
        return self

    def _on_signal(self, signum: int) -> None:
        self.received.append(signum)
        if len(self.received) == 1:
            err.print(f"[yellow]stopping: {self._stopping} (again to abort)")
            self.event.set()
        elif self._task is not None:
            self._task.cancel()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for signum in SIGNALS:
            self._loop.remove_signal_handler(signum)
        if isinstance(exc, asyncio.CancelledError) and len(self.received) > 1:
            raise Aborted(self.received[0]) from None
