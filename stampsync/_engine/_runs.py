"""Who is running: a run's identity, whether it is alive, and one-run-at-a-time file locks.

Two batch runs may meet one file: a cron job overlapping a manual rerun. A run is
identified by a random id, its process id, its host and its start time. It is *alive*
while its lease is renewed and, on the same host, while its process exists; a run that
was killed (even with SIGKILL) is recognised as dead at once on the same host, and after
its lease expires from another host.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .._files import open_private
from ..errors import ConcurrentRunError

try:  # POSIX: a lock the kernel releases when its process dies, however it dies.
    import fcntl
except ImportError:  # pragma: no cover - Windows: no lock, documented
    fcntl = None  # type: ignore[assignment]

#: How long a run's claim outlives its last renewal, in seconds. A run renews every
#: third of it; a run on another host that stopped renewing is taken for dead after it.
LEASE_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class RunInfo:
    """One batch run: a random id, its process, host and start time (Unix seconds)."""

    run: str
    pid: int
    host: str
    started_at: float

    @classmethod
    def current(cls) -> RunInfo:
        """A new run of this process."""
        return cls(uuid.uuid4().hex, os.getpid(), socket.gethostname(), time.time())

    def describe(self) -> str:
        """``pid 123 on host-a, started 2026-11-23T08:00:00Z``: enough to find it."""
        started = dt.datetime.fromtimestamp(self.started_at, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return f"pid {self.pid} on {self.host}, started {started}"

    def may_be_alive(self, lease_until: float, now: float | None = None) -> bool:
        """False once its lease expired or, on this host, its process is gone."""
        if lease_until <= (time.time() if now is None else now):
            return False
        if self.host == socket.gethostname():
            return pid_alive(self.pid)
        return True


def pid_alive(pid: int) -> bool:
    """Whether a process with ``pid`` exists on this host (it may belong to someone else)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def exclusive(path: Path, what: str) -> Iterator[RunInfo]:
    """Hold ``path``'s lock file (``path`` + ``.lock``) for one run, or refuse.

    The kernel drops the lock when the process ends, even by SIGKILL, so a dead run never
    blocks the next one. A second live run gets :class:`ConcurrentRunError` naming the
    first (its pid, host and start time), before it touches the file.
    """
    me = RunInfo.current()
    lock_path = path.with_name(path.name + ".lock")
    fd = open_private(lock_path, os.O_RDWR | os.O_CREAT)
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_holder(fd)
                by = f": {holder.describe()}" if holder else ""
                raise ConcurrentRunError(
                    f"{what} {path} is in use by another run{by}; wait for it to finish"
                ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(_as_dict(me)).encode(), 0)
        yield me
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _as_dict(info: RunInfo) -> dict[str, object]:
    return {"run": info.run, "pid": info.pid, "host": info.host, "started_at": info.started_at}


def _read_holder(fd: int) -> RunInfo | None:
    try:
        data = json.loads(os.pread(fd, 4096, 0) or b"null")
        return RunInfo(
            str(data["run"]), int(data["pid"]), str(data["host"]), float(data["started_at"])
        )
    except (ValueError, TypeError, KeyError):
        return None
