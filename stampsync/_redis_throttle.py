"""RedisThrottle: one quota shared by any number of processes and machines.

Each acquire is one Lua script run atomically by Redis on Redis's own clock (``TIME``):
an exact sliding log in a sorted set, trimmed on every call. It answers "granted" or
"wait N microseconds", so a waiter sleeps exactly that long instead of polling. Within a
process only the head of a FIFO queue talks to Redis, so an admission costs about one
round trip however many tasks wait.

A 429 seen by any worker sets a shared cool-down key that every worker's next acquire
respects. Every key expires, so an abandoned quota leaves nothing behind.

If Redis cannot be reached, acquire raises :class:`~stampsync.errors.ThrottleUnavailableError`
and nothing is sent (fail closed). ``fallback_processes=N`` opts into a local throttle
at ``limit // N`` instead, for as long as Redis stays away.
"""

from __future__ import annotations

import asyncio
import collections
import collections.abc
import logging
import secrets
import time
from typing import Any

from yarl import URL

from ._aclosing import AsyncClosing
from ._local_throttle import (
    BULK,
    DEFAULT_RESERVE,
    INTERACTIVE,
    LANES,
    PENDING_POLL,
    PROBE_WINDOWS,
    LocalThrottle,
    OverBudget,
    Pacer,
    Plan,
    Ticket,
    WindowSettings,
    check_lane,
    check_limits,
    check_reserve,
    check_weight,
    default_margin,
    estimate,
    reserve_slots,
)
from .errors import ConfigurationError, ThrottleUnavailableError

log = logging.getLogger("stampsync")

#: KEYS: log, cool-down, config, interactive queue, bulk queue, queue expiries, bulk tags,
#: interactive log (the interactive starts of the log, to know what of the reserve is used).
#: ARGV: limit, span (us), member prefix, seconds (us), probe (us), step, hold (us: a
#: reserved start is scored that far ahead, so it counts as "now" until stamped, and ages
#: out on its own if its process dies), lane, reserve fraction, waiter id, weight, starts
#: wanted, grace (us), then (member, age us) pairs: stamps carried from earlier answers.
#:
#: The config hash holds the quota's limit and seconds (set by the first process, refused
#: to a process that differs), the learned limit in force (``effective``) and the bulk
#: lane's virtual time ``v``. A refused waiter is queued in its lane (interactive: by
#: arrival; bulk: by virtual start tag, start-time fair queueing by weight) and only the
#: first of a lane's queue may start; a bulk start also waits while any interactive one
#: waits, and never takes the reserve's slots. Returns {0, n, effective} when n starts
#: were granted (members prefix:1..n), {1, wait_us, effective} when full or not its turn,
#: {2, wait_us} when cooling down, {3, stored_limit, stored_seconds_us} when this
#: process's settings differ.
ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit = tonumber(ARGV[1])
local span = tonumber(ARGV[2])
local hold = tonumber(ARGV[7])
for i = 14, #ARGV, 2 do
  local stamped = now - math.max(0, tonumber(ARGV[i + 1]))
  redis.call('ZADD', KEYS[1], 'XX', stamped, ARGV[i])
  redis.call('ZADD', KEYS[8], 'XX', stamped, ARGV[i])
end
local cfg = redis.call('HMGET', KEYS[3], 'limit', 'seconds', 'effective', 'calm')
if not cfg[1] then
  redis.call('HSET', KEYS[3], 'limit', limit, 'seconds', ARGV[4], 'effective', limit, 'calm', now)
  cfg = {tostring(limit), ARGV[4], tostring(limit), tostring(now)}
elseif tonumber(cfg[1]) ~= limit or tonumber(cfg[2]) ~= tonumber(ARGV[4]) then
  return {3, tonumber(cfg[1]), tonumber(cfg[2])}
end
local keep = math.ceil(tonumber(ARGV[5]) / 1000) * 2 + 60000
redis.call('PEXPIRE', KEYS[3], keep)
local effective = tonumber(cfg[3] or limit)
if effective < limit and now - tonumber(cfg[4] or now) >= tonumber(ARGV[5]) then
  effective = math.min(limit, effective + tonumber(ARGV[6]))
  redis.call('HSET', KEYS[3], 'effective', effective, 'calm', now)
end
local bulk = ARGV[8] == 'bulk'
local frac = tonumber(ARGV[9])
local held = 0
if frac > 0 and effective >= 2 then
  held = math.min(effective - 1, math.max(1, math.floor(effective * frac)))
end
local me = ARGV[10]
local q = KEYS[4]
local cap = effective
redis.call('ZREMRANGEBYSCORE', KEYS[8], '-inf', now - span)
if bulk then
  q = KEYS[5]
  -- The reserve held back is what interactive starts left unused in the window.
  cap = effective - math.max(0, held - redis.call('ZCARD', KEYS[8]))
end
local gone = redis.call('ZRANGEBYSCORE', KEYS[6], '-inf', now)
for _, w in ipairs(gone) do
  redis.call('ZREM', KEYS[6], w)
  redis.call('ZREM', KEYS[4], w)
  redis.call('ZREM', KEYS[5], w)
end
local function tag()
  local v = tonumber(redis.call('HGET', KEYS[3], 'v') or '0')
  return math.max(v, tonumber(redis.call('HGET', KEYS[7], me) or '0'))
end
local function place()
  local score = now
  if bulk then score = tag() end
  redis.call('ZADD', q, 'NX', score, me)
end
local function enqueue(wait)
  place()
  redis.call('ZADD', KEYS[6], now + wait + tonumber(ARGV[13]), me)
  redis.call('PEXPIRE', q, keep)
  redis.call('PEXPIRE', KEYS[6], keep)
end
local pause = tonumber(redis.call('GET', KEYS[2]) or '0')
if pause > now then
  enqueue(pause - now)
  return {2, math.ceil(pause - now)}
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - span)
local used = redis.call('ZCARD', KEYS[1])
local first = redis.call('ZRANGE', q, 0, 0)[1]
local blocked = first ~= nil and first ~= me
if bulk and not blocked and redis.call('ZCARD', KEYS[4]) > 0 then
  blocked = true
end
if used < cap and not blocked then
  local n = math.min(tonumber(ARGV[12]), cap - used)
  for i = 1, n do
    redis.call('ZADD', KEYS[1], now + hold, ARGV[3] .. ':' .. i)
    if not bulk then
      redis.call('ZADD', KEYS[8], now + hold, ARGV[3] .. ':' .. i)
    end
  end
  redis.call('PEXPIRE', KEYS[1], math.ceil((span + hold) / 1000) + 1000)
  if not bulk then
    redis.call('PEXPIRE', KEYS[8], math.ceil((span + hold) / 1000) + 1000)
  end
  if bulk then
    local s = tag()
    redis.call('HSET', KEYS[3], 'v', s)
    redis.call('HSET', KEYS[7], me, s + n / tonumber(ARGV[11]))
    redis.call('PEXPIRE', KEYS[7], keep)
  end
  if first ~= nil then
    redis.call('ZREM', q, me)
    redis.call('ZREM', KEYS[6], me)
  end
  return {0, n, effective}
end
-- A waiter behind others waits for the slot its turn will take: the one freed after
-- those of the waiters ahead (interactive ones first, for bulk), not the next one.
local ahead = 0
if blocked then
  place()
  ahead = redis.call('ZRANK', q, me)
  -- Placed first by a tie (or a lower tag) just now: the first before it was told the
  -- next slot already.
  if ahead == 0 and first ~= nil and first ~= me then ahead = 1 end
  if bulk then ahead = ahead + redis.call('ZCARD', KEYS[4]) end
end
local wait = 0
local slot = math.min(used - cap + ahead, used - 1)
if slot >= 0 then
  local oldest = redis.call('ZRANGE', KEYS[1], slot, slot, 'WITHSCORES')
  if ahead > 0 and tonumber(oldest[2]) > now and slot > used - cap then
    -- Not stamped yet (its score is a window ahead): the next slot to free is the
    -- surer guide; the waiter asks again then.
    slot = math.max(0, used - cap)
    oldest = redis.call('ZRANGE', KEYS[1], slot, slot, 'WITHSCORES')
  end
  wait = math.max(1, math.ceil(tonumber(oldest[2]) + span - now))
end
if blocked then
  wait = wait + 2000
end
enqueue(wait)
return {1, wait, effective}
"""

#: KEYS: interactive queue, bulk queue, queue expiries. ARGV: waiter id. A waiter that
#: gave up (its budget, a cancellation) leaves its lane's queue at once.
LEAVE = """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
return 1
"""

#: What a stamp's back-dating leaves out of its measured age, in us (see _send_stamp).
STAMP_AGE_MARGIN_US = 2000

#: KEYS: log, interactive log. ARGV: (member, age us) pairs. Stamps reserved starts with
#: Redis's time now less ``age``, the time each stamp spent in this process after its
#: answer came (if still there). Used only when no acquire comes soon enough to carry them.
SENT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
for i = 1, #ARGV, 2 do
  local stamped = now - math.max(0, tonumber(ARGV[i + 1]))
  redis.call('ZADD', KEYS[1], 'XX', stamped, ARGV[i])
  redis.call('ZADD', KEYS[2], 'XX', stamped, ARGV[i])
end
return 1
"""

#: How soon a bulk waiter asks again when its slot is held by a start not yet stamped.
PENDING_RECHECK = 0.01
#: How long a stamp may wait for this process's next acquire to carry it, as a share of
#: the window, and at most. A start counts as "now" until stamped, so a late stamp frees
#: no slot later unless it is still unsent a window after its start; waiting a quarter
#: of one lets a store worked one request at a time (the fleet: 10 per second) carry
#: every stamp, where 2 ms cost each start a second round trip (measured: 3.4 scripts
#: per award at 50 stores, 4 workers).
STAMP_CARRY_SHARE = 0.25
STAMP_CARRY_MAX = 1.0
#: An interactive start's stamp goes at once (2 ms, for a carrier): a person waits, and
#: its lane's reserve is counted from stamped starts (measured: a bot's slowest call
#: beside an export in another process went from 28 ms to 78 ms when it waited too).
STAMP_CARRY_INTERACTIVE = 0.002
#: Most starts one call may ask for, for the waiters queued behind the head.
MAX_GRANT = 32
#: How long past its wait a queued waiter keeps its place without asking again (us).
QUEUE_GRACE_US = 100_000
#: The most stamps one call carries (a script's arguments stay small).
MAX_CARRIED = 256

#: KEYS: cool-down, strikes, log, config. ARGV: retry_after (us, -1 if none), base (us),
#: cap (us), window (us). Returns the pause now in force, in us. The first 429 of a burst
#: also lowers the shared learned limit to what the window accepted (at least half):
#: the starts stamped in it, less the refused one.
RATE_LIMITED = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local retry_after = tonumber(ARGV[1])
local cap = tonumber(ARGV[3])
local pause_until = tonumber(redis.call('GET', KEYS[1]) or '0')
local fresh = now >= pause_until
local pause
if retry_after > 0 then
  pause = retry_after
else
  local strikes = tonumber(redis.call('HGET', KEYS[2], 'n') or '0')
  local last = tonumber(redis.call('HGET', KEYS[2], 'at') or '0')
  if now - last > cap then strikes = 0 end
  if fresh then strikes = strikes + 1 end
  redis.call('HSET', KEYS[2], 'n', strikes, 'at', now)
  redis.call('PEXPIRE', KEYS[2], math.ceil(cap / 1000) * 2 + 1000)
  pause = math.min(cap, tonumber(ARGV[2]) * 2 ^ (strikes - 1))
end
local new_until = math.max(pause_until, now + pause)
local ttl = math.ceil((new_until - now) / 1000) + 1000
redis.call('SET', KEYS[1], string.format('%d', new_until), 'PX', ttl)
if fresh then
  local effective = tonumber(redis.call('HGET', KEYS[4], 'effective') or '0')
  if effective > 1 then
    -- Only stamped starts (score <= now): a reservation in flight (scored in the future)
    -- may be refused too, and counting it learned a limit above the server's.
    local accepted = redis.call('ZCOUNT', KEYS[3], now - tonumber(ARGV[4]), now) - 1
    local floor = math.max(accepted, math.floor(effective / 2))
    local learned = math.max(1, math.min(effective - 1, floor))
    redis.call('HSET', KEYS[4], 'effective', learned, 'calm', now)
  end
end
return math.ceil(new_until - now)
"""


def redis_margin(seconds: float) -> float:
    """The margin used when none is given: the local throttle's (:func:`default_margin`).

    A start is stamped with Redis's time once its answer is back, and a grant reaches
    its request only after Redis said so: both delays fall on the safe side, so the
    margin covers clock granularity, not round trips. (A 50 ms margin was needed when
    starts were stamped at the grant; it cost 5 % of the rate at S = 1 s.)
    """
    return default_margin(seconds)


#: Query parameters that may carry a secret (redis-py reads ``?password=``).
SECRET_QUERY = ("pass", "auth", "token", "secret", "key")


def safe_url(url: str) -> str:
    """``url`` without its secrets, for reprs, messages and logs.

    The whole user part goes (``redis://secret@host`` is an old way to give a password),
    and so does the value of any query parameter whose name suggests a secret.
    """
    try:
        parsed = URL(url)
        if parsed.user is not None or parsed.password is not None:
            parsed = parsed.with_user(None)
        query = [
            (k, "***" if any(word in k.lower() for word in SECRET_QUERY) else v)
            for k, v in parsed.query.items()
        ]
        if query:
            parsed = parsed.with_query(query)
        return str(parsed)
    except (ValueError, TypeError):
        return "<unparseable redis url>"


def secrets_of(url: str) -> list[str]:
    """The secret parts of ``url`` (user, password, secret query values), to scrub."""
    try:
        parsed = URL(url)
        found = [parsed.user, parsed.password, parsed.raw_user, parsed.raw_password]
        found += [v for k, v in parsed.query.items() if any(w in k.lower() for w in SECRET_QUERY)]
    except (ValueError, TypeError):
        return [url]
    return [s for s in found if s]


def _redis_asyncio(who: str) -> Any:
    """``redis.asyncio``, or the extra to install for ``who``."""
    try:
        import redis.asyncio as aioredis
    except ImportError:  # pragma: no cover - depends on the installed extras
        raise ConfigurationError(f"{who} needs redis-py: pip install 'stampsync[redis]'") from None
    return aioredis


def _pooled_client(aioredis: Any, redis_url: str, *, max_connections: int) -> Any:
    """A Redis client owning a blocking pool on ``redis_url`` (disconnected on its aclose)."""
    try:
        pool = aioredis.BlockingConnectionPool.from_url(
            redis_url,
            max_connections=max_connections,
            timeout=5,
            socket_connect_timeout=2,
            socket_timeout=5,
        )
        # An unknown option (``?Password=``) fails only when a connection is made:
        # build one now (no I/O) so it is refused here, not on the first request.
        pool.connection_class(**pool.connection_kwargs)
    except (ValueError, TypeError) as exc:
        reason = str(exc)
        for secret in secrets_of(redis_url):
            reason = reason.replace(secret, "***")
        raise ConfigurationError(f"bad redis_url {safe_url(redis_url)!r}: {reason}") from None
    return aioredis.Redis.from_pool(pool)


class RedisThrottle(WindowSettings, AsyncClosing):
    """A throttle kept in Redis: at most ``limit`` starts per ``seconds`` across processes.

    Args:
        redis_url: ``redis://host:port/db`` (``rediss://`` for TLS; a password in the URL
            never appears in messages).
        key: names the shared quota, e.g. ``"stamped:270392"``; every process sharing a
            quota uses the same key, limit and seconds.
        limit: most request starts in any window, across every process on ``key``.
        seconds: the window's length in seconds.
        margin: extra seconds each start counts for (default: 0.1 % of the window,
            within [2 ms, 50 ms], as for :class:`LocalThrottle`).
        fallback_processes: if set, when Redis is unreachable use a local throttle at
            ``limit // fallback_processes`` instead of failing (then retry Redis once per
            window). Off by default: a silent fallback could exceed the quota.
        redis: an existing ``redis.asyncio.Redis`` client to use instead of ``redis_url``.
        adopt_stored: a process whose ``limit`` or ``seconds`` differ from those stored
            with the key by the first process is refused with ``ConfigurationError``
            naming both (two settings on one quota would let the larger one through);
            ``adopt_stored=True`` takes the stored ones instead. The stored settings
            expire two minutes after the key was last used.
        reserve: the fraction of the limit held for interactive starts (default 0.1, at
            least one start; ``0`` turns it off): no bulk start of any process on the key
            takes the reserve's slots that interactive starts left unused in the window.
            Give every process the same.
        weight: this process's share of the bulk lane against the other processes on the
            key: two campaigns at weights 1 and 1 split it evenly whatever their
            concurrency, at 2 and 1 two to one.

    Waiting callers on one key are served in arrival order across processes (bulk ones
    by weighted fair share); an interactive start goes ahead of every waiting bulk one.

    A 429 lowers the limit in force for every process on the key to what the window
    accepted (at least half), and every ``PROBE_WINDOWS`` calm windows it goes up by a
    twentieth of ``limit``; :attr:`effective_limit` is the value this process last saw.

    Use ``async with RedisThrottle(...) as shared:`` (or call ``aclose()``) and pass
    ``throttle=shared`` to any number of clients.
    """

    def __init__(
        self,
        redis_url: str,
        *,
        key: str,
        limit: int,
        seconds: float,
        margin: float | None = None,
        fallback_processes: int | None = None,
        redis: Any = None,
        adopt_stored: bool = False,
        reserve: float = DEFAULT_RESERVE,
        weight: float = 1.0,
    ) -> None:
        check_limits(limit, seconds)
        if not isinstance(key, str) or not key.strip():
            raise ConfigurationError("RedisThrottle key must be a non-empty string")
        self._reserve_fraction = check_reserve(reserve, "reserve")
        self._weight = check_weight(weight)
        if fallback_processes is not None and (
            isinstance(fallback_processes, bool)
            or not isinstance(fallback_processes, int)
            or fallback_processes < 1
        ):
            raise ConfigurationError("fallback_processes must be a positive integer")
        aioredis = _redis_asyncio("RedisThrottle")
        self._url = safe_url(redis_url)
        self._owns_client = redis is None
        if redis is None:
            redis = _pooled_client(aioredis, redis_url, max_connections=4)
        self._redis = redis
        # Every Redis failure, a read-only replica's refusal included, fails closed as
        # ThrottleUnavailableError: nothing is sent without the shared quota's word.
        self._errors = (aioredis.RedisError, OSError)
        self._margin = margin
        self._adopt = adopt_stored
        self._configure(limit, float(seconds))
        self.key = key
        tag = "{" + key + "}"  # one hash slot for all keys of a quota (Redis Cluster)
        self._log_key = f"stampsync:{tag}:log"
        self._queue_keys = [
            f"stampsync:{tag}:wait:interactive",
            f"stampsync:{tag}:wait:bulk",
            f"stampsync:{tag}:wait:until",
        ]
        self._tags_key = f"stampsync:{tag}:tags"
        self._ilog_key = f"stampsync:{tag}:log:interactive"
        self._pause_key = f"stampsync:{tag}:pause"
        self._strikes_key = f"stampsync:{tag}:strikes"
        self._config_key = f"stampsync:{tag}:config"
        self._acquire = redis.register_script(ACQUIRE)
        self._rate_limited = redis.register_script(RATE_LIMITED)
        self._sent_script = redis.register_script(SENT)
        self._leave_script = redis.register_script(LEAVE)
        self._updates: set[asyncio.Task[None]] = set()
        # Per lane: only the head waiter talks to Redis; starts granted beyond the head's
        # own wait in ``_spare`` for the tasks queued behind it.
        self._locks = {lane: asyncio.Lock() for lane in LANES}
        self._waiting = dict.fromkeys(LANES, 0)
        self._spare: dict[str, collections.deque[str]] = {
            lane: collections.deque() for lane in LANES
        }
        self._id = secrets.token_hex(6)
        # Answered starts not yet stamped: the next acquire carries them (one round trip).
        self._stamps: list[tuple[str, int]] = []
        self._flush: asyncio.TimerHandle | None = None
        self._fallback = (
            LocalThrottle(
                max(1, limit // fallback_processes), seconds, reserve=self._reserve_fraction
            )
            if fallback_processes
            else None
        )
        self._fallback_until = 0.0
        self._recent: collections.deque[float] = collections.deque()  # own grants, loop time
        self.effective_limit = limit
        """The limit in force on the key when this process last asked (learned from 429s)."""
        self.adjustments: list[tuple[float, int]] = []
        """(time, limit in force) each time this process saw it change."""
        self._warned = False
        self.redis_calls = 0
        """Scripts run against Redis (for measuring round trips per admission)."""
        self.rate_limited_count = 0
        """How many 429 answers this process reported."""

    def _configure(self, limit: int, seconds: float) -> None:
        self._limit = limit
        self._seconds = seconds
        span = seconds + (redis_margin(seconds) if self._margin is None else self._margin)
        self._span = span
        self._span_us = int(span * 1_000_000)
        self._seconds_us = int(seconds * 1_000_000)
        self._step = max(1, limit // 20)
        self._pace(limit)

    def _pace(self, limit: int) -> None:
        # Each process paces its own starts at the limit in force, in bursts of a tenth:
        # a first window of 429s then costs a few requests, not a whole burst of L.
        # Paced over the window plus its margin: the log's own rate, so a paced start
        # finds room in Redis at its first call. One pacer per lane: an interactive start
        # must not wait in line behind the bulk starts a pacer holds back.
        # With a reserve, the bulk lane at its own share (L less the reserve), one start
        # at a time: its starts then spread over the window, and a person's call waits
        # about S/L at most for the next slot to age (bursts would leave a gap at the
        # window's end).
        burst = max(1, limit // 10)
        bulk = limit - reserve_slots(limit, self._reserve_fraction)
        bulk_burst = burst if bulk == limit else 1  # no reserve: nobody to make room for
        old: dict[str, Pacer | None] = getattr(self, "_pacers", {})
        self._pacers: dict[str, Pacer | None] = {
            INTERACTIVE: Pacer(burst, burst * self._span / limit) if burst < limit else None,
            BULK: Pacer(bulk_burst, bulk_burst * self._span / bulk) if burst < limit else None,
        }
        # As LocalThrottle's: a new bucket starts as full as the old one, not empty.
        for lane, pacer in self._pacers.items():
            before = old.get(lane)
            if pacer is not None and before is not None:
                pacer.carry(before)

    @property
    def weight(self) -> float:
        """This process's weight in the bulk lane's fair share."""
        return self._weight

    def plan(
        self,
        requests: int,
        *,
        round_trip: float = 0.0,
        connections: int | None = None,
    ) -> Plan:
        """An estimate of the time ``requests`` bulk starts take at the limit in force on
        the key (as this process last saw it) less the reserve, if this process had the
        bulk lane to itself (see :class:`~stampsync.throttle.Plan`)."""
        limit = self.effective_limit
        bulk = limit - reserve_slots(limit, self._reserve_fraction)
        return estimate(
            requests,
            limit=limit,
            bulk_limit=bulk,
            window=self._seconds,
            span=self._span,
            burst=1 if bulk < limit else max(1, limit // 10),
            round_trip=round_trip,
            connections=connections,
        )

    def _mismatch(self, stored_limit: int, stored_us: int) -> None:
        stored_seconds = stored_us / 1_000_000
        if self._adopt:
            log.info(
                "throttle key %r: taking the stored %d per %gs",
                self.key,
                stored_limit,
                stored_seconds,
            )
            self._configure(int(stored_limit), stored_seconds)
            return
        raise ConfigurationError(
            f"throttle key {self.key!r} is shared at {stored_limit} per {stored_seconds:g}s, "
            f"but this process is set to {self._limit} per {self._seconds:g}s: use the same "
            "settings everywhere, another key, or adopt_stored=True"
        )

    def _saw(self, effective: int) -> None:
        if effective == self.effective_limit:
            return
        self.effective_limit = effective
        self._pace(effective)
        self.adjustments.append((asyncio.get_running_loop().time(), effective))
        if effective < self._limit and not self._warned:
            self._warned = True
            log.warning(
                "429s on throttle key %r: the server allows fewer than the configured "
                "limit %d per %gs; the workers hold %d and probe back up slowly",
                self.key,
                self._limit,
                self._seconds,
                effective,
            )

    def _remember(self) -> None:
        now = asyncio.get_running_loop().time()
        recent = self._recent
        recent.append(now)
        while recent and recent[0] <= now - self._span:
            recent.popleft()

    def __repr__(self) -> str:
        return (
            f"RedisThrottle({self._url!r}, key={self.key!r}, limit={self._limit}, "
            f"seconds={self._seconds:g})"
        )

    def _unavailable(self, exc: BaseException) -> ThrottleUnavailableError:
        return ThrottleUnavailableError(
            f"cannot reach Redis at {self._url} for throttle key {self.key!r} "
            f"({type(exc).__name__}); nothing was sent"
        )

    async def acquire(self, lane: str = INTERACTIVE) -> None:
        """Wait until the shared window admits one more start of ``lane``, then record it
        as now."""
        await self._admit(None, hold_us=0, lane=check_lane(lane))

    async def reserve(self, within: float | None = None, lane: str = INTERACTIVE) -> Ticket:
        """Wait until the shared window admits one more start of ``lane``; it counts as
        "now" in Redis until the ticket says ``sent`` (the stamp rides on this process's
        next call to Redis), and ages out after a window if its process dies first.

        A wait that would end more than ``within`` seconds from now raises
        :class:`~stampsync.throttle.OverBudget` instead.
        """
        member = await self._admit(within, hold_us=self._seconds_us, lane=check_lane(lane))
        if member is None:  # the local fallback admitted it
            assert self._fallback is not None
            return await self._fallback.reserve(within, lane)
        return _RedisTicket(self, member, lane == INTERACTIVE)

    def _carried(self) -> list[str | int]:
        """The stamps waiting in this process, as script arguments (taken: sent now)."""
        stamps = self._stamps
        if not stamps:
            return []
        carried, self._stamps = stamps[:MAX_CARRIED], stamps[MAX_CARRIED:]
        if not self._stamps and self._flush is not None:
            # Its time was set by a stamp now carried: left, it would send the next
            # stamp early, alone (a second script for that start).
            self._flush.cancel()
            self._flush = None
        now = time.monotonic_ns()
        args: list[str | int] = []
        for member, answered in carried:
            # Back-dated by the time the stamp waited here; see _send_stamps.
            args += [member, (now - answered) // 1000 - STAMP_AGE_MARGIN_US]
        return args

    async def _admit(self, within: float | None, *, hold_us: int, lane: str) -> str | None:
        """The admitted member, or None when the fallback is to admit the start."""
        # The loop's clock, like the local throttle's: the fallback is seeded with times
        # from it, and the sleeps below are on it.
        loop_time = asyncio.get_running_loop().time
        if self._fallback is not None and loop_time() < self._fallback_until:
            if hold_us == 0:
                await self._fallback.acquire(lane)
            return None
        deadline = None if within is None else loop_time() + within
        pacer = self._pacers[lane]
        if pacer is not None:
            await pacer.acquire()
        spare = self._spare[lane]
        if spare and hold_us:
            return spare.popleft()
        waiter = f"{self._id}:{lane}"
        self._waiting[lane] += 1
        queued = False  # this process's head is in the lane's queue in Redis
        try:
            async with self._locks[lane]:
                while True:
                    if spare and hold_us:
                        return spare.popleft()
                    prefix = f"{time.time_ns()}-{secrets.token_hex(4)}"
                    # Ask for the tasks queued behind this one too (reserved starts only:
                    # an acquire's start is stamped at once, so it must be this task's).
                    want = min(MAX_GRANT, self._waiting[lane]) if hold_us else 1
                    try:
                        self.redis_calls += 1
                        answer = await self._acquire(
                            keys=[
                                self._log_key,
                                self._pause_key,
                                self._config_key,
                                *self._queue_keys,
                                self._tags_key,
                                self._ilog_key,
                            ],
                            args=[
                                self._limit,
                                self._span_us,
                                prefix,
                                self._seconds_us,
                                PROBE_WINDOWS * self._seconds_us,
                                self._step,
                                hold_us,
                                lane,
                                repr(self._reserve_fraction),
                                waiter,
                                repr(self._weight),
                                want,
                                QUEUE_GRACE_US,
                                *self._carried(),
                            ],
                        )
                    except self._errors as exc:
                        if self._fallback is None:
                            raise self._unavailable(exc) from None
                        log.warning(
                            "%s; using a local throttle at %d per %gs for %gs",
                            self._unavailable(exc),
                            self._fallback.limit,
                            self._seconds,
                            self._seconds,
                        )
                        self._fallback_until = loop_time() + self._seconds
                        # What this process already sent in the window still counts there.
                        self._fallback.seed(self._recent)
                        break
                    verdict = int(answer[0])
                    if verdict == 3:
                        self._mismatch(int(answer[1]), int(answer[2]))
                        continue
                    if len(answer) > 2:
                        self._saw(int(answer[2]))
                    if verdict == 0:
                        queued = False
                        granted = int(answer[1])
                        for i in range(granted):
                            self._remember()
                            if i:
                                spare.append(f"{prefix}:{i + 1}")
                        return f"{prefix}:1"
                    queued = True
                    wait = int(answer[1]) / 1_000_000
                    if verdict == 1 and wait > self._span:
                        # The slot to free is a start reserved but not yet stamped: it
                        # will be stamped (or age out) soon; ask again shortly instead
                        # (sooner for a person waiting than for a batch).
                        wait = PENDING_POLL if lane == INTERACTIVE else PENDING_RECHECK
                    if deadline is not None and loop_time() + wait > deadline:
                        raise OverBudget(wait)
                    await asyncio.sleep(wait)
        finally:
            self._waiting[lane] -= 1
            if queued:
                self._leave(waiter)  # gave up: others need not wait for our place
        assert self._fallback is not None
        if hold_us == 0:
            await self._fallback.acquire(lane)
        return None

    def _background(self, work: collections.abc.Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._updates.add(task)
        task.add_done_callback(self._updates.discard)

    def _leave(self, waiter: str) -> None:
        self._background(self._send_leave(waiter))

    async def _send_leave(self, waiter: str) -> None:
        try:
            self.redis_calls += 1
            await self._leave_script(keys=self._queue_keys, args=[waiter])
        except self._errors as exc:
            # Its place expires on its own, QUEUE_GRACE after its last wait.
            log.debug("could not leave the queue on %r: %s", self.key, type(exc).__name__)

    def _stamp(self, member: str, interactive: bool) -> None:
        self._stamps.append((member, time.monotonic_ns()))
        loop = asyncio.get_running_loop()
        wait = (
            STAMP_CARRY_INTERACTIVE
            if interactive
            else min(STAMP_CARRY_MAX, self._seconds * STAMP_CARRY_SHARE)
        )
        due = loop.time() + wait
        if self._flush is not None and self._flush.when() > due:
            self._flush.cancel()  # an interactive stamp goes sooner than the bulk ones
            self._flush = None
        if self._flush is None:
            self._flush = loop.call_at(due, self._flush_stamps)

    def _flush_stamps(self) -> None:
        self._flush = None
        if self._stamps:
            self._background(self._send_stamps())

    async def _send_stamps(self) -> None:
        # Each stamp is back-dated by the time it waited here (a busy loop runs this task
        # late, and a stamp waits up to a quarter window for an acquire to carry it):
        # Redis runs the script after this moment, so "its time now less the age" is still
        # no earlier than the answer, which came after the arrival the server counted.
        # Left out, a busy worker holds each slot that much longer. The process's
        # monotonic clock in ns (an event loop's may tick in ms), less STAMP_AGE_MARGIN
        # for the two clocks' rates.
        while self._stamps:
            args = self._carried()
            try:
                self.redis_calls += 1
                await self._sent_script(keys=[self._log_key, self._ilog_key], args=args)
            except self._errors as exc:
                # The starts keep their reserved score, a window ahead: safe, only slower.
                log.debug("could not stamp starts on %r: %s", self.key, type(exc).__name__)
                return

    async def rate_limited(self, retry_after: float | None) -> float:
        """Record a 429 in Redis: every worker on this key pauses together.

        Without ``retry_after`` the pause starts at ``max(S/L, 0.5 s)`` and doubles for
        each further 429 within a window, capped at the window.
        """
        self.rate_limited_count += 1
        # The limit learned counts the stamped starts only (those the server answered):
        # stamps still waiting for a carrier go first, or it learns too low a limit.
        if self._stamps:
            await self._send_stamps()
        base = max(self._seconds / self._limit, 0.5)
        after = -1 if retry_after is None or not retry_after > 0 else int(retry_after * 1e6)
        try:
            self.redis_calls += 1
            pause_us = await self._rate_limited(
                keys=[self._pause_key, self._strikes_key, self._log_key, self._config_key],
                args=[after, int(base * 1e6), int(self._seconds * 1e6), self._seconds_us],
            )
        except self._errors as exc:
            if self._fallback is not None:
                return await self._fallback.rate_limited(retry_after)
            raise self._unavailable(exc) from None
        return int(pause_us) / 1_000_000

    async def aclose(self) -> None:
        """Close the Redis connections this throttle opened (after pending stamps)."""
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        if self._stamps:
            await self._send_stamps()
        if self._updates:
            await asyncio.gather(*self._updates, return_exceptions=True)
        if self._owns_client:
            await self._redis.aclose()


class _RedisTicket:
    """A start reserved in Redis, stamped there with Redis's time once it is sent."""

    __slots__ = ("_done", "_interactive", "_member", "_throttle")

    def __init__(self, throttle: RedisThrottle, member: str, interactive: bool) -> None:
        self._throttle = throttle
        self._member = member
        self._interactive = interactive
        self._done = False

    def sent(self) -> None:
        if not self._done:
            self._done = True
            self._throttle._stamp(self._member, self._interactive)

    def release(self) -> None:
        # Never sent: the reserved score ages out after a window; giving it back early
        # would cost another round trip for a rare case (no connection made).
        self._done = True


class RedisThrottles(AsyncClosing):
    """One :class:`RedisThrottle` per account (store), named by a key template.

    ``key="stamps:{account}"`` gives every store its own quota in Redis, held across
    every process and machine that sends for it, whichever worker that is. The throttles
    share one Redis connection pool; each is made on first use and kept.

    Args:
        redis_url: as for :class:`RedisThrottle`.
        key: a template with ``{account}``, e.g. ``"stamps:{account}"``.
        limit: each account's most request starts per window (the same for all).
        seconds: each account's window, in seconds.
        limits: per-account ``(limit, seconds)`` overriding those, e.g.
            ``{"store-7": (100, 60)}``.
        reserve: the fraction of each account's limit this process leaves to interactive
            starts (bots, people waiting) on the same key; ``0`` when nothing but these
            throttles' bulk work sends for the accounts.
        max_connections: the shared pool's size.
    """

    def __init__(
        self,
        redis_url: str,
        *,
        key: str = "stamps:{account}",
        limit: int,
        seconds: float,
        limits: dict[str, tuple[int, float]] | None = None,
        margin: float | None = None,
        adopt_stored: bool = False,
        reserve: float = DEFAULT_RESERVE,
        max_connections: int = 16,
    ) -> None:
        check_limits(limit, seconds)
        self._reserve = check_reserve(reserve, "reserve")
        try:
            probe = key.format(account="x")
        except (KeyError, IndexError, ValueError, AttributeError):
            raise ConfigurationError(
                f"throttle key template {key!r} may only use {{account}}"
            ) from None
        if "{account}" not in key or not probe.strip():
            raise ConfigurationError(f"throttle key template {key!r} must contain {{account}}")
        aioredis = _redis_asyncio("RedisThrottles")
        self._url = safe_url(redis_url)
        self._redis_url = redis_url
        self._redis = _pooled_client(aioredis, redis_url, max_connections=max_connections)
        self.key = key
        self.limit = limit
        self.seconds = float(seconds)
        self._limits = dict(limits or {})
        self._margin = margin
        self._adopt = adopt_stored
        self._throttles: dict[str, RedisThrottle] = {}

    def __repr__(self) -> str:
        return (
            f"RedisThrottles({self._url!r}, key={self.key!r}, limit={self.limit}, "
            f"seconds={self.seconds:g})"
        )

    def key_for(self, account: str) -> str:
        """The Redis quota key of ``account``."""
        if not isinstance(account, str) or not account.strip():
            raise ConfigurationError(f"account must be non-empty text, got {account!r}")
        return self.key.format(account=account)

    def for_account(self, account: str) -> RedisThrottle:
        """The throttle of ``account`` (made on first use, then the same object)."""
        found = self._throttles.get(account)
        if found is None:
            limit, seconds = self._limits.get(account, (self.limit, self.seconds))
            found = RedisThrottle(
                self._redis_url,
                key=self.key_for(account),
                limit=limit,
                seconds=seconds,
                margin=self._margin,
                redis=self._redis,
                adopt_stored=self._adopt,
                reserve=self._reserve,
            )
            self._throttles[account] = found
        return found

    async def aclose(self) -> None:
        """Close every account's throttle, then the shared connections."""
        for throttle in self._throttles.values():
            await throttle.aclose()
        self._throttles.clear()
        await self._redis.aclose()
