"""Lanes on one quota: a bot beside an export, fair bulk shares, and the planner.

1. Bot and export, one process (LocalThrottle): an export fills L=30/S=1 (10 pages
   ahead, 8 connections) against a strict sandbox in its own process, while a bot calls
   ``customers.get`` every 0.25 s through ``with_options(lane="interactive")``. Measured:
   the bot's slowest call against S/L plus its idle round trip (reported) and against
   S/(L - reserve) plus the margin and the round trip (asserted: the bulk lane's starts
   are that far apart, so a slot ages at least that often; through Redis 10 ms more, for
   the other process's stamps and the waiter's polls), the export's sustained
   rate against L/S, the most arrivals in any window, 429s.
2. The same across two processes on one ``RedisThrottle`` key (the export in one, the
   bot in the other).
3. Fair shares: two processes in the bulk lane of one key, with 4 and 40 starts in flight.
4. The planner: ``client.plan(n)`` against the measured time of an n-request export at
   L=100/S=2 (3,000 requests; 300 with ``--quick``).

Run: ``python -m benchmarks.lanes [--quick] [--json PATH]``. Every bound of issue 29 is
asserted here, with its tolerance, not in the default test suite; ``--quick`` (CI's smoke
run) asserts the quota's bounds and only reports the timing ones.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from stampsync import RequestEvent, StampedClient
from stampsync._local_throttle import default_margin, reserve_slots
from stampsync.sandbox import Sandbox, SandboxConfig
from stampsync.testing import max_in_window
from stampsync.throttle import RedisThrottle, Throttle
from tests._redis import redis_server

LIMIT, SECONDS = 30, 1.0
BOT_EVERY = 0.25


def slope(times: list[float]) -> float:
    """Events per second in the long run (least squares of count over time)."""
    xs = sorted(times)
    ys = range(len(xs))
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs
    )


def client(url: str, throttle: Throttle | None = None) -> StampedClient:
    c = SandboxConfig()
    return StampedClient(
        c.public_key,
        c.private_key,
        c.store_hash,
        api_url=url,
        throttle_limit=LIMIT,
        throttle_seconds=SECONDS,
        concurrent_connections=8,
        max_retries=0,
        throttle=throttle,
    )


async def export(c: StampedClient, pages: int, start_at: float) -> dict[str, Any]:
    """At ``start_at`` export ``pages`` pages, 10 ahead; its sustained rate."""
    await asyncio.sleep(max(0.0, start_at - time.time()))
    answered: list[float] = []

    def hook(event: RequestEvent) -> None:
        if event.kind == "response":
            answered.append(time.time())

    exporting = c.with_options(hooks=[hook])
    rows = 0
    async with exporting.customers.export(page_size=100, prefetch=10) as customers:
        async for _ in customers:
            rows += 1
    steady = [t for t in answered if t >= answered[0] + SECONDS]
    return {"rows": rows, "pages": len(answered), "rate": slope(steady), "end": answered[-1]}


async def bot(c: StampedClient, start_at: float, stop_at: float) -> dict[str, Any]:
    """Idle round trips first (before the export starts at ``start_at``); then, once the
    export has filled its first window, a call every BOT_EVERY seconds until ``stop_at``.

    (A burst of calls at the very moment a campaign starts can leave the window with a
    gap that the sliding log then keeps; see docs/lanes.md.)
    """
    person = c.with_options(lane="interactive")
    idle = []
    for i in range(5):
        t = time.perf_counter()
        await person.customers.get(1 + i)
        idle.append(time.perf_counter() - t)
    await asyncio.sleep(max(0.0, start_at + SECONDS - time.time()))
    calls = []
    i = 0
    while time.time() < stop_at:
        t = time.perf_counter()
        await person.customers.get(1 + i % 50)
        calls.append(time.perf_counter() - t)
        i += 1
        await asyncio.sleep(max(0.0, BOT_EVERY - (time.perf_counter() - t)))
    return {"idle_round_trip": statistics.median(idle), "idle": idle, "calls": calls}


def verdict(
    sb_arrivals: list[float],
    counters: dict[str, int],
    ex: dict[str, Any],
    b: Any,
    shared: bool,
) -> dict[str, Any]:
    calls = b["calls"]
    bound = SECONDS / LIMIT + b["idle_round_trip"]
    # What the bulk lane's pacing allows: its starts are spaced S/(L - reserve) apart, so
    # a slot ages at least that often (plus the log's margin). Through Redis, 10 ms more:
    # the other process stamps its starts on its next call to Redis (or within 2 ms, its
    # loop permitting), and a waiting person looks again every 2 ms.
    paced = SECONDS / (LIMIT - reserve_slots(LIMIT, 0.1)) + default_margin(SECONDS)
    if shared:
        paced += 0.01
    return {
        "bot_call_times_s": [round(c, 4) for c in calls],
        "bot_idle_s": [round(c, 4) for c in b["idle"]],
        "bot_calls": len(calls),
        "bot_slowest_s": round(max(calls), 4),
        "bot_median_s": round(statistics.median(calls), 4),
        "bot_bound_s": round(bound, 4),
        "bot_bound_paced_s": round(paced + b["idle_round_trip"], 4),
        "export_pages": ex["pages"],
        "export_rate_vs_limit": round(ex["rate"] / (LIMIT / SECONDS), 4),
        "max_in_window": max_in_window(sb_arrivals, SECONDS),
        "rate_limited_429": counters.get("rate_limited", 0),
    }


async def bot_beside_export(pages: int, redis_url: str | None) -> dict[str, Any]:
    """The export and the bot, in one process (LocalThrottle) or two (RedisThrottle)."""
    async with Sandbox(
        customers=pages * 100, members=60, limit=LIMIT, seconds=SECONDS, process=True
    ) as sb:
        # The export takes about pages / (0.9 L/S) seconds; the bot stops a little before.
        start_at = time.time() + 1.0
        stop_at = start_at + pages / (0.9 * LIMIT / SECONDS) - 1.0
        if redis_url is None:
            async with client(sb.url) as c:
                b_task = asyncio.ensure_future(bot(c, start_at, stop_at))
                ex = await export(c, pages, start_at)
                b = await b_task
        else:
            procs = [
                await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "benchmarks.lanes",
                    "--worker",
                    role,
                    redis_url,
                    sb.url,
                    str(pages),
                    str(start_at),
                    str(stop_at),
                    stdout=asyncio.subprocess.PIPE,
                )
                for role in ("export", "bot")
            ]
            ex, b = [json.loads((await p.communicate())[0]) for p in procs]
        arrivals = await sb.arrivals()
        counters = await sb.counters()
    return verdict(arrivals, counters, ex, b, redis_url is not None)


async def worker(
    role: str, redis_url: str, url: str, pages: int, start_at: float, stop_at: float
) -> Any:
    shared = RedisThrottle(redis_url, key="lanes", limit=LIMIT, seconds=SECONDS)
    async with shared, client(url, shared) as c:
        if role == "export":
            return await export(c, pages, start_at)
        return await bot(c, start_at, stop_at)


async def fair_worker(redis_url: str, in_flight: int, start_at: float, until: float) -> Any:
    """Bulk starts with ``in_flight`` tasks, each holding its start 3 ms (a round trip)."""
    async with RedisThrottle(redis_url, key="fair", limit=40, seconds=0.5) as shared:
        await asyncio.sleep(max(0.0, start_at - time.time()))
        since = start_at + 1.0  # after the first windows, when everyone waits
        counted = 0

        async def one() -> None:
            nonlocal counted
            while time.time() < until:
                ticket = await shared.reserve(lane="bulk")
                if since <= time.time() < until:
                    counted += 1
                await asyncio.sleep(0.003)
                ticket.sent()

        await asyncio.gather(*(one() for _ in range(in_flight)))
        return counted


async def fair_shares(redis_url: str, seconds: float) -> dict[str, Any]:
    start_at = time.time() + 1.5
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "benchmarks.lanes",
            "--fair-worker",
            redis_url,
            str(n),
            str(start_at),
            str(start_at + seconds),
            stdout=asyncio.subprocess.PIPE,
        )
        for n in (4, 40)
    ]
    few, many = [int((await p.communicate())[0]) for p in procs]
    return {
        "in_flight": [4, 40],
        "starts": [few, many],
        "difference": round(abs(few - many) / max(few, many), 4),
    }


async def planner(requests: int) -> dict[str, Any]:
    limit, seconds = 100, 2.0
    async with (
        Sandbox(
            customers=requests + 1, members=10, limit=limit, seconds=seconds, process=True
        ) as sb,
        sb.stamped_client(
            throttle_limit=limit,
            throttle_seconds=seconds,
            concurrent_connections=8,
            max_retries=0,
        ) as c,
    ):
        await c.customers.list(page=1, limit=1)  # a round trip measured
        plan = await c.plan(requests)
        t = time.perf_counter()
        async with c.customers.export(page_size=1, start_page=2, prefetch=10) as rows:
            n = len([r async for r in rows])
        measured = time.perf_counter() - t
    return {
        "requests": n,
        "plan_s": round(plan.seconds, 2),
        "measured_s": round(measured, 2),
        "error": round(abs(plan.seconds - measured) / measured, 4),
        "limited_by": plan.limited_by,
        "plan": str(plan),
    }


async def main(quick: bool) -> dict[str, Any]:
    pages = 150 if quick else 600
    with redis_server() as (url, _):
        result = {
            "one_process": await bot_beside_export(pages, None),
            "two_processes_redis": await bot_beside_export(pages, url),
            "fair_shares": await fair_shares(url, 3.0 if quick else 10.0),
        }
    result["planner"] = await planner(300 if quick else 3000)
    return result


def check(out: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The bounds of issue 29 that do not hold: (the quota's, timing's); empty when all do.

    The quota's (no window over L, no 429) hold on any machine; timing's depend on it."""
    quota: list[str] = []
    timing: list[str] = []
    for name in ("one_process", "two_processes_redis"):
        r = out[name]
        if r["bot_slowest_s"] > r["bot_bound_paced_s"]:
            timing.append(f"{name}: the bot's slowest call {r['bot_slowest_s']}s > bound")
        if r["export_rate_vs_limit"] < 0.85:
            timing.append(f"{name}: export at {r['export_rate_vs_limit']} of L/S < 0.85")
        if r["max_in_window"] > LIMIT or r["rate_limited_429"]:
            quota.append(f"{name}: {r['max_in_window']} in a window, {r['rate_limited_429']} 429s")
    if out["fair_shares"]["difference"] > 0.10:
        timing.append(f"fair shares differ by {out['fair_shares']['difference']}")
    if out["planner"]["error"] > 0.10:
        timing.append(f"plan off by {out['planner']['error']}")
    return quota, timing


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        role, redis_url, url, pages, start_at, stop_at = sys.argv[2:8]
        run = worker(role, redis_url, url, int(pages), float(start_at), float(stop_at))
        print(json.dumps(asyncio.run(run)))
        sys.exit(0)
    if len(sys.argv) > 1 and sys.argv[1] == "--fair-worker":
        redis_url, n, start_at, until = sys.argv[2:6]
        print(asyncio.run(fair_worker(redis_url, int(n), float(start_at), float(until))))
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json")
    args = parser.parse_args()
    out = asyncio.run(main(args.quick))
    for name in ("one_process", "two_processes_redis"):
        r = out[name]
        print(
            f"{name}: bot slowest {r['bot_slowest_s'] * 1000:.1f} ms (S/L + round trip "
            f"{r['bot_bound_s'] * 1000:.1f} ms, S/(L - reserve) + margin + round trip "
            f"{r['bot_bound_paced_s'] * 1000:.1f} ms; median {r['bot_median_s'] * 1000:.1f} ms, "
            f"{r['bot_calls']} calls); export {r['export_rate_vs_limit']:.3f} of L/S; max "
            f"{r['max_in_window']} in a window of {LIMIT}; {r['rate_limited_429']} 429s"
        )
    f = out["fair_shares"]
    print(
        f"fair shares: {f['starts']} starts with {f['in_flight']} in flight ({f['difference']:.1%})"
    )
    p = out["planner"]
    print(
        f"planner: {p['plan_s']} s planned, {p['measured_s']} s measured for "
        f"{p['requests']} requests ({p['error']:.1%} off; {p['plan']})"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    quota, timing = check(out)
    if quota or (timing and not args.quick):
        sys.exit("bounds not met: " + "; ".join(quota + timing))
    if timing:
        # A smoke run checks that the benchmark works on whatever machine runs it (CI's
        # included): its timing is reported, and asserted only in the full run.
        shown = "; ".join(timing)
        print(f"timing bounds not met in this smoke run (asserted in full runs): {shown}")
