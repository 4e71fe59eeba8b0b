"""How fast the sandbox answers, so benchmarks know it is not their bottleneck.

The sandbox runs as its own process (as in every benchmark); a raw aiohttp client
with ``--concurrency`` requests in flight asks for random customer pages of 100.

Run: ``python -m benchmarks.sandbox_rate [--quick] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import random
import statistics
import time

import aiohttp

from stampsync.sandbox import Sandbox


async def hammer(url: str, auth: str, n: int, concurrency: int, limit: int, pages: int) -> float:
    rng = random.Random(1)
    todo = [rng.randint(1, pages) for _ in range(n)]
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, headers={"Authorization": auth}) as s:

        async def worker() -> None:
            while todo:
                page = todo.pop()
                async with s.get(
                    f"{url}/api/v2/270392/dashboard/customers",
                    params={"page": page, "limit": limit},
                ) as r:
                    await r.read()
                    assert r.status == 200

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return n / (time.perf_counter() - started)


async def main(quick: bool, rounds: int) -> dict[str, object]:
    n = 1000 if quick else 5000
    with Sandbox(customers=100_000, process=True, arrival_log=False) as sb:
        c = sb.config
        auth = "Basic " + base64.b64encode(f"{c.public_key}:{c.private_key}".encode()).decode()
        await hammer(sb.url, auth, 200, 16, 100, 1000)  # warm up
        rates = [await hammer(sb.url, auth, n, 16, 100, 1000) for _ in range(rounds)]
    return {
        "requests_per_round": n,
        "concurrency": 16,
        "page_size": 100,
        "rates": [round(r, 1) for r in rates],
        "median_rps": round(statistics.median(rates), 1),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json")
    args = parser.parse_args()
    result = asyncio.run(main(args.quick, 1 if args.quick else 3))
    print(
        f"sandbox, customers page of 100, concurrency 16: median {result['median_rps']} req/s "
        f"(rounds: {result['rates']})"
    )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)
