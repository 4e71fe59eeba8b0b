"""Fleet mode: many stores, workers on the journal's PostgreSQL queue (one SIGKILLed mid-run).

50 stores, each with its own sandbox quota of 10 requests per second, 20,000 awards
spread evenly over them, 4 ``stampsync fleet worker`` processes, a redis-server for the quotas and a
throwaway PostgreSQL cluster for the journal and the queue; the sandbox runs in its own
process. A third of the way through the ideal time one worker is killed with SIGKILL; its
jobs run again once their heartbeats are stale.

Measured: awards applied twice on the sandbox's ledger (must be 0), outcome counts from
the journal (ambiguous rows only from the killed worker), the most arrivals any store's
1-second window held (vs its limit), and the total time (enqueue until every row is
settled and the queue is empty) against the ideal: the slowest store's rows / its rate.

Run: ``python -m benchmarks.fleet [--quick] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import tempfile
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import asyncpg

from stampsync.fleet import enqueue_campaign
from stampsync.sandbox import Sandbox
from tests._fleet import (
    Fleet,
    ledger,
    totals,
    wait_settled,
    worst_windows,
    write_campaign,
    write_credentials,
)
from tests._postgres import PgCluster
from tests._redis import redis_server


async def ambiguous_by_pid(journal: str) -> dict[int, int]:
    con = await asyncpg.connect(journal)
    try:
        rows = await con.fetch(
            "SELECT r.pid, COUNT(*) AS n FROM stampsync_writes w JOIN stampsync_runs r"
            " ON r.run = w.run WHERE w.status = 'ambiguous' GROUP BY r.pid"
        )
    finally:
        await con.close()
    return {int(r["pid"]): int(r["n"]) for r in rows}


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of a process and its children, live (PostgreSQL's backends) or reaped."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    total = sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            child = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(child[1]) == pid:
            total += (int(child[11]) + int(child[12])) / os.sysconf("SC_CLK_TCK")
    return total


def spread(values: list[float]) -> dict[str, float]:
    """min / median / max of ``values``, rounded."""
    ordered = sorted(values)
    return {
        "min": round(ordered[0], 2),
        "median": round(ordered[len(ordered) // 2], 2),
        "max": round(ordered[-1], 2),
    }


def timeline(times: list[float], step: float) -> list[int]:
    """How many of ``times`` fell in each ``step``-second bucket from the first."""
    if not times:
        return []
    counts = [0] * (int((times[-1] - times[0]) / step) + 1)
    for t in times:
        counts[int((t - times[0]) / step)] += 1
    return counts


def gaps(times: list[float]) -> list[float]:
    ordered = sorted(times)
    return [b - a for a, b in itertools.pairwise(ordered)]


async def run(
    stores: int,
    per_store: int,
    workers: int,
    limit: int,
    job_rows: int,
    job_timeout: float,
    kill: bool = True,
    concurrency: int = 1,
    census: bool = False,
    max_jobs: int | None = None,
) -> dict[str, Any]:
    seconds = 1.0
    ideal = per_store / (limit / seconds)
    with tempfile.TemporaryDirectory(prefix="stampsync-fleet-bench-") as tmp:
        work = Path(tmp)
        total = write_campaign(work / "campaign.csv", stores, per_store)
        cluster = PgCluster()
        if census:
            cluster.settings += ["shared_preload_libraries=pg_stat_statements"]
        statements: list[dict[str, Any]] = []
        try:
            cluster.start()
            if census:
                await _sql(cluster.dsn, "CREATE EXTENSION pg_stat_statements")
            with (
                redis_server() as (redis_url, redis_proc),
                Sandbox(
                    process=True,
                    extra_tokens=stores,
                    limit=limit,
                    seconds=seconds,
                    members=50,
                ) as sb,
            ):
                write_credentials(work / "credentials.json", sb, stores)
                fleet = Fleet(
                    work, redis_url, cluster.dsn, sb, limit, seconds, job_timeout=job_timeout
                )
                try:
                    procs = [
                        fleet.start_worker(
                            None,
                            "--concurrency",
                            str(concurrency),
                            "--throttle-reserve",
                            "0",
                            *(("--max-jobs", str(max_jobs)) if max_jobs else ()),
                        )
                        for _ in range(workers)
                    ]
                    await asyncio.sleep(3.0)  # the workers import, connect, start polling
                    assert cluster.pid is not None
                    servers_before = (
                        tree_cpu_seconds(cluster.pid),
                        tree_cpu_seconds(redis_proc.pid),
                    )
                    started = time.monotonic()
                    # In-process, as a platform queues a campaign (no CLI start-up counted).
                    await enqueue_campaign(work / "campaign.csv", cluster.dsn, job_rows=job_rows)
                    await asyncio.sleep(max(0.0, started + ideal / 3 - time.monotonic()))
                    victim = procs[0]
                    killed_at = float("nan")
                    victim_cpu = 0.0
                    if kill:
                        victim_cpu = cpu_seconds(victim.pid)  # its awards count too
                        fleet.kill(victim)
                        killed_at = time.monotonic() - started
                    await _until_done(cluster.dsn, total, within=ideal * 6 + 120)
                    elapsed = time.monotonic() - started
                    # Every row accounted for, by the same reading as fleet status.
                    by = await wait_settled(fleet, total, within=30)
                    cpu = victim_cpu + sum(cpu_seconds(p.pid) for p in procs[1 if kill else 0 :])
                    sandbox_cpu = cpu_seconds(sb.pid) if sb.pid else 0.0
                    postgres_cpu = tree_cpu_seconds(cluster.pid) - servers_before[0]
                    redis_cpu = tree_cpu_seconds(redis_proc.pid) - servers_before[1]
                    redis_commands = await _redis_commands(redis_url)
                finally:
                    fleet.stop_all()
                if census:
                    statements = await _census(cluster.dsn, total)
                applied = await ledger(sb)
                arrivals = sorted(await sb.arrivals())
                windows = await worst_windows(sb, seconds)
                store_arrivals = await sb.arrivals_by_credential()
                counters = await sb.counters()
                by_pid = await ambiguous_by_pid(cluster.dsn)
        finally:
            cluster.destroy()
    t = totals(by)
    worst = max(windows.values()) if windows else 0
    slowest = max(c["applied"] + c["failed"] + c["ambiguous"] for c in by.values())
    return {
        "stores": stores,
        "awards": total,
        "workers": workers,
        "limit_per_store": limit,
        "seconds": seconds,
        "job_rows": job_rows,
        "job_timeout_s": job_timeout,
        "concurrency": concurrency,
        "max_jobs": max_jobs,
        "killed_at_s": round(killed_at, 1),
        "applied_twice": sum(1 for n in applied.values() if n > 1),
        "applied_on_server": len(applied),
        "outcomes": t,
        "settled": t["applied"] + t["failed"] + t["ambiguous"],
        "ambiguous_from_killed_worker": by_pid.get(victim.pid, 0),
        "ambiguous_from_others": sum(n for pid, n in by_pid.items() if pid != victim.pid),
        "stores_checked": len(windows),
        "max_store_window": worst,
        "stores_over_limit": sum(1 for w in windows.values() if w > limit),
        "rate_limited_429": counters.get("rate_limited", 0),
        "elapsed_s": round(elapsed, 1),
        "server_span_s": round(arrivals[-1] - arrivals[0], 1) if arrivals else None,
        "arrivals_per_10s": timeline(arrivals, 10.0),
        "store_span_s": spread([max(t) - min(t) for t in store_arrivals.values()]),
        "store_start_s": spread([min(t) - arrivals[0] for t in store_arrivals.values()]),
        # The longest any store stood still: the killed worker's stores wait for its jobs
        # to be taken for stalled (no heartbeat for --stalled-seconds) and run again.
        "longest_store_pause_s": round(
            max((max(gaps(t), default=0.0) for t in store_arrivals.values()), default=0.0), 1
        ),
        "store_rate_per_s": spread(
            [(len(t) - 1) / (max(t) - min(t)) for t in store_arrivals.values()]
        ),
        "worker_cpu_ms_per_award": round(cpu / total * 1000, 2),
        "sandbox_cpu_ms_per_award": round(sandbox_cpu / total * 1000, 2),
        # Where the machine's cores go: the journal's and the quota's servers.
        "postgres_cpu_ms_per_award": round(postgres_cpu / total * 1000, 2),
        "redis_cpu_ms_per_award": round(redis_cpu / total * 1000, 2),
        # The quota's round trips: about one per award when stores' waits are told, not
        # polled for.
        "redis_commands_per_award": {k: round(n / total, 2) for k, n in redis_commands.items()},
        "cores": os.cpu_count(),
        "ideal_s": round(slowest / limit * seconds, 1),
        "vs_ideal": round(elapsed / (slowest / limit * seconds), 3),
        **({"statements_per_award": statements} if census else {}),
    }


async def _until_done(dsn: str, total: int, within: float) -> None:
    """Wait until ``total`` rows are settled and no job is queued or running.

    A cheap reading, 4 times a second on one connection: ``fleet status``'s full one
    opens a pool and reads every job's rows, and at that pace it took a fifth of
    PostgreSQL's CPU and a share of the cores the fleet is measured on.
    """
    from stampsync.fleet.queue import queue_table

    con = await asyncpg.connect(dsn)
    deadline = time.monotonic() + within
    try:
        while time.monotonic() < deadline:
            settled = await con.fetchval(
                "SELECT count(*) FROM stampsync_writes WHERE status <> 'pending'"
            )
            busy = await con.fetchval(
                f"SELECT count(*) FROM {queue_table()}"  # noqa: S608 - a constant
                " WHERE status IN ('queued', 'picked')"
            )
            if settled >= total and busy == 0:
                return
            await asyncio.sleep(0.25)
    finally:
        await con.close()
    raise AssertionError(f"the fleet did not settle {total} rows within {within} s")


async def _redis_commands(url: str) -> dict[str, int]:
    """How many scripts (the quota's round trips) and commands Redis ran since it started."""
    import redis.asyncio as aioredis

    client = aioredis.from_url(url)
    try:
        stats = await client.info("commandstats")
    finally:
        await client.aclose()
    calls = {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}
    scripts = sum(n for name, n in calls.items() if name.startswith("eval"))
    return {"scripts": scripts, "commands": sum(calls.values()) - scripts}


async def _sql(dsn: str, statement: str) -> None:
    import asyncpg

    con = await asyncpg.connect(dsn)
    try:
        await con.execute(statement)
    finally:
        await con.close()


async def _census(dsn: str, awards: int) -> list[dict[str, Any]]:
    """The statements PostgreSQL ran most, per award, with their share of its time."""
    import asyncpg

    con = await asyncpg.connect(dsn)
    try:
        rows = await con.fetch(
            "SELECT calls, total_exec_time, mean_exec_time, query FROM pg_stat_statements"
            " ORDER BY calls DESC LIMIT 30"
        )
        total_ms = await con.fetchval("SELECT sum(total_exec_time) FROM pg_stat_statements")
        runs = await con.fetchval("SELECT count(*) FROM stampsync_runs")
    finally:
        await con.close()
    return [
        {"per_award": round(runs / awards, 3), "time_share": 0.0, "query": "(journal runs)"}
    ] + [
        {
            "per_award": round(r["calls"] / awards, 3),
            "time_share": round(r["total_exec_time"] / total_ms, 3),
            "mean_ms": round(r["mean_exec_time"], 3),
            "query": " ".join(r["query"].split())[:110],
        }
        for r in rows
    ]


async def main(
    quick: bool,
    kill: bool = True,
    concurrency: int = 1,
    max_jobs: int | None = None,
    stores: int | None = None,
    job_rows: int = 100,
    job_timeout: float = 120,
    census: bool = False,
) -> dict[str, Any]:
    def full_load(n: int) -> Coroutine[Any, Any, dict[str, Any]]:
        return run(
            stores=n,
            per_store=400,
            workers=4,
            limit=10,
            job_rows=job_rows,
            job_timeout=job_timeout,
            kill=kill,
            concurrency=concurrency,
            census=census,
            max_jobs=max_jobs,
        )

    if stores is not None:  # the full run's per-store load over another number of stores
        return await full_load(stores)
    if quick:
        return await run(
            stores=5,
            per_store=40,
            workers=2,
            limit=10,
            job_rows=20,
            job_timeout=6,
            kill=kill,
            concurrency=concurrency,
        )
    result = await full_load(50)
    # The same per-store load over 10 stores: the fleet's own overhead when the machine's
    # CPU is not what limits (50 stores x 10/s is 500 awards/s through 4 workers, the
    # sandbox, PostgreSQL and Redis, all on the same cores).
    result["ten_stores"] = await full_load(10)
    result["load_average_1m"] = round(os.getloadavg()[0], 2)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json")
    parser.add_argument("--no-kill", action="store_true", help="kill no worker (a baseline)")
    parser.add_argument("--concurrency", type=int, default=1, help="rows claimed per store")
    parser.add_argument("--max-jobs", type=int, help="jobs per worker (the worker's default)")
    parser.add_argument("--stores", type=int, help="fewer (or more) stores than the full run")
    # The defaults of `fleet enqueue` and `fleet worker`: what a platform runs.
    parser.add_argument("--job-rows", type=int, default=100, help="rows per job")
    parser.add_argument("--job-timeout", type=float, default=120, help="a job's timeout (s)")
    parser.add_argument(
        "--census", action="store_true", help="count PostgreSQL's statements (pg_stat_statements)"
    )
    args = parser.parse_args()
    out = asyncio.run(
        main(
            args.quick,
            kill=not args.no_kill,
            concurrency=args.concurrency,
            max_jobs=args.max_jobs,
            stores=args.stores,
            job_rows=args.job_rows,
            job_timeout=args.job_timeout,
            census=args.census,
        )
    )
    for key, value in out.items():
        print(f"{key:>30}: {value}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
