"""Throttle compliance and efficiency, side by side in one run.

Each variant sends the same bursty load through stampsync's transport to a strict
server in another process (a sliding window of L arrivals per S seconds, 429 past it),
which logs arrival times. Only the throttle differs:

- ``stampsync``: the default :class:`~stampsync.throttle.LocalThrottle`;
- ``aiolimiter(L, S)``: ``AsyncLimiter(L, S)`` used as a throttle, naively;
- ``aiolimiter(1, S/L)``: ``AsyncLimiter(1, S/L)``, capacity one, evenly paced.

Reported per variant: the most arrivals in any S window (server-counted), 429s, and
the sustained rate relative to ``L/S``: the least-squares slope of arrival count over
arrival time, after the first window (whose allowance a limiter may spend at once).

Run: ``python -m benchmarks.throttle_compliance [--quick] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import sys
from dataclasses import asdict, dataclass

from aiolimiter import AsyncLimiter

from stampsync import StampedClient
from stampsync.testing import max_in_window
from stampsync.throttle import LocalThrottle, Throttle
from tests._arrival_server import arrival_server, arrivals, rejected


class AiolimiterThrottle:
    """aiolimiter behind stampsync's throttle protocol (no 429 handling of its own)."""

    def __init__(self, limiter: AsyncLimiter, limit: int, seconds: float) -> None:
        self._limiter = limiter
        self._limit = limit
        self._seconds = seconds

    @property
    def limit(self) -> int:
        return self._limit

    @property
    def seconds(self) -> float:
        return self._seconds

    async def acquire(self) -> None:
        await self._limiter.acquire()

    async def rate_limited(self, retry_after: float | None) -> float:
        return 0.0


@dataclass
class Result:
    variant: str
    limit: int
    seconds: float
    requests: int
    max_in_window: int
    rejected_429: int
    sustained_ratio: float


async def run_variant(name: str, throttle: Throttle, n: int, tasks: int) -> Result:
    limit, seconds = throttle.limit, throttle.seconds
    async with arrival_server(limit, seconds) as (url, session):
        async with StampedClient(
            "bench",
            "bench-key",
            "1",
            api_url=url,
            throttle=throttle,
            concurrent_connections=tasks,
            max_retries=0,
        ) as client:
            queue: asyncio.Queue[int] = asyncio.Queue()
            for i in range(n):
                queue.put_nowait(i)

            async def worker() -> None:
                while not queue.empty():
                    i = queue.get_nowait()
                    try:
                        await client.customers.get(i)
                    except Exception:  # a 429 is counted by the server  # noqa: S112
                        continue

            await asyncio.gather(*(worker() for _ in range(tasks)))
        times = await arrivals(session, url)
        refused = await rejected(session, url)
    sustained = sustained_rate(times, seconds)
    return Result(
        name,
        limit,
        seconds,
        n,
        max_in_window(times, seconds),
        refused,
        round(sustained / (limit / seconds), 4),
    )


def sustained_rate(times: list[float], seconds: float) -> float:
    """Arrivals per second in the long run: the slope of count over time after the
    first window."""
    ordered = sorted(times)
    steady = [t for t in ordered if t >= ordered[0] + seconds]
    if len(steady) < 2:
        return float("nan")
    xs = steady
    ys = list(range(len(steady)))
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    cov = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    var = sum((x - mx) ** 2 for x in xs)
    return cov / var


def variants(limit: int, seconds: float) -> list[tuple[str, Throttle]]:
    return [
        ("stampsync LocalThrottle", LocalThrottle(limit, seconds)),
        (
            f"aiolimiter AsyncLimiter({limit}, {seconds:g})",
            AiolimiterThrottle(AsyncLimiter(limit, seconds), limit, seconds),
        ),
        (
            f"aiolimiter AsyncLimiter(1, {seconds / limit:g})",
            AiolimiterThrottle(AsyncLimiter(1, seconds / limit), limit, seconds),
        ),
    ]


async def main(quick: bool, rounds: int) -> list[Result]:
    limit, seconds, windows = (50, 1.0, 4) if quick else (100, 2.0, 11)
    n = limit * windows
    results: list[Result] = []
    for _ in range(rounds):  # interleaved: every variant once per round
        for name, throttle in variants(limit, seconds):
            results.append(await run_variant(name, throttle, n, tasks=20))
    return results


def table(results: list[Result]) -> str:
    by: dict[str, list[Result]] = {}
    for r in results:
        by.setdefault(r.variant, []).append(r)
    lines = [
        "| throttle | L / S | requests | max in any S window (server) | 429s | "
        "sustained / (L/S): median (min-max) |",
        "|---|---|---|---|---|---|",
    ]
    for name, rs in by.items():
        ratios = [r.sustained_ratio for r in rs]
        lines.append(
            f"| {name} | {rs[0].limit} / {rs[0].seconds:g} s | {rs[0].requests} | "
            f"{max(r.max_in_window for r in rs)} | {sum(r.rejected_429 for r in rs)} | "
            f"{statistics.median(ratios):.3f} ({min(ratios):.3f}-{max(ratios):.3f}) |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 windows, 1 round (CI smoke)")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--json", help="write raw results here")
    args = parser.parse_args()
    rounds = args.rounds or (1 if args.quick else 3)
    out = asyncio.run(main(args.quick, rounds))
    print(f"Python {sys.version.split()[0]} on {platform.machine()}, {rounds} round(s)\n")
    print(table(out))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump([asdict(r) for r in out], fh, indent=2)
