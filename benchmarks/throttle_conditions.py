"""The throttle under real conditions, side by side: reconnects, and a limit set too high.

Against the sandbox in its own process with a strict quota (a 429 for any arrival that
would put more than L into an S-second window), an export through ``StampedClient``,
once per throttle:

- ``stampsync``: the default LocalThrottle (a start counts once the server has it, and
  a quota lower than configured is learned);
- ``grant-stamped``: the same sliding log counting a start when its token is granted,
  with the 1 % / 15 ms margin (stampsync's design before this benchmark);
- ``aiolimiter(1, S/L)``: ``AsyncLimiter(1, S/L)``, the evenly paced leaky bucket.

Scenarios: ``reconnects`` (every 5th answer closes its connection; each new
connection's first request arrives 120 ms late, like a TLS handshake at ~60 ms round
trip), and ``overestimated`` (``throttle_limit`` twice the server's quota). Reported:
the most arrivals in any window, 429s, and the admitted rate after the first window
(after the first 429 for ``overestimated``) relative to the server's L/S.

Run: ``python -m benchmarks.throttle_conditions [--quick] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from dataclasses import asdict, dataclass
from typing import Any

from aiolimiter import AsyncLimiter

from benchmarks.throttle_compliance import AiolimiterThrottle
from stampsync.sandbox import Fault, Sandbox
from stampsync.testing import max_in_window
from stampsync.throttle import LocalThrottle, Throttle


class GrantStamped(LocalThrottle):
    """The previous design: a start counted at its grant, the configured limit kept."""

    reserve = None  # type: ignore[assignment]  # no reserve: the transport acquires

    def _learn(self, now: float) -> None:
        pass


@dataclass
class Result:
    scenario: str
    throttle: str
    limit: int
    seconds: float
    server_limit: int
    requests: int
    max_in_window: int
    rejected: int
    rate_vs_server: float
    exported: int
    elapsed: float


def make(kind: str, limit: int, seconds: float) -> Throttle | None:
    if kind == "stampsync":
        return None  # the client's own default
    if kind == "grant-stamped":
        return GrantStamped(limit, seconds, margin=max(0.015, seconds * 0.01))
    return AiolimiterThrottle(AsyncLimiter(1, seconds / limit), limit, seconds)


async def one(
    scenario: str, kind: str, limit: int, seconds: float, server_limit: int, pages: int
) -> Result:
    faults = (
        [Fault("close", probability=0.2), Fault("slow_connect", seconds=0.12)]
        if scenario == "reconnects"
        else []
    )
    async with Sandbox(
        process=True,
        customers=pages * 100,
        limit=server_limit,
        seconds=seconds,
        faults=faults,
        fault_seed=1,
    ) as sb:
        throttle = make(kind, limit, seconds)
        # stampsync's own without a reserve: an export runs in the bulk lane, which leaves
        # a tenth of the limit to interactive calls; the other throttles have no lanes.
        extra: dict[str, Any] = (
            {"throttle_reserve": 0} if throttle is None else {"throttle": throttle}
        )
        started = time.monotonic()
        async with sb.stamped_client(
            throttle_limit=limit,
            throttle_seconds=seconds,
            # Enough in flight to cover a slow reconnect: 8 connections, and the
            # default 10 pages ahead (concurrent_batch_executions).
            concurrent_connections=8,
            max_retries=8,
            **extra,
        ) as client:
            exported = 0
            try:
                async for _ in client.customers.export(page_size=100):
                    exported += 1
            except Exception as exc:
                print(f"  {kind}: export stopped: {type(exc).__name__}")
        elapsed = time.monotonic() - started
        requests = await sb.requests()
        arrivals = await sb.arrivals()
    statuses = [r["status"] for r in requests]
    admitted = sorted(a for a, s in zip(arrivals, statuses, strict=True) if s != 429)
    refused = sorted(a for a, s in zip(arrivals, statuses, strict=True) if s == 429)
    if scenario == "overestimated" and refused:
        after = [a for a in admitted if a >= refused[0]]
    else:
        after = [a for a in admitted if a >= admitted[0] + seconds]
    rate = (len(after) - 1) / (after[-1] - after[0]) if len(after) > 1 else 0.0
    return Result(
        scenario,
        kind,
        limit,
        seconds,
        server_limit,
        len(arrivals),
        max_in_window(arrivals, seconds),
        len(refused),
        round(rate / (server_limit / seconds), 3),
        exported,
        round(elapsed, 2),
    )


async def run(quick: bool) -> list[Result]:
    plans = [
        ("reconnects", 30, 1.0, 30, 60 if quick else 300),
        ("reconnects", 100, 2.0, 100, 150 if quick else 500),
        ("overestimated", 40, 1.0, 20, 60 if quick else 200),
        ("overestimated", 200, 2.0, 100, 150 if quick else 600),
    ]
    results = []
    for scenario, limit, seconds, server_limit, pages in plans:
        for kind in ("stampsync", "grant-stamped", "aiolimiter(1, S/L)"):
            r = await one(scenario, kind, limit, seconds, server_limit, pages)
            print(
                f"{scenario:13} {kind:19} L={limit}/S={seconds:g} (server {server_limit}): "
                f"max {r.max_in_window}, 429s {r.rejected}/{r.requests}, "
                f"rate {r.rate_vs_server:.3f} of server L/S, {r.elapsed:.1f}s",
                flush=True,
            )
            results.append(r)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    results = asyncio.run(run(args.quick))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"results": [asdict(r) for r in results]}, fh, indent=2)


if __name__ == "__main__":
    main()
