"""Lanes on one quota: the reserve bulk never takes, interactive starts first, the lane
each request carries, and the planner's estimate (all on the fake loop clock)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from aiohttp import web

from stampsync import StampedClient, StampsClient
from stampsync._local_throttle import FairTurns, Flow, default_margin
from stampsync.cli._common import announce_plan, time_left
from stampsync.errors import ConfigurationError
from stampsync.stamps import StampAward
from stampsync.testing import HTTPRequest, HTTPResponse, MockTransport, max_in_window
from stampsync.throttle import LocalShare, LocalThrottle
from tests._clock import FakeLoopTime
from tests._server import RecordingServer


async def test_bulk_never_takes_the_reserved_slots_of_a_window(clock: FakeLoopTime) -> None:
    loop = asyncio.get_running_loop()
    throttle = LocalThrottle(10, 1.0, burst=10, reserve=0.2)  # 2 starts held
    starts: list[float] = []

    async def bulk() -> None:
        ticket = await throttle.reserve(lane="bulk")
        ticket.sent()
        starts.append(loop.time())

    await asyncio.gather(*(bulk() for _ in range(80)))
    assert throttle.reserved == 2
    assert max_in_window(starts, 1.0) == 8
    # The window's last two slots are still there for a person waiting.
    granted_at = loop.time()
    for _ in range(2):
        (await throttle.reserve(lane="interactive")).sent()
    assert loop.time() == granted_at


async def test_bulk_runs_at_the_limit_less_only_the_unused_reserve(clock: FakeLoopTime) -> None:
    loop = asyncio.get_running_loop()
    throttle = LocalThrottle(10, 1.0, burst=10, reserve=0.3)  # 3 starts held
    t0 = loop.time()
    for _ in range(2):  # a person used two of the three
        (await throttle.reserve(lane="interactive")).sent()
    for _ in range(7):  # bulk may take 10 - 2 - 1 unused
        (await throttle.reserve(lane="bulk")).sent()
    assert loop.time() == t0
    late = asyncio.ensure_future(throttle.reserve(lane="bulk"))
    await asyncio.sleep(0.5)
    assert not late.done()  # the last unused slot stays a person's
    (await throttle.reserve(lane="interactive")).sent()
    assert loop.time() - t0 == pytest.approx(0.5)
    (await late).sent()
    # Once the first start aged out of the window (and its margin), not before.
    waited = loop.time() - t0
    assert 1.0 < waited <= 1.0 + default_margin(1.0) + 1e-6  # float time


async def test_interactive_starts_go_ahead_of_waiting_bulk_starts(clock: FakeLoopTime) -> None:
    throttle = LocalThrottle(4, 1.0, burst=4, reserve=0.25)  # 1 start held
    order: list[str] = []

    async def start(name: str, lane: str) -> None:
        (await throttle.reserve(lane=lane)).sent()
        order.append(name)

    for _ in range(4):  # the window is full
        await start("first", "interactive")
    bulk = [asyncio.ensure_future(start(f"bulk{i}", "bulk")) for i in range(6)]
    await asyncio.sleep(0.1)  # the bulk starts are waiting before the person arrives
    person = asyncio.ensure_future(start("person", "interactive"))
    await asyncio.gather(person, *bulk)
    assert order[4] == "person"
    assert order[5:] == [f"bulk{i}" for i in range(6)]  # bulk keeps its own order


async def test_an_interactive_start_does_not_wait_in_line_behind_paced_bulk_starts(
    clock: FakeLoopTime,
) -> None:
    loop = asyncio.get_running_loop()
    throttle = LocalThrottle(100, 10.0)  # paced: bursts of 10, then 10 per second
    backlog = [asyncio.ensure_future(throttle.acquire(lane="bulk")) for _ in range(40)]
    await asyncio.sleep(0)
    asked = loop.time()
    await throttle.acquire(lane="interactive")
    assert loop.time() - asked < 0.01
    await asyncio.gather(*backlog)


def test_reserve_is_a_fraction_of_at_least_one_start_and_never_the_whole_limit() -> None:
    assert LocalThrottle(30, 1).reserved == 3  # the default: a tenth
    assert LocalThrottle(5, 1).reserved == 1  # at least one start
    assert LocalThrottle(1, 1).reserved == 0  # bulk keeps a slot
    assert LocalThrottle(30, 1, reserve=0).reserved == 0
    with pytest.raises(ConfigurationError, match="reserve must be a fraction"):
        LocalThrottle(30, 1, reserve=1.0)


async def test_an_unknown_lane_is_refused_by_name(clock: FakeLoopTime) -> None:
    throttle = LocalThrottle(30, 1)
    with pytest.raises(ConfigurationError, match="lane must be 'interactive' or 'bulk'"):
        await throttle.reserve(lane="fast")


def _customers(request: HTTPRequest) -> HTTPResponse:
    page = int(request.url.query.get("page", "1"))
    rows = [{"id": page * 10 + i, "email": f"c{page}-{i}@x.co"} for i in range(2)]
    return HTTPResponse.json({"data": rows if page <= 3 else [], "page": page, "total": 6})


async def test_each_request_carries_its_lane_single_calls_interactive_exports_bulk() -> None:
    mock = MockTransport(_customers)
    async with StampedClient("pub", "key", "1", transport=mock) as c:
        await c.customers.list(page=1, limit=2)
        async with c.customers.export(page_size=2) as rows:
            assert len([r async for r in rows]) == 6
        single, *exported = [r.lane for r in mock.requests]
        assert single == "interactive"
        assert set(exported) == {"bulk"}
        mock.requests.clear()
        bot = c.with_options(lane="interactive")
        async with bot.customers.export(page_size=2) as rows:
            await rows.__anext__()  # a client's explicit lane wins over the export's
        await c.with_options(lane="bulk").customers.list(page=1, limit=2)
        await c.customers.list(page=1, limit=2)  # the parent keeps its own
        lanes = [r.lane for r in mock.requests]
        assert set(lanes[:-2]) == {"interactive"}
        assert lanes[-2:] == ["bulk", "interactive"]


async def test_a_batch_runs_in_the_bulk_lane_and_the_caller_stays_interactive() -> None:
    mock = MockTransport(lambda r: HTTPResponse.json({"award": {"id": 7, "number_of_stamps": 1}}))
    async with StampsClient("token", store=3, transport=mock) as c:
        awards = [StampAward(key=f"k{i}", user=f"u{i}@x.co", number_of_stamps=1) for i in range(5)]
        report = await c.stamps.add_many(awards, journal=None)
        assert [o.status for o in report] == ["applied"] * 5
        assert [r.lane for r in mock.requests if r.path_template == "/api/stamps/add"] == [
            "bulk"
        ] * 5
        await c.stamps.add(user="a@x.co", number_of_stamps=1)
        assert mock.requests[-1].lane == "interactive"  # the batch left no mark behind
    mock = MockTransport(lambda r: HTTPResponse.json({"award": {"id": 7, "number_of_stamps": 1}}))
    async with StampsClient("token", store=3, transport=mock, lane="bulk") as c:
        await c.stamps.add(user="a@x.co", number_of_stamps=1)
    assert mock.requests[-1].lane == "bulk"


def test_lane_and_reserve_settings_are_checked() -> None:
    with pytest.raises(ConfigurationError, match="lane must be 'interactive' or 'bulk'"):
        StampsClient("token", lane="urgent")
    with pytest.raises(ConfigurationError, match="throttle_reserve must be a fraction"):
        StampsClient("token", throttle_reserve=1.5)
    with pytest.raises(ConfigurationError, match="pass reserve= to it"):
        StampsClient("token", throttle_reserve=0.2, throttle=LocalThrottle(10, 1))
    c = StampsClient("token", throttle_limit=40, throttle_seconds=1, throttle_reserve=0.25)
    assert isinstance(c.throttle, LocalThrottle)
    assert c.throttle.reserved == 10
    with pytest.raises(ConfigurationError, match="lane must be"):
        c.with_options(lane="later")


async def test_plan_is_within_a_tenth_of_a_measured_bulk_run(clock: FakeLoopTime) -> None:
    loop = asyncio.get_running_loop()
    throttle = LocalThrottle(100, 2.0)  # reserve 10: bulk runs at 90 per window
    plan = throttle.plan(900)
    t0 = loop.time()

    async def worker(n: int) -> None:
        for _ in range(n):
            ticket = await throttle.reserve(lane="bulk")
            await asyncio.sleep(0)
            ticket.sent()

    await asyncio.gather(*(worker(90) for _ in range(10)))
    measured = loop.time() - t0
    assert plan.limited_by == "quota"
    assert plan.bulk_limit == 90
    assert abs(plan.seconds - measured) <= 0.1 * measured, (plan, measured)


def test_plan_names_the_connections_when_they_set_the_pace() -> None:
    throttle = LocalThrottle(500, 60)
    by_quota = throttle.plan(3000, round_trip=0.05, connections=8)
    assert by_quota.limited_by == "quota"
    assert by_quota.in_flight_needed == 1
    slow = throttle.plan(3000, round_trip=0.5, connections=2)
    assert slow.limited_by == "connections"
    assert slow.rate == pytest.approx(4.0)
    assert slow.seconds == pytest.approx(750.0)
    assert "about" in str(by_quota)
    assert "450 per 60 s" in str(by_quota)


async def test_client_plan_uses_the_learned_limit_and_the_measured_round_trip() -> None:
    mock = MockTransport(_customers)
    async with StampedClient(
        "pub", "key", "1", transport=mock, throttle_limit=100, throttle_seconds=2
    ) as c:
        before = await c.plan(3000)
        assert isinstance(c.throttle, LocalThrottle)
        c.throttle._set_effective(50, 0.0)  # as a 429 would have taught it
        after = await c.plan(3000)
    assert (before.limit, after.limit) == (100, 50)
    assert after.bulk_limit == 45
    assert after.seconds > 1.9 * before.seconds


async def test_a_persons_call_never_queues_for_a_connection_behind_bulk_calls(
    server: RecordingServer,
) -> None:
    async def customer(request: web.Request, n: int) -> web.StreamResponse:
        return web.json_response({"id": 1, "email": "c@x.co"})

    server.responder = customer
    loop = asyncio.get_running_loop()
    async with StampedClient(
        "pub",
        "key",
        "1",
        api_url=server.url,
        throttle_limit=10,
        throttle_seconds=60,
        throttle_reserve=0.2,
        concurrent_connections=3,
    ) as c:
        bulk = c.with_options(lane="bulk")
        # Paced at one start per 6 s: the bulk calls hold connections while they wait.
        waiting = [asyncio.ensure_future(bulk.customers.get(1)) for _ in range(20)]
        await asyncio.sleep(1.0)
        assert len(server.arrivals) == 1
        asked = loop.time()
        await c.customers.get(2)
        assert loop.time() - asked < 0.1  # not the ~5 s until a bulk call lets one go
        for task in waiting:
            task.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)


async def test_the_cli_announces_the_plan_before_a_long_batch_only(
    capsys: pytest.CaptureFixture[str],
) -> None:
    client = StampsClient("token", throttle_limit=500, throttle_seconds=60)
    plan = await announce_plan(client, 3000)
    said = capsys.readouterr().err
    assert said.startswith("plan: 3000 requests: about 7 min at 450 per 60 s")
    assert plan.seconds == pytest.approx(400, rel=0.01)
    await announce_plan(client, 20)  # a few seconds: nothing to announce
    assert capsys.readouterr().err == ""


def test_the_progress_time_left_is_the_plans_early_then_the_measured_rates() -> None:
    from rich.progress import Progress

    now = [0.0]
    bar = Progress(get_time=lambda: now[0], disable=True)
    task_id = bar.add_task("awarding", total=1000)
    plan = LocalThrottle(500, 60).plan(1000)  # about 133 s at the bulk lane's 450 per 60 s
    task = bar.tasks[0]
    assert time_left(task, plan) == pytest.approx(plan.seconds)
    assert time_left(task, None) is None  # nothing measured yet, and no plan
    now[0] = 1.0
    bar.update(task_id, advance=10)  # a first burst says little of the rate to come
    assert time_left(task, plan) == pytest.approx(plan.seconds * 990 / 1000)
    for _ in range(49):  # then 25 rows a second for 20 s: the measured rate takes over
        now[0] += 0.4
        bar.update(task_id, advance=10)
    assert task.completed == 500
    measured = task.time_remaining
    assert measured is not None
    assert time_left(task, plan) == measured != pytest.approx(plan.seconds / 2, rel=0.2)


async def served_in_turn(queued: list[tuple[str, Flow, int]]) -> list[str]:
    """The order FairTurns serves ``count`` waiters of each ``(name, flow, count)``,
    queued in that order behind a holder of the turn."""
    turns = FairTurns()
    await turns.take(Flow(1))
    served: list[str] = []

    async def one(name: str, flow: Flow) -> None:
        await turns.take(flow)
        served.append(name)
        turns.give()

    tasks = [asyncio.create_task(one(n, f)) for n, f, count in queued for _ in range(count)]
    await asyncio.sleep(0)
    turns.give()
    await asyncio.gather(*tasks)
    return served


async def test_fair_turns_alternate_between_flows_whatever_each_has_queued() -> None:
    """local-bulk-served-in-arrival-order: the flow with more waiters would take every
    turn until its queue ran dry."""
    served = await served_in_turn([("many", Flow(1), 6), ("few", Flow(1), 2)])
    assert served == ["many", "few", "many", "few", "many", "many", "many", "many"]


async def test_a_flow_of_weight_two_gets_two_turns_for_the_others_one() -> None:
    served = await served_in_turn([("light", Flow(1), 4), ("heavy", Flow(2), 8)])
    assert served[:9].count("heavy") == 6  # two for one while both have waiters
    assert served[:9].count("light") == 3


async def test_a_waiter_cancelled_after_its_turn_came_passes_it_on() -> None:
    turns = FairTurns()
    flow = Flow(1)
    await turns.take(flow)
    first = asyncio.create_task(turns.take(flow))
    second = asyncio.create_task(turns.take(flow))
    await asyncio.sleep(0)
    turns.give()  # the first waiter's turn...
    first.cancel()  # ...cancelled before it ran
    await asyncio.wait_for(second, 1)
    assert first.cancelled()


async def test_two_campaigns_on_one_local_throttle_split_the_bulk_lane_by_weight(
    clock: FakeLoopTime,
) -> None:
    """Two clients, each with its share of one LocalThrottle, 40 and 4 bulk calls in
    flight: equal shares at weights 1 and 1, two to one at weights 2 and 1."""
    for weights, expected in (((1, 1), 1.0), ((2, 1), 2.0)):
        throttle = LocalThrottle(20, 1.0)
        counts = [0, 0]

        def handler(n: int, counts: list[int] = counts) -> Callable[[HTTPRequest], HTTPResponse]:
            def answer(request: HTTPRequest) -> HTTPResponse:
                counts[n] += 1
                return HTTPResponse.json({"id": 1, "email": "a@b.co"})

            return answer

        async def campaign(client: StampedClient, in_flight: int, stop: asyncio.Event) -> None:
            bulk = client.with_options(lane="bulk")

            async def worker() -> None:
                while not stop.is_set():
                    await bulk.customers.get(1)

            await asyncio.gather(*(worker() for _ in range(in_flight)))

        def client(n: int, connections: int, share: LocalShare) -> StampedClient:
            return StampedClient(
                "pub",
                "key",
                "1",
                transport=MockTransport(handler(n)),
                throttle=share,
                concurrent_connections=connections,
            )

        stop = asyncio.Event()
        async with (
            client(0, 40, throttle.share(weights[0])) as wide,
            client(1, 4, throttle.share(weights[1])) as narrow,
        ):
            runs = asyncio.gather(campaign(wide, 40, stop), campaign(narrow, 4, stop))
            await asyncio.sleep(2)  # past the first window, which the first to ask fill
            before = list(counts)
            await asyncio.sleep(10)  # 10 windows of the bulk lane (18 a window)
            got = [counts[0] - before[0], counts[1] - before[1]]  # not the drain below
            stop.set()
            await runs
        assert sum(got) >= 170, got
        assert got[0] / got[1] == pytest.approx(expected, rel=0.1), got


async def test_a_limit_learned_mid_run_does_not_refill_the_pacer(clock: FakeLoopTime) -> None:
    """Re-pacing (a limit learned from 429s, or probed back up) keeps each bucket as
    full as it was: an empty new bucket would hand out a whole burst at once, which a
    server at its limit answers with 429s (seen as six at once in the benchmark)."""
    throttle = LocalThrottle(200, 2.0, reserve=0)
    granted = 0
    while (ticket := throttle.reserve_now("bulk")) is not None:
        ticket.sent()
        granted += 1
    assert granted == 20  # the burst; then the pacer says wait
    throttle._set_effective(190, asyncio.get_running_loop().time())  # as a probe up would
    assert throttle.reserve_now("bulk") is None
    clock.advance(0.1)  # the new bucket drips at 190 per 2 s: about 9 starts' room
    again = 0
    while (ticket := throttle.reserve_now("bulk")) is not None:
        ticket.sent()
        again += 1
    assert 8 <= again <= 10, again


def test_a_share_is_checked_and_says_what_it_shares() -> None:
    throttle = LocalThrottle(20, 1.0)
    share = throttle.share(2)
    assert (share.limit, share.seconds, share.weight) == (20, 1.0, 2.0)
    assert repr(share) == "LocalThrottle(limit=20, seconds=1).share(2)"
    for bad in (0, -1, float("inf"), True, "2"):
        with pytest.raises(ConfigurationError, match="weight"):
            throttle.share(bad)  # type: ignore[arg-type]
