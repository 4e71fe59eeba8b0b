"""Three ``stampsync webhooks serve`` processes on one PostgreSQL inbox, behind a
round-robin balancer; the sandbox (its own process) pushes an event for each of 1,000
points adjustments (and each tier change they cause), 20 % of them twice; one receiver is
SIGKILLed mid-run. Every event is handled exactly once to completion; the events whose
handler failed are listed, and run once more when the operator retries them."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from stampsync.sandbox import Sandbox
from stampsync.sandbox.server import free_port
from tests._forward import pipe
from tests._webhook_handler import REFUSED_POINTS

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
SECRET = "three-receivers-secret"
ADJUSTMENTS = 1000


@contextlib.asynccontextmanager
async def balancer(ports: list[int]) -> AsyncIterator[int]:
    """Round-robin TCP in front of the receivers; a receiver that refuses is skipped."""
    turn = itertools.count()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        first = next(turn)
        for i in range(len(ports)):
            try:
                up = await asyncio.open_connection("127.0.0.1", ports[(first + i) % len(ports)])
            except OSError:
                continue
            await asyncio.gather(pipe(reader, up[1]), pipe(up[0], writer))
            return
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1]


def receiver(inbox: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "STAMPED_WEBHOOK_SECRET": SECRET, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-m", "stampsync.cli", "webhooks", "serve", "--inbox", inbox]
    argv += ["--port", str(port), "--handler", "tests._webhook_handler:handle"]
    argv += ["--max-attempts", "2"]
    # Its log to a file: a pipe nobody reads fills, and the receiver stalls writing to it.
    with log.open("ab") as out:
        return subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=out)


async def listening(
    port: int, proc: subprocess.Popen[bytes], log: Path, within: float = 30
) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = (await asyncio.to_thread(log.read_text))[-2000:]
            raise AssertionError(f"a receiver exited: {tail}")
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"no receiver on port {port} within {within} s")


def cli(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stampsync.cli", "webhooks", *argv],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


async def until(
    check: Callable[[], Awaitable[bool]],
    what: str,
    within: float = 60,
    state: Callable[[], Awaitable[object]] | None = None,
) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.1)
    seen = "" if state is None else f" ({str(await state())[-1500:]})"
    raise AssertionError(f"not within {within} s: {what}{seen}")


async def test_three_receivers_one_killed_handle_every_event_exactly_once(
    pg_dsn: str, tmp_path: Path
) -> None:
    import asyncpg

    db = await asyncpg.connect(pg_dsn)
    await db.execute("CREATE TABLE effects (key TEXT NOT NULL, pid INTEGER NOT NULL)")
    await db.execute("CREATE TABLE fixed (at TIMESTAMPTZ)")
    ports = [free_port() for _ in range(3)]
    logs = [tmp_path / f"receiver{i}.log" for i in range(3)]
    receivers = [receiver(pg_dsn, port, log) for port, log in zip(ports, logs, strict=True)]
    try:
        for port, proc, log in zip(ports, receivers, logs, strict=True):
            await listening(port, proc, log)
        async with balancer(ports) as front:
            url = f"http://127.0.0.1:{front}/stamped/webhooks"
            faults = ["webhook_redeliver:0.2:0.05"]
            sandbox = Sandbox(process=True, webhook_url=url, webhook_secret=SECRET, faults=faults)
            async with sandbox as sb:
                customers = [c["customerId"] for c in await sb.v3("customers")]
                killed = False

                async def adjust(i: int) -> None:
                    async with limit:
                        points = 1 + i % 50  # 13 comes up 20 times: refused until fixed
                        await st.v3.loyalty.adjust_points(
                            customers[i % len(customers)], points=points
                        )

                async def effects() -> int:
                    return int(await db.fetchval("SELECT count(*) FROM effects"))

                async def kill_when_busy() -> None:
                    nonlocal killed

                    async def busy() -> bool:
                        return await effects() >= 300

                    await until(busy, "300 events handled")
                    receivers[0].send_signal(signal.SIGKILL)
                    killed = True

                limit = asyncio.Semaphore(8)
                async with sb.stamped_client(
                    concurrent_connections=8, throttle_limit=100_000, throttle_seconds=1
                ) as st:
                    killer = asyncio.create_task(kill_when_busy())
                    await asyncio.gather(*(adjust(i) for i in range(ADJUSTMENTS)))
                    await killer

                async def quiet() -> bool:
                    hooks = await sb.webhooks()
                    return hooks["pending"] == 0 and all(p["ok"] for p in hooks["pushes"])

                await until(quiet, "every push answered 2xx", state=sb.webhooks)
                hooks = await sb.webhooks()
                counters = await sb.counters()
            events = {f"{p['topic']}:{p['id']}" for p in hooks["pushes"]}
            assert killed
            assert receivers[0].wait(5) == -signal.SIGKILL
            assert counters["webhook:redelivered"] >= 0.15 * ADJUSTMENTS  # ~20 % twice
            assert len(hooks["pushes"]) == len(events) + counters["webhook:redelivered"]

            async def handled_or_parked() -> bool:
                statuses = await db.fetch(
                    "SELECT status, count(*) FROM stampsync_webhook_events GROUP BY status"
                )
                by: dict[str, int] = {r["status"]: int(r["count"]) for r in statuses}
                return by.get("new", 0) == 0 and sum(by.values()) == len(events)

            await until(handled_or_parked, "every event done or parked")
            listed = cli("list", "--inbox", pg_dsn, "--status", "failed", "--json")
            assert listed.returncode == 0, listed.stderr
            failed = [json.loads(line) for line in listed.stdout.splitlines()]
            assert len(failed) == ADJUSTMENTS // 50  # every 13-point event, none other
            assert all(f"{REFUSED_POINTS} points are refused" in f["error"] for f in failed)
            assert all(f["attempts"] == 2 for f in failed)

            await db.execute("INSERT INTO fixed VALUES (now())")  # the bug is fixed
            retried = cli("retry", "--inbox", pg_dsn, "--topic", "points.*")
            assert retried.returncode == 0, retried.stderr
            assert f"queued {len(failed)} failed event(s) again" in retried.stderr

            async def all_done() -> bool:
                left = await db.fetchval(
                    "SELECT count(*) FROM stampsync_webhook_events WHERE status <> 'done'"
                )
                return int(left) == 0

            await until(all_done, "the retried events done")
        rows = await db.fetch("SELECT key, count(*) AS n FROM effects GROUP BY key")
        assert {r["key"] for r in rows} == events  # every event's effect...
        assert max(r["n"] for r in rows) == 1  # ...exactly once
        by_pid = await db.fetch("SELECT pid, count(*) AS n FROM effects GROUP BY pid")
        assert len(by_pid) == 3  # every receiver took part, the killed one too
        # The run's figures, for `pytest -s` (the docs quote them).
        print(
            f"events {len(events)}, pushes {len(hooks['pushes'])} "
            f"({counters['webhook:redelivered']} redelivered, "
            f"{counters.get('webhook:retried', 0)} tries again), handled per receiver "
            f"{sorted(int(r['n']) for r in by_pid)}, refused then retried {len(failed)}"
        )
    finally:
        for proc in receivers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in receivers:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        await db.close()
