"""Stopping the suite stops its servers: SIGTERM tears fixtures down as Ctrl-C does.

The servers the fixtures start (redis-server, PostgreSQL clusters, sandboxes, fleet
workers) are stopped by the fixtures' own teardown, by process id. pytest runs that
teardown on Ctrl-C (``KeyboardInterrupt``) but a SIGTERM (what nox, CI runners and
``kill`` send) ends the process at once and leaves them running. Turned into a
``KeyboardInterrupt`` in the main thread, it takes the same path.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # Once: a second SIGTERM during teardown should not cut teardown short.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt(f"stopped by signal {signum}")


def install() -> None:
    """Make SIGTERM stop the test run the way Ctrl-C does (main thread only)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)
