"""The in-process throttle and the protocol of every throttle (:mod:`stampsync.throttle`)."""

from __future__ import annotations

import asyncio
import collections
import heapq
import itertools
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from aiolimiter import AsyncLimiter

from .errors import ClientStateError, ConfigurationError

log = logging.getLogger("stampsync.throttle")

__all__ = [
    "BULK",
    "INTERACTIVE",
    "LANES",
    "FairTurns",
    "Flow",
    "LaneThrottle",
    "LocalShare",
    "LocalThrottle",
    "OverBudget",
    "Plan",
    "SendStampingThrottle",
    "Throttle",
    "Ticket",
    "check_lane",
    "check_limits",
    "check_reserve",
    "default_margin",
    "reserve_slots",
]

#: The lane of single calls a person or a bot waits for: it may use the reserve.
INTERACTIVE = "interactive"
#: The lane of exports, batches, imports and fleet jobs: never the reserve's slots.
BULK = "bulk"
LANES = (INTERACTIVE, BULK)
#: The reserve's default fraction of the limit, held for interactive starts.
DEFAULT_RESERVE = 0.1


@runtime_checkable
class Throttle(Protocol):
    """What the transport needs from a throttle (in-process or shared)."""

    @property
    def limit(self) -> int:
        """Most request starts in any window."""
        ...

    @property
    def seconds(self) -> float:
        """The window's length in seconds."""
        ...

    async def acquire(self) -> None:
        """Wait until one more request may start now, and count it as started."""
        ...

    async def rate_limited(self, retry_after: float | None) -> float:
        """Tell the throttle the server answered 429; every caller pauses together.

        Returns the pause in seconds that now applies.
        """
        ...


class Ticket(Protocol):
    """A granted start, counted as happening now until :meth:`sent` fixes its time."""

    def sent(self) -> None:
        """The server has the request (its answer came, or it failed after connecting):
        count the start at this moment."""
        ...

    def release(self) -> None:
        """The attempt is over; if :meth:`sent` was never called, give the start back.

        After :meth:`sent` it does nothing, so a caller may skip it then."""
        ...


@runtime_checkable
class SendStampingThrottle(Throttle, Protocol):
    """A throttle that counts a start once the server has it, not when it is granted."""

    async def reserve(self, within: float | None = None) -> Ticket:
        """Wait until one more start fits; hold it until the ticket says ``sent``.

        Raises :class:`OverBudget` at once, instead of waiting, when the wait would end
        more than ``within`` seconds from now.
        """
        ...


@runtime_checkable
class LaneThrottle(SendStampingThrottle, Protocol):
    """A throttle with lanes: a reserve of each window held for interactive starts."""

    @property
    def reserve_fraction(self) -> float:
        """The fraction of the limit held for interactive starts."""
        ...

    async def reserve(self, within: float | None = None, lane: str = INTERACTIVE) -> Ticket:
        """As :meth:`SendStampingThrottle.reserve`, in ``lane`` (``"interactive"`` or
        ``"bulk"``)."""
        ...

    def plan(
        self,
        requests: int,
        *,
        round_trip: float = 0.0,
        connections: int | None = None,
    ) -> Plan:
        """An estimate of the time ``requests`` bulk starts take (see :class:`Plan`)."""
        ...


# eq=False: plans compare by identity, as they always have; repr=False: the short one below.
@dataclass(slots=True, eq=False, repr=False)
class Plan:
    """An estimate of how long a number of bulk requests takes, and what limits it.

    Attributes:
        requests: how many requests.
        seconds: the estimated time to make them all, in seconds.
        rate: the sustained starts per second the estimate assumes.
        limited_by: what sets ``rate``: ``"quota"`` (the window, less the reserve),
            ``"connections"`` (too few in flight for the round trip) or ``"round trip"``
            (each start holds its slot for its round trip, a large share of the window).
        limit: the limit in force (learned from 429s) the estimate used.
        bulk_limit: the starts of a window the bulk lane may take (``limit`` less the reserve).
        window: the window's length in seconds.
        round_trip: the round trip in seconds the estimate used.
        in_flight_needed: requests to keep in flight to reach the quota's rate.
    """

    requests: int
    seconds: float
    rate: float
    limited_by: str
    limit: int
    bulk_limit: int
    window: float
    round_trip: float
    in_flight_needed: int

    def __repr__(self) -> str:
        return (
            f"Plan(requests={self.requests}, seconds={self.seconds:.1f}, "
            f"rate={self.rate:.2f}, limited_by={self.limited_by!r})"
        )

    def __str__(self) -> str:
        return (
            f"{self.requests} requests: about {_duration(self.seconds)} at "
            f"{self.bulk_limit} per {self.window:g} s (limited by {self.limited_by})"
        )


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def estimate(
    requests: int,
    *,
    limit: int,
    bulk_limit: int,
    window: float,
    span: float,
    burst: int,
    round_trip: float,
    connections: int | None,
) -> Plan:
    """The :class:`Plan` for ``requests`` bulk starts through a sliding log of
    ``bulk_limit`` per ``span`` seconds, paced at ``limit``/``window`` in bursts of
    ``burst``, with ``connections`` in flight and each start holding its slot (and its
    connection) for ``round_trip`` seconds. The bulk lane is paced at its own share,
    ``bulk_limit`` per ``window``."""
    if isinstance(requests, bool) or not isinstance(requests, int) or requests < 0:
        raise ConfigurationError(f"requests must be an integer >= 0, got {requests!r}")
    if not (isinstance(round_trip, int | float) and 0 <= round_trip < math.inf):
        raise ConfigurationError(f"round_trip must be finite and >= 0, got {round_trip!r}")
    if connections is not None and (
        isinstance(connections, bool) or not isinstance(connections, int) or connections < 1
    ):
        raise ConfigurationError(f"connections must be a positive integer, got {connections!r}")
    pace = bulk_limit / window
    # A start holds its slot from its grant until its answer: the log turns over once
    # per span plus a round trip.
    quota_rate = min(pace, bulk_limit / (span + round_trip))
    limited_by = "quota" if round_trip <= 0.01 * span else "round trip"
    rate = quota_rate
    if connections is not None and round_trip > 0 and connections / round_trip < rate:
        rate = connections / round_trip
        limited_by = "connections"
    in_flight = max(1, math.ceil(quota_rate * round_trip))
    if requests == 0:
        seconds = 0.0
    elif limited_by == "connections":
        seconds = requests / rate
    else:
        # The first window: a burst, then paced; after it, the log's own rate.
        first = min(requests, bulk_limit)
        seconds = max(0, first - burst) / pace + max(0, requests - first) / rate + round_trip
    return Plan(
        requests, seconds, rate, limited_by, limit, bulk_limit, window, round_trip, in_flight
    )


class OverBudget(Exception):
    """The wait for a start would outlast the caller's budget (``wait`` seconds)."""

    def __init__(self, wait: float) -> None:
        super().__init__(f"the quota needs {wait:.3f}s")
        self.wait = wait


MIN_SLEEP = 1e-6
#: Calm windows (no 429) before the learned limit is raised (by a twentieth of the limit).
PROBE_WINDOWS = 5
#: How soon a waiter looks again when every slot is held by a start not yet sent.
PENDING_POLL = 0.002


def _running_loop_time() -> float:
    return asyncio.get_running_loop().time()


def loop_clock(loop: asyncio.AbstractEventLoop) -> Callable[[], float]:
    """``loop.time``, or ``time.monotonic`` itself where that is all ``loop.time`` does
    (asyncio's own loops, unpatched): a C call instead of a Python frame, and the clock
    is read several times per request."""
    if getattr(loop.time, "__func__", None) is asyncio.BaseEventLoop.time:
        return time.monotonic
    return loop.time


def default_margin(seconds: float) -> float:
    """The margin used when none is given: 0.1 % of the window, within [2 ms, 50 ms].

    Starts are stamped once the server has answered (see the module docstring), so the
    margin no longer has to cover the trip, a handshake or a busy loop; it covers a
    server whose clock ticks coarsely or whose window is a little longer than it says.
    """
    return min(0.05, max(0.002, seconds * 0.001))


class Pacer(AsyncLimiter):
    """aiolimiter's leaky bucket with a synchronous take for the free path.

    Every request passes a pacer, and ``await acquire()`` costs a coroutine even when
    the bucket has room: about 1 % of a request's instructions. ``take_now`` does what
    ``acquire`` does when it need not wait, and declines while anyone waits, so waiters
    keep their turn. (It adds to the bucket's level as ``acquire`` does; the test of
    pacing bursts catches a change of aiolimiter's internals.)
    """

    __slots__ = ()

    def carry(self, before: Pacer) -> None:
        """Start as full as ``before`` was at its last look (a fraction of its size)."""
        self._level = min(self.max_rate, before._level * self.max_rate / before.max_rate)
        self._last_check = before._last_check

    def take_now(self, now: float | None = None) -> bool:
        """Take one unit if the bucket has room and nobody waits; True if taken.

        ``now``, the event loop's time read by the caller, spares reading it again:
        aiolimiter's own leak (``has_capacity``) costs four calls more per request.
        """
        if self._waiters:
            return False
        if now is None:
            if not self.has_capacity():
                return False
        else:
            level = self._level
            if level:  # drip out what the time since the last look allows
                level -= (now - self._last_check) * self._rate_per_sec
                if level < 0:
                    level = 0.0
            self._last_check = now
            self._level = level
            if level + 1 > self.max_rate:
                return False
        self._level += 1
        return True


def _pacer(rate: int, burst_share: float, seconds: float) -> Pacer:
    """A pacer of ``rate`` starts per ``seconds``, in bursts of ``burst_share`` of them."""
    burst = max(1, round(rate * burst_share))
    return Pacer(burst, burst * seconds / rate)


def check_lane(lane: object) -> str:
    """``lane`` if it names a lane, else :class:`ConfigurationError`."""
    if lane == INTERACTIVE:
        return INTERACTIVE
    if lane == BULK:
        return BULK
    raise ConfigurationError(f"lane must be 'interactive' or 'bulk', got {lane!r}")


def check_reserve(fraction: object, name: str = "throttle_reserve") -> float:
    """``fraction`` as a float if it is a number in [0, 1), else :class:`ConfigurationError`."""
    if isinstance(fraction, bool) or not isinstance(fraction, int | float) or not 0 <= fraction < 1:
        raise ConfigurationError(
            f"{name} must be a fraction of the limit in [0, 1), got {fraction!r}"
        )
    return float(fraction)


def reserve_slots(limit: int, fraction: float) -> int:
    """Starts of each window held for the interactive lane: ``fraction`` of ``limit``,
    at least 1 when ``fraction`` > 0, and never all of them (bulk keeps at least one)."""
    if fraction <= 0 or limit < 2:
        return 0
    return min(limit - 1, max(1, int(limit * fraction)))


def check_limits(limit: int, seconds: float) -> None:
    """Raise :class:`ConfigurationError` unless ``limit`` and ``seconds`` make a quota."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ConfigurationError(f"throttle limit must be a positive integer, got {limit!r}")
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, int | float)
        or not math.isfinite(seconds)
        or not seconds > 0
    ):
        raise ConfigurationError(
            f"throttle seconds must be a positive, finite number, got {seconds!r}"
        )


class WindowSettings:
    """What every throttle here is configured with: a limit per window and a reserve."""

    _limit: int
    _seconds: float
    _reserve_fraction: float

    @property
    def limit(self) -> int:
        """Most request starts in any window (on a shared key: across its processes)."""
        return self._limit

    @property
    def seconds(self) -> float:
        """The window's length in seconds."""
        return self._seconds

    @property
    def reserve_fraction(self) -> float:
        """The fraction of the limit held for interactive starts."""
        return self._reserve_fraction


class Flow:
    """One caller's place in the bulk lane's fair share: its weight, and the virtual
    time its last start was tagged to finish at."""

    __slots__ = ("finish", "weight")

    def __init__(self, weight: float = 1.0) -> None:
        self.weight = check_weight(weight)
        self.finish = 0.0


def check_weight(weight: object) -> float:
    """``weight`` as a float if it is a positive, finite number; else ConfigurationError."""
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 < weight < math.inf:
        raise ConfigurationError(f"weight must be a positive, finite number, got {weight!r}")
    return float(weight)


class FairTurns:
    """Whose turn it is among the bulk lane's waiters: start-time fair queueing by weight.

    Each waiter is tagged ``max(virtual time, its flow's last finish)`` and its flow's
    finish moves on by ``1 / weight``; the lowest tag goes next, and its tag becomes the
    virtual time. Two flows of weight 1 alternate however many waiters each has queued; a
    flow of weight 2 goes twice for the other's once. One waiter holds the turn at a time.
    """

    __slots__ = ("_busy", "_heap", "_order", "_virtual")

    def __init__(self) -> None:
        self._busy = False
        self._heap: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()  # equal tags: first come, first served
        self._virtual = 0.0

    async def take(self, flow: Flow) -> None:
        """Wait for this flow's turn and take it (give it back with :meth:`give`)."""
        tag = max(self._virtual, flow.finish)
        flow.finish = tag + 1.0 / flow.weight
        if not self._busy:
            self._busy = True
            self._virtual = tag
            return
        waiter = asyncio.get_running_loop().create_future()
        heapq.heappush(self._heap, (tag, next(self._order), waiter))
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.give()  # handed the turn, then cancelled: the next waiter has it
            else:
                waiter.cancel()  # left in the heap; give() skips it
            raise

    def give(self) -> None:
        """Pass the turn to the waiter with the lowest tag, if any."""
        heap = self._heap
        while heap:
            tag, _, waiter = heapq.heappop(heap)
            if not waiter.done():
                self._virtual = tag
                waiter.set_result(None)
                return
        self._busy = False


class LocalThrottle(WindowSettings):
    """In-process throttle: at most ``limit`` starts in any ``seconds`` window.

    Args:
        limit: most request starts in any window (``throttle_limit``).
        seconds: the window's length (``throttle_seconds``).
        margin: extra seconds each start stays in the log; defaults to 0.1 % of the
            window, within [2 ms, 50 ms] (:func:`default_margin`).
        burst: most starts paced back to back before the rest follow at L/S; defaults
            to a tenth of the limit. ``burst=limit`` turns pacing off (the window alone).
        clock: the time source; by default the running event loop's ``loop.time()``,
            the clock aiolimiter, aiohttp's timeouts and the retry budget read too, so a
            test that moves the loop's time drives them all. A function given here must
            be on the same scale as ``sleep``.
        sleep: what waits for the log; ``asyncio.sleep`` (loop time) by default.
        reserve: the fraction of the limit held for interactive starts (default 0.1,
            at least one start): a bulk start never takes the reserve's slots that
            interactive starts left unused in the window (so bulk runs at most at L
            less the unused reserve). ``0`` turns the reserve off.

    Interactive waiters are served first come, first served, and never wait behind a
    bulk one. Bulk waiters are served by fair share (:class:`FairTurns`): each caller
    that holds a :meth:`share` of the throttle gets its weight's part of the bulk lane,
    however many requests it has waiting; callers of the throttle itself share one flow
    of weight 1. Only the head waiter of each lane sleeps.
    """

    def __init__(
        self,
        limit: int,
        seconds: float,
        *,
        margin: float | None = None,
        burst: int | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        reserve: float = DEFAULT_RESERVE,
    ) -> None:
        check_limits(limit, seconds)
        self._reserve_fraction = check_reserve(reserve, "reserve")
        if margin is not None and not (isinstance(margin, int | float) and 0 <= margin < math.inf):
            raise ConfigurationError(f"throttle margin must be finite and >= 0, got {margin!r}")
        if burst is None:
            burst = max(1, limit // 10)
        if isinstance(burst, bool) or not isinstance(burst, int) or not 1 <= burst <= limit:
            raise ConfigurationError(
                f"throttle burst must be an integer in [1, limit], got {burst!r}"
            )
        self._limit = limit
        self._seconds = float(seconds)
        self._span = self._seconds + (default_margin(seconds) if margin is None else margin)
        self._starts: collections.deque[float] = collections.deque()
        self._pending = 0  # granted, not yet sent: each occupies the present of the log
        # The interactive ones among them: what they use of the reserve is not held back
        # from bulk (bulk runs at L less the *unused* reserve).
        self._istarts: collections.deque[float] = collections.deque()
        self._ipending = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        # One line per lane: an interactive caller never queues behind a bulk one.
        self._locks = {INTERACTIVE: asyncio.Lock(), BULK: asyncio.Lock()}
        self._queued = {INTERACTIVE: 0, BULK: 0}  # callers inside or waiting for the lock
        self._turns = FairTurns()  # the bulk lane's order, by weight
        self._flow = Flow()  # the flow of callers of the throttle itself
        # Bound to the loop's time on first use (there may be no loop yet).
        self._clock = _running_loop_time if clock is None else clock
        self._bind_clock = clock is None
        self._sleep = sleep
        self._paused_until = 0.0
        self._strikes = 0
        self._last_429 = -float("inf")
        self._burst_share = burst / limit
        # The limit in force: the configured one until 429s show the server's is lower.
        self._effective = limit
        # Only read once a 429 has lowered the limit, which sets it first.
        self._calm_since = 0.0
        self._warned = False
        self._pacers: dict[str, Pacer | None] = {}
        self._held = 0
        self._pace(limit)
        self.rate_limited_count = 0
        """How many 429 answers this throttle was told about."""
        self.adjustments: list[tuple[float, int]] = []
        """(time, new effective limit) for every change the throttle made on its own."""

    @property
    def effective_limit(self) -> int:
        """The limit in force: ``limit``, or less while 429s say the server allows less."""
        return self._effective

    @property
    def reserved(self) -> int:
        """Starts of each window bulk never takes, at the limit in force."""
        return self._held

    def __repr__(self) -> str:
        return f"LocalThrottle(limit={self._limit}, seconds={self._seconds:g})"

    def _pace(self, limit: int) -> None:
        burst = max(1, round(limit * self._burst_share))
        self._held = reserve_slots(limit, self._reserve_fraction)
        # burst == limit: the log alone already allows that; skip the pacer's cost.
        # A pacer per lane: an interactive start must not wait in line behind bulk
        # starts the pacer holds back.
        # With a reserve, the bulk lane is paced at its own share (L less the reserve),
        # one start at a time, so its starts spread over the window instead of filling
        # it early and leaving a gap at its end: a person's call then waits about S/L at
        # most for a slot to age. (One at a time loses the timer's lateness, 2-3 % of
        # the bulk rate; without a reserve there is nobody to make room for.)
        bulk = limit - self._held
        old = self._pacers
        self._pacers = {
            INTERACTIVE: Pacer(burst, burst * self._seconds / limit) if burst < limit else None,
            BULK: _pacer(bulk, self._burst_share if not self._held else 0.0, self._seconds)
            if burst < limit
            else None,
        }
        # A limit learned or probed mid-run re-paces: each new bucket starts as full as
        # the old one was, or an empty bucket would hand out a whole burst at once (the
        # server, at its limit, answers it with 429s).
        for lane, pacer in self._pacers.items():
            before = old.get(lane)
            if pacer is not None and before is not None:
                pacer.carry(before)

    def plan(
        self,
        requests: int,
        *,
        round_trip: float = 0.0,
        connections: int | None = None,
    ) -> Plan:
        """An estimate of the time ``requests`` bulk starts take at the limit in force
        (:attr:`effective_limit`) less the reserve, with ``connections`` in flight and
        ``round_trip`` seconds each (see :class:`Plan`)."""
        limit = self._effective
        return estimate(
            requests,
            limit=limit,
            bulk_limit=limit - self._held,
            window=self._seconds,
            span=self._span,
            burst=max(1, round(limit * self._burst_share)) if not self._held else 1,
            round_trip=round_trip,
            connections=connections,
        )

    def _set_effective(self, limit: int, now: float) -> None:
        self._effective = limit
        self._pace(limit)
        self.adjustments.append((now, limit))

    def _probe_up(self, now: float) -> None:
        # Additive increase after PROBE_WINDOWS calm windows, by a twentieth of the
        # configured limit: back from a halving in about 50 windows.
        if now - self._calm_since >= PROBE_WINDOWS * self._seconds:
            self._calm_since = now
            step = max(1, self._limit // 20)
            self._set_effective(min(self._limit, self._effective + step), now)

    def _wait_needed(self, now: float, lane: str = INTERACTIVE) -> float:
        starts = self._starts
        horizon = now - self._span
        while starts and starts[0] <= horizon:
            starts.popleft()
        wait = self._paused_until - now
        limit = self._effective
        if limit < self._limit:
            self._probe_up(now)
            limit = self._effective
        if lane == BULK:
            istarts = self._istarts
            while istarts and istarts[0] <= horizon:
                istarts.popleft()
            limit -= max(0, self._held - len(istarts) - self._ipending)
            if self._queued[INTERACTIVE]:
                # Interactive starts go first: look again once they have gone.
                wait = max(wait, PENDING_POLL)
        used = len(starts) + self._pending
        if used >= limit:
            if used - limit < len(starts):
                wait = max(wait, starts[used - limit] - horizon)
            else:
                # Every slot is held by a start not yet sent: it will be stamped "now" or
                # given back soon; look again shortly.
                wait = max(wait, PENDING_POLL)
        return wait

    def _check_loop(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
            if self._bind_clock:
                self._clock = loop_clock(loop)
        elif self._loop is not loop:
            raise ClientStateError(
                "this LocalThrottle belongs to another event loop: use one throttle per loop "
                "(a client per loop or thread), or a RedisThrottle to share one quota across "
                "loops, threads and processes"
            )

    def _free_now(self, lane: str) -> float | None:
        """The time, if a start of ``lane`` fits at once with nobody of its lane queued
        (no lock needed then)."""
        if self._queued[lane]:
            return None
        now = self._clock()
        return now if self._wait_needed(now, lane) <= 0 else None

    async def _queue_for_slot(self, deadline: float | None, lane: str) -> float:
        """Wait in line until a start of ``lane`` fits; return the time it was granted.

        With a ``deadline`` (on this throttle's clock), a wait that would end later than
        that raises OverBudget.
        """
        queued = self._queued
        queued[lane] += 1
        try:
            async with self._locks[lane]:
                while True:
                    now = self._clock()
                    wait = self._wait_needed(now, lane)
                    if wait <= 0:
                        return now
                    if deadline is not None and now + wait > deadline:
                        raise OverBudget(wait)
                    # At least a microsecond: a float remainder of 1e-17 s added to a
                    # large clock value is lost, and the waiter would never get there.
                    await self._sleep(max(wait, MIN_SLEEP))
        finally:
            queued[lane] -= 1

    async def acquire(self, lane: str = INTERACTIVE, *, flow: Flow | None = None) -> None:
        """Wait until a start of ``lane`` fits in the window, then record it as starting now."""
        if lane not in LANES:
            check_lane(lane)
        if self._loop is not asyncio.get_running_loop():
            self._check_loop()  # before the pacer, which is bound to its loop too
        now = await self._turn(None, lane, flow)
        self._starts.append(now)
        if lane == INTERACTIVE:
            self._istarts.append(now)

    async def reserve(
        self, within: float | None = None, lane: str = INTERACTIVE, *, flow: Flow | None = None
    ) -> Ticket:
        """Wait until a start of ``lane`` fits; it counts as happening now until the
        ticket is sent.

        The transport uses this, after :meth:`reserve_now` (``acquire`` stamps the start
        at once, for other callers). A wait that would end more than ``within`` seconds
        from now raises :class:`OverBudget` instead. A ``"bulk"`` start never takes the
        reserve's slots, waits while an interactive start is waiting, and waits its
        ``flow``'s turn (a :meth:`share`'s; else the throttle's own).
        """
        if lane not in LANES:
            check_lane(lane)
        if self._loop is not asyncio.get_running_loop():
            self._check_loop()  # before the pacer, which is bound to its loop too
        deadline = None if within is None else self._clock() + within
        await self._turn(deadline, lane, flow)
        return _LocalTicket(self, lane == INTERACTIVE)

    async def _turn(self, deadline: float | None, lane: str, flow: Flow | None) -> float:
        """Wait until a start of ``lane`` fits; the time it was granted.

        A bulk start passes the pacer in its flow's fair turn, then queues for the log in
        the order the turns gave (the log's line is first come, first served). The turn
        is not held through the log: during a 429's pause the pacer goes on admitting
        at its rate, as it does without weights, instead of draining into a burst."""
        if lane == BULK:
            queued = self._queued
            queued[BULK] += 1  # the free path (reserve_now) never jumps the line
            try:
                await self._turns.take(self._flow if flow is None else flow)
                try:
                    pacer = self._pacers[BULK]  # after the turn: a limit learned meanwhile
                    if pacer is not None:
                        await pacer.acquire()
                finally:
                    self._turns.give()
            finally:
                queued[BULK] -= 1
        elif (pacer := self._pacers[lane]) is not None:
            await pacer.acquire()
        now = self._free_now(lane)
        return now if now is not None else await self._queue_for_slot(deadline, lane)

    def reserve_now(self, lane: str = INTERACTIVE) -> Ticket | None:
        """:meth:`reserve`'s free path, without a coroutine: a start of ``lane`` if one
        fits at once (the log has room, the pacer too, nobody of the lane waits); else
        None, and the caller awaits :meth:`reserve`."""
        if lane not in LANES:
            check_lane(lane)
        if self._loop is not asyncio.get_running_loop():
            self._check_loop()
        if self._queued[lane]:
            return None
        now = self._clock()
        if self._wait_needed(now, lane) > 0:
            return None
        pacer = self._pacers[lane]
        # The pacer reads the loop's time: hand it ours only when ours is the loop's.
        if pacer is not None and not pacer.take_now(now if self._bind_clock else None):
            return None
        return _LocalTicket(self, lane == INTERACTIVE)

    def share(self, weight: float = 1.0) -> LocalShare:
        """A share of this throttle for one caller (a campaign, an export): the same
        quota, lanes and reserve, and its own ``weight`` in the bulk lane's fair share.

        Give each client its own (``StampsClient(throttle=throttle.share(2))``): two
        campaigns at weights 1 and 1 then split the bulk lane evenly whatever their
        concurrency; at 2 and 1, two thirds and one third.
        """
        return LocalShare(self, Flow(weight))

    def seed(self, starts: collections.abc.Iterable[float]) -> None:
        """Count ``starts`` (times on this throttle's clock) as already made.

        For a fallback taking over from a shared throttle: what this process sent in the
        current window still counts there.
        """
        merged = sorted([*self._starts, *starts])
        self._starts = collections.deque(merged)

    async def rate_limited(self, retry_after: float | None) -> float:
        """Pause every caller after a 429.

        With ``retry_after`` the server's word is taken (callers whose budget ends sooner
        fail at once with ``RateLimitError`` rather than wait). Without it (Stamped.io sends
        none), the pause starts at ``max(S/L, 0.5 s)`` and doubles for each further 429
        within one window, capped at the window; concurrent 429s from one burst count once.

        A 429 also says the server allows fewer starts than the limit in force: the
        throttle then holds what the server accepted in the last window
        (:attr:`effective_limit`, at least half the limit in force; logged once as a
        WARNING) and raises it by a twentieth of the configured limit after each
        ``PROBE_WINDOWS`` windows without a 429, up to the configured limit.
        """
        now = self._clock()
        self.rate_limited_count += 1
        fresh = now >= self._paused_until  # the first 429 of a burst; the rest echo it
        if retry_after is not None and retry_after > 0:
            pause = float(retry_after)
        else:
            if now - self._last_429 > self._seconds:
                self._strikes = 0
            if now >= self._paused_until:
                self._strikes += 1
            base = max(self._seconds / self._limit, 0.5)
            pause = min(self._seconds, base * 2 ** (self._strikes - 1))
        self._last_429 = now
        self._paused_until = max(self._paused_until, now + pause)
        if fresh:
            self._learn(now)
        return self._paused_until - now

    def _learn(self, now: float) -> None:
        """Multiplicative decrease: take what the server accepted in the last window."""
        accepted = sum(1 for t in self._starts if t > now - self._seconds) - 1
        # What the server took, but never less than half: a 429 after a handful of starts
        # (the quota spent by someone else) says little about the server's limit.
        learned = max(1, min(self._effective - 1, max(accepted, self._effective // 2)))
        self._calm_since = now
        if learned >= self._effective:
            return
        self._set_effective(learned, now)
        if not self._warned:
            self._warned = True
            log.warning(
                "429s at %d starts per %gs: the server allows fewer than the configured "
                "throttle_limit %d; holding %d per window and probing back up slowly",
                accepted + 1,
                self._seconds,
                self._limit,
                learned,
            )


class LocalShare:
    """One caller's share of a :class:`LocalThrottle` (:meth:`LocalThrottle.share`): the
    throttle's quota, lanes and reserve, with this share's weight in the bulk lane."""

    __slots__ = ("_flow", "throttle")

    def __init__(self, throttle: LocalThrottle, flow: Flow) -> None:
        self.throttle = throttle
        """The throttle shared."""
        self._flow = flow

    @property
    def weight(self) -> float:
        """This share's weight in the bulk lane."""
        return self._flow.weight

    @property
    def limit(self) -> int:
        """Most request starts in any window (the throttle's)."""
        return self.throttle.limit

    @property
    def seconds(self) -> float:
        """The window's length in seconds (the throttle's)."""
        return self.throttle.seconds

    @property
    def reserve_fraction(self) -> float:
        """The fraction of the limit held for interactive starts (the throttle's)."""
        return self.throttle.reserve_fraction

    async def acquire(self, lane: str = INTERACTIVE) -> None:
        """:meth:`LocalThrottle.acquire`, a bulk start in this share's turn."""
        await self.throttle.acquire(lane, flow=self._flow)

    async def reserve(self, within: float | None = None, lane: str = INTERACTIVE) -> Ticket:
        """:meth:`LocalThrottle.reserve`, a bulk start in this share's turn."""
        return await self.throttle.reserve(within, lane, flow=self._flow)

    def reserve_now(self, lane: str = INTERACTIVE) -> Ticket | None:
        """:meth:`LocalThrottle.reserve_now` (free only while nobody of the lane waits)."""
        return self.throttle.reserve_now(lane)

    async def rate_limited(self, retry_after: float | None) -> float:
        """:meth:`LocalThrottle.rate_limited`: a 429 pauses every share."""
        return await self.throttle.rate_limited(retry_after)

    def plan(
        self, requests: int, *, round_trip: float = 0.0, connections: int | None = None
    ) -> Plan:
        """:meth:`LocalThrottle.plan`: the whole bulk lane's pace, as if alone on it."""
        return self.throttle.plan(requests, round_trip=round_trip, connections=connections)

    def __repr__(self) -> str:
        return f"{self.throttle!r}.share({self.weight:g})"


class _LocalTicket:
    """A start granted by a LocalThrottle: it holds its place in the present of the log
    from its making until its request is sent (stamped in the log) or given back."""

    __slots__ = ("_interactive", "_state", "_throttle")

    def __init__(self, throttle: LocalThrottle, interactive: bool) -> None:
        self._throttle = throttle
        self._interactive = interactive
        self._state = 0  # 0 held, 1 sent, 2 given back
        throttle._pending += 1
        if interactive:
            throttle._ipending += 1

    def sent(self) -> None:
        """Stamp the start in the log as of now (every request passes here: one frame)."""
        if self._state == 0:
            self._state = 1
            throttle = self._throttle
            throttle._pending -= 1
            now = throttle._clock()
            starts = throttle._starts
            if starts and starts[-1] > now:  # a fake clock in tests may hand out equal times
                now = starts[-1]
            starts.append(now)
            if self._interactive:
                throttle._ipending -= 1
                throttle._istarts.append(now)

    def release(self) -> None:
        if self._state == 0:
            self._state = 2
            throttle = self._throttle
            throttle._pending -= 1
            if self._interactive:
                throttle._ipending -= 1
