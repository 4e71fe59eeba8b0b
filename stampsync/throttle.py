"""Throttles: how stampsync keeps a store's request quota.

The contract, for a limit ``L`` and a window ``S`` seconds: **no S-second window ever
contains more than L request starts**, counted as a strict server counts arrivals, while
sustained throughput stays at 98 % of L/S or better.

:class:`LocalThrottle` keeps that contract inside one process and is what a client
builds when it is given no ``throttle=``. Pass one throttle object to several clients
to make them share one quota.

Two layers, each doing what it is good at:

- an exact **sliding log** of the last L start times admits a start only once the
  oldest is more than ``S + margin`` seconds old. This is the guarantee. A leaky bucket
  alone cannot give it: ``aiolimiter.AsyncLimiter(L, S)`` starts empty, lets L through
  at once and keeps draining, so a strict window sees close to 2L.
- an ``aiolimiter.AsyncLimiter`` in front **paces** starts at L/S with bursts of at most
  ``burst`` (a tenth of L by default). Releasing a whole window's allowance at once
  makes the server queue it, and a request it processes late can then share a window
  with the next burst: measured, 51 arrivals in a window of 50 with 20 connections.
  Paced, the server never builds that queue. A bucket that drains continuously also
  loses nothing to timers that wake a millisecond late, unlike capacity-one pacing.

A start is counted when the server has it, not when its token is granted: a granted
token *occupies the present* of the log (it counts against every window and cannot age
out) until the request's answer arrives, or its attempt fails after connecting, and is
then stamped with that moment. A strict server counts an arrival no later than it
answers it, so a log stamped this way never admits more than L arrivals into any
S-second window at the server, however long a TLS handshake, a reconnect, a queue for a
connection, the network or a busy event loop delays a request; the margin only covers
timer granularity. The price is that each start holds its slot for its round trip:
sustained throughput is about L / (S + margin + round trip), 99.7 % of L/S at S = 1 s
on loopback, 95 % at S = 1 s with a 50 ms round trip, 99.9 % at S = 60 s.

Every start runs in a lane: ``interactive`` (single calls, the default) or ``bulk``
(exports, batches, imports, fleet jobs). A reserve of each window (a tenth of L by
default, at least one start) is held for interactive starts: bulk never takes what of it
interactive starts left unused, interactive starts go ahead of waiting bulk ones, and
the bulk lane is paced at its own share. :meth:`LocalThrottle.plan` estimates how long a
number of bulk starts takes (:class:`Plan`).
"""

from ._admission import QuotaStart
from ._local_throttle import (
    LaneThrottle,
    LocalShare,
    LocalThrottle,
    Plan,
    SendStampingThrottle,
    Throttle,
    Ticket,
)
from ._redis_throttle import RedisThrottle, RedisThrottles

__all__ = [
    "LaneThrottle",
    "LocalShare",
    "LocalThrottle",
    "Plan",
    "QuotaStart",
    "RedisThrottle",
    "RedisThrottles",
    "SendStampingThrottle",
    "Throttle",
    "Ticket",
]
