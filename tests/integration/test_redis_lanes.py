"""Lanes, fair shares and one round trip per start on a RedisThrottle (a real redis-server).

Each ``RedisThrottle`` below stands for a process: its own id, pool and waiters; Redis
sees them as it would see separate workers on one key.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator

import pytest

from stampsync._local_throttle import OverBudget
from stampsync.errors import ConfigurationError
from stampsync.testing import max_in_window
from stampsync.throttle import RedisThrottle, RedisThrottles
from tests._redis import redis_server


@pytest.fixture
def redis_url() -> Iterator[str]:
    with redis_server() as (url, _):
        yield url


async def _drain(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    # Their cancels are results; one aimed at the test itself (its time bound) still
    # raises, where suppressing every CancelledError let a mutation run hang 300 s.
    await asyncio.gather(*tasks, return_exceptions=True)


async def bulk_with_a_reserve_then_a_person(redis_url: str) -> tuple[int, float]:
    """Two campaigns' bulk starts for two windows, then a person's 4 interactive starts:
    the most bulk starts in one window, and the seconds the person's starts took."""
    async with (
        RedisThrottle(redis_url, key="res", limit=20, seconds=1, reserve=0.2) as campaign,
        RedisThrottle(redis_url, key="res", limit=20, seconds=1, reserve=0.2) as another,
        RedisThrottle(redis_url, key="res", limit=20, seconds=1, reserve=0.2) as bot,
    ):
        loop = asyncio.get_running_loop()
        granted: list[float] = []

        async def bulk(throttle: RedisThrottle) -> None:
            while True:
                (await throttle.reserve(lane="bulk")).sent()
                granted.append(loop.time())

        # Two campaigns, each paced at the bulk share: only Redis holds them to it together.
        tasks = [asyncio.ensure_future(bulk(t)) for t in (campaign, another) for _ in range(20)]
        try:
            await asyncio.sleep(2.2)  # two windows of bulk starts, paced at its share
            # A window a little short of 1 s: these are the times the grants reached this
            # process, not Redis's.
            most = max_in_window(granted, 0.98)
            asked = loop.time()
            for _ in range(4):  # paced too, in bursts of 2
                (await asyncio.wait_for(bot.reserve(lane="interactive"), 1.0)).sent()
            return most, loop.time() - asked
        finally:
            await _drain(tasks)


async def test_bulk_never_takes_the_reserve_and_a_person_gets_it_at_once(redis_url: str) -> None:
    # Bounded as a whole: a mutation run once waited out its 300 s here on a loaded
    # machine; a broken throttle must fail this test, never hang it.
    async with asyncio.timeout(60):
        most, _ = await bulk_with_a_reserve_then_a_person(redis_url)
    assert most <= 16  # 20 less the 4 held for interactive starts


@pytest.mark.timing
async def test_bulk_runs_at_its_share_and_a_person_waits_under_350_ms(redis_url: str) -> None:
    most, person = await bulk_with_a_reserve_then_a_person(redis_url)
    assert most >= 14  # the bulk lane used its share: 20 less the 4 held
    assert person < 0.35


async def test_an_interactive_start_goes_ahead_of_bulk_starts_waiting_in_another_process(
    redis_url: str,
) -> None:
    async with (
        RedisThrottle(redis_url, key="first", limit=4, seconds=0.5, reserve=0.25) as campaign,
        RedisThrottle(redis_url, key="first", limit=4, seconds=0.5, reserve=0.25) as bot,
    ):
        order: list[str] = []
        for _ in range(4):  # the window is full
            (await bot.reserve()).sent()

        async def start(throttle: RedisThrottle, name: str, lane: str) -> None:
            (await throttle.reserve(lane=lane)).sent()
            order.append(name)

        bulk = [asyncio.ensure_future(start(campaign, f"bulk{i}", "bulk")) for i in range(5)]
        await asyncio.sleep(0.1)
        await start(bot, "person", "interactive")
        assert order == ["person"]
        await asyncio.gather(*bulk)


async def test_a_slot_freed_while_a_person_waits_is_never_a_bulk_start(redis_url: str) -> None:
    def one() -> RedisThrottle:
        return RedisThrottle(redis_url, key="held", limit=4, seconds=2, reserve=0.25)

    async with contextlib.AsyncExitStack() as stack:
        # Each a process of its own (a fresh pacer): the window fills at once.
        campaign, bot, *fillers = [await stack.enter_async_context(one()) for _ in range(6)]
        for filler in fillers:
            (await filler.reserve()).sent()
        person = asyncio.ensure_future(bot.reserve(lane="interactive"))
        await asyncio.sleep(0.1)
        assert await bot._redis.zcard("stampsync:{held}:wait:interactive") == 1
        # A slot frees while the person sleeps until the window moves on.
        await bot._redis.zpopmin("stampsync:{held}:log")
        with pytest.raises(OverBudget):
            await campaign.reserve(within=0.001, lane="bulk")
        await _drain([person])  # type: ignore[list-item]


async def _share(throttle: RedisThrottle, in_flight: int, until: float, count: list[int]) -> None:
    """Bulk starts for 3 s; counts those after the first window (before it nobody waits,
    so there is nothing to share) and before ``until``."""
    loop = asyncio.get_running_loop()
    since = until - 2.4

    async def one() -> None:
        while loop.time() < until:
            ticket = await throttle.reserve(lane="bulk")
            if since <= loop.time() < until:  # not the waiters still queued at the end
                count[0] += 1
            await asyncio.sleep(0.003)  # the request's round trip
            ticket.sent()

    await asyncio.gather(*(one() for _ in range(in_flight)))


async def two_bulk_campaigns(redis_url: str) -> tuple[int, int]:
    """Starts counted for a campaign of 4 tasks and one of 40, on one key."""
    async with (
        RedisThrottle(redis_url, key="fair", limit=40, seconds=0.5) as few,
        RedisThrottle(redis_url, key="fair", limit=40, seconds=0.5) as many,
    ):
        loop = asyncio.get_running_loop()
        until = loop.time() + 3.0
        a, b = [0], [0]
        await asyncio.gather(_share(few, 4, until, a), _share(many, 40, until, b))
    return a[0], b[0]


async def test_two_bulk_campaigns_split_the_bulk_share_whatever_their_concurrency(
    redis_url: str,
) -> None:
    a, b = await two_bulk_campaigns(redis_url)
    assert abs(a - b) <= 0.1 * max(a, b), (a, b)


@pytest.mark.timing
async def test_two_bulk_campaigns_together_run_near_the_bulk_share(redis_url: str) -> None:
    a, b = await two_bulk_campaigns(redis_url)
    assert a + b >= 0.85 * 36 * 4.8, (a, b)  # the bulk lane ran near its share of the quota


async def test_a_campaign_at_weight_two_gets_twice_the_bulk_share(redis_url: str) -> None:
    async with (
        RedisThrottle(redis_url, key="w", limit=40, seconds=0.5, weight=2) as heavy,
        RedisThrottle(redis_url, key="w", limit=40, seconds=0.5) as light,
    ):
        loop = asyncio.get_running_loop()
        until = loop.time() + 3.0
        a, b = [0], [0]
        await asyncio.gather(_share(heavy, 8, until, a), _share(light, 8, until, b))
    assert 1.7 <= a[0] / b[0] <= 2.3, (a, b)


async def test_stamps_ride_on_the_next_acquire_one_round_trip_per_start(redis_url: str) -> None:
    async with RedisThrottle(redis_url, key="rt", limit=100_000, seconds=1) as shared:
        for _ in range(50):  # one task: no batching, each call carries the last stamp
            ticket = await shared.reserve()
            ticket.sent()
        assert shared.redis_calls == 50

        n = 3000

        async def worker() -> None:
            for _ in range(n // 30):
                (await shared.reserve(lane="bulk")).sent()
                await asyncio.sleep(0)

        before = shared.redis_calls
        await asyncio.gather(*(worker() for _ in range(30)))
        # One call grants the starts of the tasks queued behind its head, and carries
        # their stamps: far under one round trip per start.
        assert (shared.redis_calls - before) / n <= 0.25


async def a_waiter_gives_up(redis_url: str) -> float:
    """A bulk waiter first in the queue gives up: it leaves the queue at once. Returns the
    seconds the next waiter then took to start."""
    async with (
        RedisThrottle(redis_url, key="gone", limit=2, seconds=0.5, reserve=0) as quitter,
        RedisThrottle(redis_url, key="gone", limit=2, seconds=0.5, reserve=0) as patient,
    ):
        for _ in range(2):
            (await quitter.reserve()).sent()
        waiting = asyncio.ensure_future(quitter.reserve(lane="bulk"))
        await asyncio.sleep(0.05)  # it is first in the bulk queue now
        queue = "stampsync:{gone}:wait:bulk"
        assert await quitter._redis.zcard(queue) == 1
        await _drain([waiting])  # type: ignore[list-item]
        await asyncio.sleep(0.05)
        assert await quitter._redis.zcard(queue) == 0
        loop = asyncio.get_running_loop()
        asked = loop.time()
        (await patient.reserve(lane="bulk")).sent()
        return loop.time() - asked


async def test_a_waiter_that_gives_up_leaves_the_queue_at_once(redis_url: str) -> None:
    await a_waiter_gives_up(redis_url)


@pytest.mark.timing
async def test_the_next_waiter_starts_when_the_slot_frees_not_after_the_quitters_turn(
    redis_url: str,
) -> None:
    # The slot frees about 0.4 s after the patient one asks; the quitter's place (it
    # would have kept it 100 ms past that) is gone, so the patient one starts then.
    assert await a_waiter_gives_up(redis_url) < 0.5


def test_reserve_and_weight_are_checked() -> None:
    with pytest.raises(ConfigurationError, match="reserve must be a fraction"):
        RedisThrottle("redis://127.0.0.1:1/0", key="k", limit=5, seconds=1, reserve=-0.1)
    with pytest.raises(ConfigurationError, match="weight must be a positive"):
        RedisThrottle("redis://127.0.0.1:1/0", key="k", limit=5, seconds=1, weight=0)


async def test_a_fleets_store_throttles_leave_the_reserve_only_when_told(redis_url: str) -> None:
    """``fleet worker --throttle-reserve 0``: nothing but the fleet sends for its stores,
    so its bulk jobs may take every start of a window; by default one start in ten stays
    free for a store's bot on the same key."""
    for reserve, most in ((0.0, 10), (0.1, 9)):
        throttles = RedisThrottles(
            redis_url, key=f"fleet-{reserve}:{{account}}", limit=10, seconds=1, reserve=reserve
        )
        try:
            store = throttles.for_account("store-1")
            starts = []
            for _ in range(25):
                (await store.reserve(lane="bulk")).sent()
                starts.append(time.monotonic())
        finally:
            await throttles.aclose()
        assert max_in_window(starts, 1.0) == most, reserve
    with pytest.raises(ConfigurationError, match="reserve"):
        RedisThrottles(redis_url, limit=10, seconds=60, reserve=1.0)
