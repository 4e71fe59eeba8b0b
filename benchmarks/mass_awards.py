"""Mass awards at a throttle of L/S: achieved rate, with and without injected faults.

``stamps.add_many`` with a journal against a sandbox in another process that enforces
the same strict quota. Rates are measured at the server, after the first window (whose
allowance may go at once): requests/s is the throttle's efficiency, awards/s what the
batch achieved (retried 503s spend quota too).

Run: ``python -m benchmarks.mass_awards [--quick] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

from stampsync.sandbox import Fault, Sandbox
from stampsync.stamps import StampAward
from stampsync.testing import max_in_window


def steady_rate(times: list[float], seconds: float) -> float:
    ordered = sorted(times)
    steady = [t for t in ordered if t >= ordered[0] + seconds]
    if len(steady) < 2:
        return float("nan")
    xs, ys = steady, range(len(steady))
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    cov = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    return cov / sum((x - mx) ** 2 for x in xs)


async def run(limit: int, seconds: float, n: int, faults: bool) -> dict[str, object]:
    rules = (
        [
            Fault("503", route="POST /api/stamps/add", probability=0.05),
            Fault("drop_after", route="POST /api/stamps/add", probability=0.01),
        ]
        if faults
        else []
    )
    awards = [
        StampAward(
            key=f"o{i}", user=f"member{1 + i % 500}@example.com", number_of_stamps=1, store=1
        )
        for i in range(n)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        async with Sandbox(
            members=500, limit=limit, seconds=seconds, faults=rules, process=True
        ) as sb:
            async with sb.stamps_client(
                throttle_limit=limit,
                throttle_seconds=seconds,
                concurrent_connections=8,
                concurrent_batch_executions=16,
            ) as sp:
                started = time.perf_counter()
                report = await sp.stamps.add_many(awards, journal=Path(tmp) / "j.sqlite")
                elapsed = time.perf_counter() - started
            arrivals = await sb.arrivals()
            counters = await sb.counters()
            applied_times = arrivals  # every arrival is an award attempt here
    ideal = limit / seconds
    req_rate = steady_rate(applied_times, seconds)
    return {
        "faults": faults,
        "limit": limit,
        "seconds": seconds,
        "awards": n,
        "elapsed_s": round(elapsed, 2),
        "requests": counters.get("arrivals", 0),
        "max_in_window": max_in_window(arrivals, seconds),
        "rate_limited_429": counters.get("rate_limited", 0),
        "requests_per_s_vs_limit": round(req_rate / ideal, 4),
        "awards_per_s": round(report.counts["applied"] / elapsed, 1),
        "applied": report.counts["applied"],
        "ambiguous": report.counts["ambiguous"],
        "failed": report.counts["failed"],
    }


async def main(quick: bool) -> list[dict[str, object]]:
    limit, seconds, windows = (50, 1.0, 4) if quick else (100, 2.0, 11)
    return [await run(limit, seconds, limit * windows, faults) for faults in (False, True)]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json")
    args = parser.parse_args()
    rows = asyncio.run(main(args.quick))
    print(
        "| faults | L / S | awards | max in any window | 429s | requests/s vs L/S | "
        "awards/s | applied / ambiguous / failed |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {'5 % 503, 1 % drop' if r['faults'] else 'none'} | {r['limit']} / "
            f"{r['seconds']:g} s | {r['awards']} | {r['max_in_window']} | "
            f"{r['rate_limited_429']} | {r['requests_per_s_vs_limit']:.3f} | "
            f"{r['awards_per_s']} | {r['applied']} / {r['ambiguous']} / {r['failed']} |"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
