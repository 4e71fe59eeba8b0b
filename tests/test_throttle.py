"""The in-process throttle: the window contract, fairness, and the 429 pause."""

from __future__ import annotations

import asyncio

import pytest

from stampsync import StampedClient
from stampsync._local_throttle import default_margin
from stampsync.errors import ClientStateError, ConfigurationError
from stampsync.testing import max_in_window
from stampsync.throttle import LocalThrottle, Throttle
from tests._server import RecordingServer


class FakeClock:
    """A clock that only moves when someone sleeps on it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)
        await asyncio.sleep(0)


def make(limit: int, seconds: float, clock: FakeClock) -> LocalThrottle:
    """The sliding log alone (burst=limit: no pacer), on a fake clock."""
    return LocalThrottle(limit, seconds, burst=limit, clock=clock, sleep=clock.sleep)


async def test_burst_of_many_tasks_never_exceeds_limit_in_any_window() -> None:
    clock = FakeClock()
    throttle = make(50, 1.0, clock)
    starts: list[float] = []

    async def one() -> None:
        await throttle.acquire()
        starts.append(clock())

    await asyncio.gather(*(one() for _ in range(500)))
    assert len(starts) == 500
    assert max_in_window(starts, 1.0) == 50
    # 500 starts, 50 a window: the last batch starts 9 windows (each with the throttle's
    # margin) after the first, so the throughput is the quota's, not less.
    assert starts[-1] - starts[0] == pytest.approx(9 * (1.0 + default_margin(1.0)), rel=1e-6)


async def test_sustained_rate_is_at_least_98_percent_of_limit() -> None:
    clock = FakeClock()
    throttle = make(500, 60.0, clock)
    t0 = clock()
    for _ in range(5000):
        await throttle.acquire()
    elapsed = clock() - t0
    # 5000 starts need 9 full windows after the first; the margin is 50 ms a window.
    rate = 5000 / (elapsed + 60.05)
    assert rate / (500 / 60) >= 0.98


async def test_steady_trickle_is_never_delayed_below_the_limit() -> None:
    clock = FakeClock()
    throttle = make(10, 1.0, clock)
    for _ in range(100):
        before = clock()
        await throttle.acquire()
        assert clock() == before  # 10 per second allowed, we ask 5 per second
        await clock.sleep(0.2)


async def test_waiters_are_served_in_arrival_order() -> None:
    clock = FakeClock()
    throttle = make(2, 1.0, clock)
    order: list[int] = []

    async def one(i: int) -> None:
        await throttle.acquire()
        order.append(i)

    tasks = []
    for i in range(10):
        tasks.append(asyncio.create_task(one(i)))
        await asyncio.sleep(0)
    await asyncio.gather(*tasks)
    assert order == list(range(10))


async def test_429_pauses_every_caller_and_doubles_for_repeats() -> None:
    clock = FakeClock()
    throttle = make(100, 10.0, clock)
    await throttle.acquire()
    first = await throttle.rate_limited(None)
    assert first == pytest.approx(0.5)
    # A second 429 from the same burst (pause still running) does not double it.
    assert await throttle.rate_limited(None) == pytest.approx(0.5)
    t = clock()
    await throttle.acquire()
    assert clock() - t == pytest.approx(0.5)
    # The next 429 after the pause ended is a repeat: the pause doubles.
    assert await throttle.rate_limited(None) == pytest.approx(1.0)
    # The server's Retry-After wins when given.
    assert await throttle.rate_limited(7.0) == pytest.approx(7.0)
    assert throttle.rate_limited_count == 4


async def test_429_strikes_reset_after_a_quiet_window() -> None:
    clock = FakeClock()
    throttle = make(100, 10.0, clock)
    assert await throttle.rate_limited(None) == pytest.approx(0.5)
    await clock.sleep(1)
    assert await throttle.rate_limited(None) == pytest.approx(1.0)
    await clock.sleep(30)
    assert await throttle.rate_limited(None) == pytest.approx(0.5)


async def test_default_pacing_spreads_starts_and_keeps_the_window() -> None:
    throttle = LocalThrottle(20, 0.5)  # burst defaults to 2
    loop = asyncio.get_running_loop()
    starts: list[float] = []

    async def one() -> None:
        await throttle.acquire()
        starts.append(loop.time())

    await asyncio.gather(*(one() for _ in range(30)))
    assert max_in_window(starts, 0.5) <= 20
    # Paced at 40/s after a burst of 2: the first 10 cannot all start at once.
    assert max(starts[:10]) - min(starts[:10]) > 0.15


async def test_default_pacing_holds_for_starts_granted_without_waiting() -> None:
    """pacer-free-path-ignores-the-bucket: the free path (``reserve_now``, what every
    request of a client tries first) spends the pacer's bucket as ``acquire`` does."""
    throttle = LocalThrottle(20, 0.5)  # burst defaults to 2
    loop = asyncio.get_running_loop()
    starts: list[float] = []

    async def one() -> None:
        ticket = throttle.reserve_now()
        if ticket is None:
            ticket = await throttle.reserve()
        starts.append(loop.time())
        ticket.sent()

    await asyncio.gather(*(one() for _ in range(30)))
    assert max_in_window(starts, 0.5) <= 20
    assert max(starts[:10]) - min(starts[:10]) > 0.15


@pytest.mark.parametrize(
    ("limit", "seconds"), [(0, 1), (-1, 1), (1.5, 1), (True, 1), (1, 0), (1, -2), (1, "1")]
)
def test_bad_limits_are_refused_with_a_named_error(limit: object, seconds: object) -> None:
    with pytest.raises(ConfigurationError, match="throttle"):
        LocalThrottle(limit, seconds)  # type: ignore[arg-type]


@pytest.mark.parametrize("burst", [0, 11, 2.5, True])
def test_bad_burst_is_refused(burst: object) -> None:
    with pytest.raises(ConfigurationError, match="burst"):
        LocalThrottle(10, 1, burst=burst)  # type: ignore[arg-type]


def test_local_throttle_satisfies_the_protocol() -> None:
    assert isinstance(LocalThrottle(1, 1), Throttle)


async def test_server_never_sees_more_than_limit_in_a_window(server: RecordingServer) -> None:
    """Bursty, steady and bursty again through the real transport, counted at arrival
    by a server in the test's loop, on the fake clock (tests/integration has the same
    run against a server in another process, on real time)."""
    limit, seconds = 20, 0.5
    async with StampedClient(
        "pub",
        "secret",
        "store",
        api_url=server.url,
        throttle_limit=limit,
        throttle_seconds=seconds,
        concurrent_connections=8,
    ) as client:
        await asyncio.gather(*(client.customers.get(i) for i in range(100)))
        for i in range(10):
            await client.customers.get(i)
        await asyncio.gather(*(client.customers.get(i) for i in range(30)))
    times = [a.at for a in server.arrivals]
    assert len(times) == 140
    assert max_in_window(times, seconds) <= limit
    # 140 starts at 20 per 0.5 s and its margin: six full windows after the first.
    span = max(times) - min(times)
    assert 6 * seconds <= span <= 8 * seconds


@pytest.mark.parametrize(
    ("times", "seconds", "expected"),
    [
        ([], 1.0, 0),
        ([5.0], 1.0, 1),
        ([0.0, 0.99, 1.0], 1.0, 2),
        ([0.0, 0.5, 0.999], 1.0, 3),
        ([3.0, 0.0, 1.5, 0.2, 3.1], 1.0, 2),
        ([1.0] * 4, 0.1, 4),
    ],
)
def test_max_in_window_counts_half_open_windows(
    times: list[float], seconds: float, expected: int
) -> None:
    assert max_in_window(times, seconds) == expected


def test_max_in_window_matches_brute_force() -> None:
    import random

    rng = random.Random(5)
    times = [rng.uniform(0, 10) for _ in range(300)]
    brute = max(sum(1 for u in times if t <= u < t + 0.7) for t in times)
    assert max_in_window(times, 0.7) == brute


async def test_a_start_not_yet_sent_occupies_the_present_until_it_is_stamped() -> None:
    clock = FakeClock()
    throttle = make(2, 1.0, clock)
    first = await throttle.reserve()
    second = await throttle.reserve()
    clock.now += 5.0  # a long handshake: neither has reached the server yet
    waiting = asyncio.ensure_future(throttle.acquire())
    await asyncio.sleep(0)
    assert not waiting.done()  # both held slots still count, however old their grant
    first.sent()  # stamped now (t = 1005), not at its grant (t = 1000)
    second.release()  # never sent: given back, not counted
    await waiting  # takes the slot the unsent one gave back
    third = asyncio.ensure_future(throttle.acquire())
    await asyncio.sleep(0.01)
    # Full again: the next slot frees when the first start, stamped at 1005, ages out.
    assert clock.now >= 1005.0 + 1.0
    await third


async def test_a_ticket_counts_once_and_release_after_sent_changes_nothing() -> None:
    clock = FakeClock()
    throttle = make(1, 1.0, clock)
    ticket = await throttle.reserve()
    ticket.sent()
    ticket.release()
    ticket.sent()
    start = clock.now
    await throttle.acquire()
    # One start, counted once: the next waits one window (and the margin), not two.
    assert clock.now == pytest.approx(start + 1.0 + default_margin(1.0))


def test_a_local_throttle_used_from_a_second_event_loop_is_refused_clearly() -> None:
    throttle = LocalThrottle(10, 1.0)
    asyncio.run(throttle.acquire())
    with pytest.raises(ClientStateError, match="one throttle per loop"):
        asyncio.run(throttle.acquire())


@pytest.mark.parametrize("margin", [float("nan"), float("inf"), -0.1])
def test_a_margin_that_is_not_finite_and_positive_is_refused(margin: float) -> None:
    # Before, nan passed (nan < 0 is False) and silently disabled the window's margin.
    with pytest.raises(ConfigurationError, match="margin"):
        LocalThrottle(10, 1, margin=margin)


@pytest.mark.parametrize("counted_at", ["grant", "send"])
async def test_a_server_whose_window_runs_a_little_long_never_counts_one_too_many(
    counted_at: str,
) -> None:
    """What the margin is for: a strict server whose 1 s window is really 1.001 s (or
    whose clock ticks coarsely) still never counts L + 1, in a burst or in steady use."""
    clock = FakeClock()
    throttle = make(10, 1.0, clock)
    arrivals: list[float] = []

    async def one() -> None:
        if counted_at == "grant":
            await throttle.acquire()
            arrivals.append(clock())
        else:
            ticket = await throttle.reserve()
            arrivals.append(clock())  # the server has it at once, and answers
            ticket.sent()

    await asyncio.gather(*(one() for _ in range(60)))
    for _ in range(40):
        await one()
    assert len(arrivals) == 100
    assert max_in_window(arrivals, 1.0) == 10  # the quota is used, not left idle
    assert max_in_window(arrivals, 1.001) <= 10
    # ...while the sustained rate stays within 1 % of L/S (9 windows after the first).
    assert arrivals[-1] - arrivals[0] <= 9 * 1.0 * 1.01
