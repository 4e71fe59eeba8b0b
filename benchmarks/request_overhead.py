"""Request path overhead: stampsync beside raw aiohttp, httpx and requests.

The sandbox runs as its own process, unthrottled. Every variant fetches the same
customers (``GET /api/v2/{store}/dashboard/customers/{id}``) with at most ten in flight
(requests: one at a time, as a plain loop does), decodes the JSON, and is timed.

How the noise of a shared machine is kept out of the ratio:

- the sandbox is pinned to a core of its own and this process to the others, so the
  client never waits for the CPU the server holds;
- the garbage of one run is collected before the next is timed;
- raw aiohttp and stampsync run back to back in every round (the order reversed every
  other round), many rounds, and the ratio reported is the median of each round's
  ratio: a slow spell of the machine hits both halves of a pair alike. httpx and
  requests, ten times slower, join the first few rounds only;
- beside times, the client's instructions per request, counted by valgrind's callgrind
  where valgrind is installed: the same count on every run, whatever else the machine
  is doing. It is the difference between runs of 200 and 1 200 requests, so start-up
  and imports cancel out.

Reported: wall time; client CPU time per request (``time.process_time``); ratios to raw
aiohttp (of the medians, and the median of the paired ratios with its interquartile
range); instructions; and whether the goal (stampsync at most 1.15x raw aiohttp, paired
wall ratio) is met.

- ``raw aiohttp``: one ClientSession, ``json.loads`` of the body;
- ``httpx``: one AsyncClient, ``response.json()``;
- ``requests``: one Session in a plain loop, ``response.json()`` (sequential);
- ``stampsync``: ``StampedClient.customers.get`` (throttle at a limit never reached,
  retry policy, typed errors, msgspec decode into ``Customer``).

Run: ``python -m benchmarks.request_overhead [--quick] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import httpx
import requests

from stampsync import StampedClient
from stampsync.sandbox import Sandbox, SandboxConfig

CONCURRENCY = 10


def paths(n: int, store: str) -> list[str]:
    return [f"/api/v2/{store}/dashboard/customers/{1 + i % 1000}" for i in range(n)]


async def timed(work: Awaitable[None]) -> tuple[float, float]:
    """Wall time and this process's CPU time spent on ``work``."""
    wall, cpu = time.perf_counter(), time.process_time()
    await work
    return time.perf_counter() - wall, time.process_time() - cpu


async def gather_limited(n: int, call: Callable[[int], Awaitable[object]]) -> None:
    todo = iter(range(n))

    async def worker() -> None:
        for i in todo:
            await call(i)

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))


async def raw_aiohttp(url: str, auth: str, n: int, store: str) -> tuple[float, float]:
    ps = paths(n, store)
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(
        connector=connector, headers={"Authorization": auth}
    ) as session:

        async def call(i: int) -> object:
            async with session.get(url + ps[i]) as r:
                return json.loads(await r.read())

        return await timed(gather_limited(n, call))


async def with_httpx(url: str, auth: str, n: int, store: str) -> tuple[float, float]:
    ps = paths(n, store)
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": auth}, limits=limits
    ) as client:

        async def call(i: int) -> object:
            return (await client.get(ps[i])).json()

        return await timed(gather_limited(n, call))


async def with_requests(url: str, auth: str, n: int, store: str) -> tuple[float, float]:
    ps = paths(n, store)

    def loop() -> tuple[float, float]:
        with requests.Session() as s:
            s.headers["Authorization"] = auth
            wall, cpu = time.perf_counter(), time.process_time()
            for p in ps:
                s.get(url + p, timeout=30).json()
            return time.perf_counter() - wall, time.process_time() - cpu

    return await asyncio.to_thread(loop)


async def with_stampsync(url: str, auth: str, n: int, store: str) -> tuple[float, float]:
    c = SandboxConfig()
    async with StampedClient(
        c.public_key,
        c.private_key,
        store,
        api_url=url,
        throttle_limit=10**9,
        throttle_seconds=1,
        concurrent_connections=CONCURRENCY,
    ) as client:

        async def call(i: int) -> object:
            return await client.customers.get(1 + i % 1000)

        return await timed(gather_limited(n, call))


VARIANTS = {
    "raw aiohttp": raw_aiohttp,
    "httpx": with_httpx,
    "requests": with_requests,
    "stampsync": with_stampsync,
}


GOAL = 1.15
PAIR = ("raw aiohttp", "stampsync")
ROOT = Path(__file__).resolve().parent.parent


def sandbox_auth() -> str:
    c = SandboxConfig()
    return "Basic " + base64.b64encode(f"{c.public_key}:{c.private_key}".encode()).decode()


def pin(server_pid: int) -> str:
    """Give the server the last core and this process the others; say what was done."""
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(cores) < 2:
        return "not pinned (one core)"
    os.sched_setaffinity(server_pid, {cores[-1]})
    os.sched_setaffinity(0, set(cores[:-1]))
    return f"client on cores {cores[:-1]}, sandbox on core {cores[-1]}"


def instructions_per_request(url: str, store: str, variant: str) -> float:
    """Client instructions per request under callgrind: (count(1200) - count(200)) / 1000."""
    counts = []
    for n in (200, 1200):
        with tempfile.TemporaryDirectory() as scratch:
            done = subprocess.run(
                [
                    "valgrind",
                    "--tool=callgrind",
                    f"--callgrind-out-file={scratch}/callgrind.out",
                    sys.executable,
                    "-m",
                    "benchmarks.request_overhead",
                    "--client-run",
                    url,
                    store,
                    variant,
                    str(n),
                ],
                capture_output=True,
                text=True,
                check=True,
                cwd=ROOT,
            )
        found = re.search(r"Collected : (\d+)", done.stderr)
        if found is None:
            raise RuntimeError(f"callgrind printed no count: {done.stderr[-500:]}")
        counts.append(int(found.group(1)))
    return (counts[1] - counts[0]) / 1000


def quartiles(values: list[float]) -> tuple[float, float]:
    if len(values) < 4:
        return min(values), max(values)
    q = statistics.quantiles(values, n=4)
    return q[0], q[2]


async def main(quick: bool, count_instructions: bool) -> dict[str, object]:
    n, all_rounds, pair_rounds = (1000, 2, 4) if quick else (5000, 6, 30)
    wall: dict[str, list[float]] = {k: [] for k in VARIANTS}
    cpu: dict[str, list[float]] = {k: [] for k in VARIANTS}
    paired: dict[str, list[float]] = {k: [] for k in VARIANTS}
    instructions: dict[str, float] = {}
    async with Sandbox(customers=1000, members=10, process=True, arrival_log=False) as sb:
        assert sb.pid is not None
        pinning = pin(sb.pid)
        store, auth = sb.config.store_hash, sandbox_auth()
        for fn in VARIANTS.values():  # warm up connections, caches, imports
            await fn(sb.url, auth, 200, store)
        # Pairs first, while the heap is the cleanest, then every client side by side.
        schedule = [PAIR] * pair_rounds + [tuple(VARIANTS)] * all_rounds
        for r, names in enumerate(schedule):
            times: dict[str, float] = {}
            for name in names if r % 2 == 0 else reversed(names):
                gc.collect()
                w, c_ = await VARIANTS[name](sb.url, auth, n, store)
                wall[name].append(w)
                cpu[name].append(c_)
                times[name] = w
            for name, w in times.items():
                paired[name].append(w / times["raw aiohttp"])
        if count_instructions:
            for name in PAIR:
                instructions[name] = await asyncio.to_thread(
                    instructions_per_request, sb.url, store, name
                )
    base_wall = statistics.median(wall["raw aiohttp"])
    base_cpu = statistics.median(cpu["raw aiohttp"])
    out: dict[str, object] = {}
    for name in VARIANTS:
        low, high = quartiles(paired[name])
        row: dict[str, object] = {
            "timed_runs": len(wall[name]),
            "median_s": round(statistics.median(wall[name]), 4),
            "min_s": round(min(wall[name]), 4),
            "max_s": round(max(wall[name]), 4),
            "requests_per_s": round(n / statistics.median(wall[name])),
            "cpu_us_per_request": round(statistics.median(cpu[name]) / n * 1e6, 1),
            "ratio_to_raw_aiohttp": round(statistics.median(wall[name]) / base_wall, 3),
            "paired_ratio_median": round(statistics.median(paired[name]), 3),
            "paired_ratio_q1": round(low, 3),
            "paired_ratio_q3": round(high, 3),
            "cpu_ratio_to_raw_aiohttp": round(statistics.median(cpu[name]) / base_cpu, 3),
        }
        if name in instructions:
            row["instructions_per_request"] = round(instructions[name])
            row["instruction_ratio_to_raw_aiohttp"] = round(
                instructions[name] / instructions["raw aiohttp"], 3
            )
        out[name] = row
    measured = statistics.median(paired["stampsync"])
    return {
        "requests": n,
        "concurrency": CONCURRENCY,
        "rounds": {"pairs": pair_rounds, "all_clients": all_rounds},
        "pinning": pinning,
        "instructions_counted": bool(instructions),
        "goal": {
            "stampsync_at_most": GOAL,
            "measured_paired_ratio": round(measured, 3),
            "met": measured <= GOAL,
        },
        "variants": out,
    }


def table(result: dict[str, object]) -> str:
    """The results as a Markdown table (the page's table is built from the same keys)."""
    variants = result["variants"]
    assert isinstance(variants, dict)
    lines = [
        "| client | timed runs | wall median s (min-max) | requests/s | wall vs raw aiohttp: "
        "paired median (IQR) | client CPU per request | CPU vs raw aiohttp | "
        "instructions per request |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, v in variants.items():
        ins = v.get("instructions_per_request")
        ins_text = (
            f"{ins:,} ({v['instruction_ratio_to_raw_aiohttp']:.3f}x)" if ins is not None else "-"
        )
        lines.append(
            f"| {name} | {v['timed_runs']} | {v['median_s']} ({v['min_s']}-{v['max_s']}) | "
            f"{v['requests_per_s']:,} | {v['paired_ratio_median']:.3f}x "
            f"({v['paired_ratio_q1']:.3f}-{v['paired_ratio_q3']:.3f}) | "
            f"{v['cpu_us_per_request']} µs | {v['cpu_ratio_to_raw_aiohttp']:.3f}x | {ins_text} |"
        )
    return "\n".join(lines)


def client_run(url: str, store: str, variant: str, n: int) -> None:
    """One variant's requests and nothing else: what callgrind counts."""
    asyncio.run(VARIANTS[variant](url, sandbox_auth(), n, store))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json")
    parser.add_argument("--no-instructions", action="store_true", help="skip the callgrind counts")
    parser.add_argument("--client-run", nargs=4, metavar=("URL", "STORE", "VARIANT", "N"))
    args = parser.parse_args()
    if args.client_run:
        url, store, variant, count = args.client_run
        client_run(url, store, variant, int(count))
        sys.exit(0)
    counting = not (args.quick or args.no_instructions) and shutil.which("valgrind") is not None
    out = asyncio.run(main(args.quick, counting))
    rounds = out["rounds"]
    assert isinstance(rounds, dict)
    goal = out["goal"]
    assert isinstance(goal, dict)
    print(
        f"{out['requests']} requests at concurrency {out['concurrency']} (requests: "
        f"sequential); {rounds['pairs']} rounds of raw aiohttp and stampsync, then "
        f"{rounds['all_clients']} of all four; {out['pinning']}\n"
    )
    print(table(out))
    print(
        f"\ngoal: stampsync <= {goal['stampsync_at_most']}x raw aiohttp (paired wall): "
        f"{goal['measured_paired_ratio']}x, {'met' if goal['met'] else 'NOT met'}"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
