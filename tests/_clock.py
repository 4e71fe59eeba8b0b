"""A loop clock that jumps instead of waiting, so timing tests run in no real time.

Everything stampsync times (the pacer, the sliding log, the retry budget, per-attempt
timeouts, backoff sleeps, JWT renewal) reads the running loop's ``loop.time()``. Like
aiolimiter's ``MockLoopTime``, :class:`FakeLoopTime` patches that method on the loop; in
addition, whenever the loop has nothing ready and would block waiting for a timer, the
clock jumps to that timer instead. Sleeps, timeouts and throttle waits then take no real
time, and happen in the same order as they would in real time.

Sockets still work: before a jump the loop looks for I/O, and gives loopback traffic a
moment (``SETTLE`` real seconds) to arrive. A server that answers slowly on purpose must
therefore run in the test's own loop (``RecordingServer(in_loop=True)``), where its sleeps
are on this clock too. Work sent to the loop's executor (``run_in_executor``, ``to_thread``)
is waited for before any jump, and so is a sandbox serving from a thread of this process
(``Sandbox()``, the ``stampsync_sandbox`` fixture): while one is alive the clock moves
in real time, since an answer it is still working on would otherwise lose to the
client's 30 s timeout. Another thread or a subprocess of the test's own, working in
real time, would look idle: such a test is marked ``real_time``.
"""

from __future__ import annotations

import asyncio
import selectors
import threading
from collections.abc import Callable
from typing import Any

Event = tuple[selectors.SelectorKey, int]

#: Real seconds the loop waits for I/O before it jumps the clock to its next timer.
#: Loopback traffic between sockets of one loop is normally there at once; this covers a
#: kernel that hands delivery to a busy softirq thread.
SETTLE = 0.003
#: Loop seconds one turn of the loop takes on the fake clock.
TURN = 1e-9
#: How the sandbox names the thread it serves from (``stampsync/sandbox/server.py``).
SANDBOX_THREAD = "stampsync-sandbox-"


def sandbox_serving() -> bool:
    """Whether a sandbox serves from a thread of this process, on real time."""
    return any(t.name.startswith(SANDBOX_THREAD) for t in threading.enumerate())


class FakeLoopTime:
    """Replace ``loop.time()`` with a clock that only moves when the loop would wait.

    ``advance(seconds)`` moves it by hand; ``now`` reads it. Use as a context manager or
    call :meth:`install` / :meth:`uninstall`.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.loop = loop or asyncio.get_running_loop()
        # Start at the real loop time, so timers already scheduled keep their meaning.
        self.now = self.loop.time()
        self.jumps = 0
        self._selector: selectors.BaseSelector = self.loop._selector  # type: ignore[attr-defined]
        self._real_select: Callable[[float | None], list[Event]] = self._selector.select
        self._real_run_in_executor = self.loop.run_in_executor
        self._real_clock = self.loop.time
        self._in_threads = 0  # executor jobs not finished yet

    def time(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward by hand (timers due by then fire on the next loop turn)."""
        self.now += seconds

    def _select(self, timeout: float | None = None) -> list[Event]:
        # A nanosecond per loop turn, as a real clock would move: code that re-arms a
        # timer for a float remainder (aiolimiter's leak) would otherwise spin forever
        # on a timer always due "now".
        self.now += TURN
        events = self._real_select(0)
        if events or timeout == 0:
            return events
        if timeout is None or self._in_threads:
            # No timer at all, or work in the executor (the journal's SQLite, to_thread):
            # only I/O or that thread can wake the loop, and the thread's work takes no
            # loop time. Wait for it for real.
            return self._real_select(None)
        if sandbox_serving():
            # Its answers take real time (CI once saw one take longer than SETTLE, and
            # a write time out at once): wait for the timer for real, as a real clock would.
            started = self._real_clock()
            events = self._real_select(timeout)
            self.now += self._real_clock() - started
            return events
        events = self._real_select(min(SETTLE, timeout))
        if events:
            return events
        self.now += timeout  # the loop computed it as (next timer - now)
        self.jumps += 1
        return []

    def _run_in_executor(self, executor: Any, func: Any, *args: Any) -> asyncio.Future[Any]:
        future = self._real_run_in_executor(executor, func, *args)
        self._in_threads += 1
        future.add_done_callback(self._thread_done)
        return future

    def _thread_done(self, _: object) -> None:
        self._in_threads -= 1

    def install(self) -> FakeLoopTime:
        self.loop.time = self.time  # type: ignore[method-assign]
        self.loop.run_in_executor = self._run_in_executor  # type: ignore[method-assign,assignment]
        self._selector.select = self._select  # type: ignore[method-assign]
        return self

    def uninstall(self) -> None:
        for name, owner in (
            ("time", self.loop),
            ("run_in_executor", self.loop),
            ("select", self._selector),
        ):
            if name in vars(owner):
                delattr(owner, name)

    @classmethod
    def on_running_loop(cls) -> FakeLoopTime:
        """The running loop's fake clock, installed now if it has none yet."""
        loop = asyncio.get_running_loop()
        installed = getattr(loop.time, "__self__", None)
        if isinstance(installed, cls):
            return installed
        return cls(loop).install()

    def __enter__(self) -> FakeLoopTime:
        return self.install()

    def __exit__(self, *_: object) -> None:
        self.uninstall()
