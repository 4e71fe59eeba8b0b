"""Request path overhead: stampsync beside raw aiohttp, httpx and requests.

The sandbox runs as its own process, unthrottled. Every variant fetches the same
customers (``GET /api/v2/{store}/dashboard/customers/{id}``) with at most ten in flight
(requests: one at a time, as a plain loop does), decodes the JSON, and is timed; the
variants run interleaved (the order reversed every other round, so none always runs
first), several rounds. Reported: wall time, and the client's own CPU time per request
(``time.process_time``): on a 2-core machine shared with the sandbox, CPU per request is
the steadier measure of a client's overhead. Ratios are to raw aiohttp: the ratio of
medians, and the median of each round's ratio.

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
import json
import statistics
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


async def main(quick: bool) -> dict[str, object]:
    n, rounds = (1000, 4) if quick else (5000, 12)
    async with Sandbox(customers=1000, members=10, process=True, arrival_log=False) as sb:
        c = sb.config
        auth = "Basic " + base64.b64encode(f"{c.public_key}:{c.private_key}".encode()).decode()
        for fn in VARIANTS.values():  # warm up connections, caches, imports
            await fn(sb.url, auth, 200, c.store_hash)
        wall: dict[str, list[float]] = {k: [] for k in VARIANTS}
        cpu: dict[str, list[float]] = {k: [] for k in VARIANTS}
        for r in range(rounds):
            order = list(VARIANTS.items())
            for name, fn in order if r % 2 == 0 else reversed(order):
                w, c_ = await fn(sb.url, auth, n, c.store_hash)
                wall[name].append(w)
                cpu[name].append(c_)
    base_wall = statistics.median(wall["raw aiohttp"])
    base_cpu = statistics.median(cpu["raw aiohttp"])
    out: dict[str, object] = {}
    for name in VARIANTS:
        paired = [w / b for w, b in zip(wall[name], wall["raw aiohttp"], strict=True)]
        out[name] = {
            "median_s": round(statistics.median(wall[name]), 4),
            "min_s": round(min(wall[name]), 4),
            "max_s": round(max(wall[name]), 4),
            "requests_per_s": round(n / statistics.median(wall[name])),
            "cpu_us_per_request": round(statistics.median(cpu[name]) / n * 1e6, 1),
            "ratio_to_raw_aiohttp": round(statistics.median(wall[name]) / base_wall, 3),
            "paired_ratio_median": round(statistics.median(paired), 3),
            "cpu_ratio_to_raw_aiohttp": round(statistics.median(cpu[name]) / base_cpu, 3),
        }
    return {"requests": n, "concurrency": CONCURRENCY, "rounds": rounds, "variants": out}


def table(result: dict[str, object]) -> str:
    variants = result["variants"]
    assert isinstance(variants, dict)
    lines = [
        "| client | wall median s (min-max) | requests/s | wall vs raw aiohttp "
        "(paired) | client CPU per request | CPU vs raw aiohttp |",
        "|---|---|---|---|---|---|",
    ]
    for name, v in variants.items():
        lines.append(
            f"| {name} | {v['median_s']} ({v['min_s']}-{v['max_s']}) | "
            f"{v['requests_per_s']:,} | {v['ratio_to_raw_aiohttp']:.3f}x "
            f"({v['paired_ratio_median']:.3f}x) | {v['cpu_us_per_request']} µs | "
            f"{v['cpu_ratio_to_raw_aiohttp']:.3f}x |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json")
    args = parser.parse_args()
    out = asyncio.run(main(args.quick))
    print(
        f"{out['requests']} requests at concurrency {out['concurrency']} "
        f"(requests: sequential), {out['rounds']} interleaved rounds\n"
    )
    print(table(out))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
