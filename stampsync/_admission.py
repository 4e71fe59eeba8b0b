"""What an attempt holds before it leaves: a connection slot and a start of the quota.

This sits above the network seam (:class:`~stampsync._http.HTTPTransport`), so every
network layer, :class:`~stampsync.testing.MockTransport` included, runs under the
client's connection and quota limits.

The slot is taken first, then the start: the server counts arrivals, and a start taken
before a wait for a connection would be spent later, in a bunch with others. A throttle
that stamps a start when the server has it (a
:class:`~stampsync.throttle.SendStampingThrottle`) is told when the answer came, or that
a failed attempt may have arrived; a start never sent is given back.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable
from typing import Protocol

from ._local_throttle import (
    BULK,
    LaneThrottle,
    OverBudget,
    SendStampingThrottle,
    Throttle,
    Ticket,
)
from .errors import QuotaWaitError

__all__ = ["EARLY_START_FRESH", "Admission", "QuotaStart"]

#: Seconds a start taken ahead may wait for its request before it is taken again.
EARLY_START_FRESH = 0.5


class WaitStats(Protocol):
    throttle_wait: float


class QuotaStart:
    """A connection slot and a start of the quota, held for one request.

    Every attempt holds one while it is in flight. A journaled batch takes one *ahead*
    (:meth:`StampsClient.take_start <stampsync.stamps.StampsClient.take_start>`) and
    only then claims its row, passing it to the request as ``start=``: a worker that
    dies leaves ambiguous only the rows whose requests were leaving, not the rows still
    waiting for the quota. :meth:`release` gives back whatever no request used (it is
    safe to call twice, and after the request took it).
    """

    __slots__ = ("_admission", "_gated", "_slot", "_taken_at", "_ticket", "lane", "waited")

    def __init__(self, admission: Admission, lane: str) -> None:
        self._admission = admission
        self.lane = lane
        self._ticket: Ticket | None = None
        self._slot = False  # holding a connection slot
        self._gated = False  # and a place in the bulk lane's share of the connections
        self._taken_at = 0.0
        self.waited = 0.0
        """Seconds spent waiting for the quota (the slot's wait not included)."""

    @property
    def held(self) -> bool:
        """True while it holds a connection slot (taken, not yet released)."""
        return self._slot

    def sent(self) -> None:
        """The server has the request (its answer came, or it failed after sending):
        the start is counted from now, and never given back."""
        ticket, self._ticket = self._ticket, None
        if ticket is not None:
            ticket.sent()

    def release(self) -> None:
        """Give back the start if it was never sent, and the connection slot."""
        ticket, self._ticket = self._ticket, None
        try:
            if ticket is not None:
                ticket.release()
        finally:
            if self._slot:
                self._slot = False
                admission = self._admission
                slots = admission._slots
                if slots._waiters:
                    slots.give()
                else:  # nobody to hand it to (Slots.give's end, a frame less per request)
                    slots._free += 1
                if self._gated:
                    assert admission._bulk_gate is not None
                    admission._bulk_gate.give()

    def _still_fresh(self, now: float) -> bool:
        """Whether the start taken ahead may still be used; a stale one is given back.

        A Redis reservation counts as "now" for one window only, so a start held past
        half of it (a slow journal, say) is taken again."""
        fresh_for = min(EARLY_START_FRESH, self._admission.throttle.seconds / 2)
        if self._ticket is not None and now - self._taken_at > fresh_for:
            ticket, self._ticket = self._ticket, None
            ticket.release()
        return self._ticket is not None


class Slots:
    """A counting semaphore whose free path is a plain call, not a coroutine.

    Every attempt takes a slot, and an ``await`` of ``asyncio.Semaphore.acquire`` costs
    a coroutine even when a slot is free: about 1 % of a request's instructions. Waiters
    are served first come, first served; a waiter cancelled after it was handed a slot
    passes the slot on.
    """

    __slots__ = ("_free", "_waiters")

    def __init__(self, count: int) -> None:
        self._free = count
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    def take_now(self) -> bool:
        """Take a slot if one is free and nobody waits for one; True if taken."""
        if self._free > 0 and not self._waiters:
            self._free -= 1
            return True
        return False

    async def take(self) -> None:
        """Wait for a slot and take it."""
        if self.take_now():
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.give()  # handed a slot, then cancelled: the next waiter has it
            elif waiter in self._waiters:  # a give() may have dropped it already
                self._waiters.remove(waiter)
            raise

    def give(self) -> None:
        """Give a slot back: to the first live waiter, else to the free count."""
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._free += 1


class Admission:
    """The connection slots and the throttle of one client, shared by the clients
    derived from it (``with_options``): every attempt enters here before it leaves."""

    def __init__(self, throttle: Throttle, concurrent_connections: int, stats: WaitStats) -> None:
        self.throttle = throttle
        self._reserve = throttle.reserve if isinstance(throttle, SendStampingThrottle) else None
        # A throttle that can grant a free start without a coroutine (LocalThrottle)
        # spares one on every request.
        self._reserve_now: Callable[[str], Ticket | None] | None = getattr(
            throttle, "reserve_now", None
        )
        # A throttle without lanes is asked as before; every request is then alike.
        self._lanes = isinstance(throttle, LaneThrottle)
        self._stats = stats
        self._slots = Slots(concurrent_connections)
        # Bulk attempts hold their connection while they wait for the quota: with three
        # connections or more, one is kept from them so a person's call never queues
        # behind an export's for a connection.
        self._bulk_gate = Slots(concurrent_connections - 1) if concurrent_connections >= 3 else None

    @property
    def starts_ahead(self) -> bool:
        """Whether a start can be taken before its request is ready: only a throttle
        that counts a start when it is sent can hold one uncounted meanwhile."""
        return self._reserve is not None

    async def ahead(self, within: float, lane: str, what: str) -> QuotaStart:
        """A slot and a start for a request to come, waiting at most ``within`` seconds
        for the start; ``what`` names the operation if the wait is refused."""
        loop_time = asyncio.get_running_loop().time
        start = await self.enter(None, loop_time() + within, lane, "", what)
        start._taken_at = loop_time()
        return start

    def enter_now(self, lane: str) -> QuotaStart | None:
        """:meth:`enter`'s free path, without a coroutine: a slot and a start if both
        are there at once (a throttle with ``reserve_now``); else None, give back
        nothing, and await :meth:`enter`."""
        reserve_now = self._reserve_now
        if reserve_now is None or (lane == BULK and self._bulk_gate is not None):
            return None
        slots = self._slots
        if slots._free <= 0 or slots._waiters:  # Slots.take_now, one frame less per request
            return None
        slots._free -= 1
        try:
            ticket = reserve_now(lane)
        except BaseException:
            slots.give()
            raise
        if ticket is None:
            slots.give()
            return None
        start = QuotaStart(self, lane)
        start._slot = True
        start._ticket = ticket
        return start

    async def enter(
        self, held: QuotaStart | None, deadline: float, lane: str, method: str, where: str
    ) -> QuotaStart:
        """What one attempt holds while in flight: ``held`` (a start taken ahead) if it
        is this client's and still fresh, else a slot and a start of its own.

        Raises :class:`~stampsync.errors.QuotaWaitError` when the start would come
        after ``deadline``; whatever was taken is then given back."""
        if held is not None and held._slot and held._admission is self:
            start = held
            if start._still_fresh(asyncio.get_running_loop().time()):
                start.waited = 0.0
                return start
        else:
            start = await self._new_start(lane)
        try:
            reserve_now = self._reserve_now
            if reserve_now is not None:
                ticket = reserve_now(start.lane)
                if ticket is not None:
                    start._ticket = ticket
                    start.waited = 0.0
                    return start
            loop_time = asyncio.get_running_loop().time
            began = loop_time()
            reserve = self._reserve
            if reserve is None:
                await self.throttle.acquire()
            elif self._lanes:
                start._ticket = await reserve(deadline - began, start.lane)  # type: ignore[call-arg]
            else:
                start._ticket = await reserve(deadline - began)
        except OverBudget as over:
            start.release()
            raise QuotaWaitError(method, where, over.wait) from None
        except BaseException:
            start.release()
            raise
        start.waited = waited = loop_time() - began
        if waited:
            self._stats.throttle_wait += waited
        return start

    async def _new_start(self, lane: str) -> QuotaStart:
        """A start of ``lane`` holding a connection slot (a bulk one also a place in the
        bulk lane's share of the connections), not yet a start of the quota."""
        start = QuotaStart(self, lane)
        gate = self._bulk_gate if lane == BULK else None
        if gate is not None:
            await gate.take()
            start._gated = True
        try:
            await self._slots.take()
        except BaseException:
            if gate is not None:
                gate.give()
            raise
        start._slot = True
        return start
