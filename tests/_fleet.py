"""A fleet on real servers: redis-server, a PostgreSQL database, the sandbox in its own
process, and ``stampsync fleet worker`` processes, each stopped by its own pid.

Shared by the fleet tests and ``benchmarks/fleet.py``.
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from yarl import URL

from stampsync.fleet.status import failed_jobs, fleet_overview, fleet_status
from stampsync.sandbox import Sandbox
from stampsync.testing import max_in_window


def account(store: int) -> str:
    return f"store-{store}"


def write_campaign(path: Path, stores: int, rows_per_store: int) -> int:
    """``rows_per_store`` awards for each store, interleaved; notes carry a unique id."""
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["account", "key", "user", "store", "number_of_stamps", "notes"])
        for i in range(rows_per_store):
            for s in range(1, stores + 1):
                out.writerow(
                    [
                        account(s),
                        f"order-{i}",
                        f"member{i % 50 + 1}@example.com",
                        1,
                        1,
                        f"{account(s)}/order-{i}",
                    ]
                )
    return stores * rows_per_store


def write_credentials(path: Path, sandbox: Sandbox, stores: int) -> None:
    data = {
        account(s): {
            "token": sandbox.stamps_token(s),
            "api_url": sandbox.url,
            "merchant": sandbox.config.merchant,
            "store": sandbox.config.stores[0],
        }
        for s in range(1, stores + 1)
    }
    path.write_text(json.dumps(data))
    path.chmod(0o600)


#: Runs the command line with stampsync's DEBUG log on (the worker's own INFO setting then
#: adds nothing): what a user chasing a problem would turn on.
DEBUG_CLI = (
    "import logging, sys\n"
    "logging.basicConfig(level=logging.DEBUG, format='%(levelname)s %(name)s %(message)s')\n"
    "from stampsync.cli import main\n"
    "main(sys.argv[1:])\n"
)


@dataclass
class Fleet:
    """Worker processes of one fleet, started and stopped by pid (``debug``: workers log
    at DEBUG)."""

    workdir: Path
    redis_url: str
    journal: str
    sandbox: Sandbox
    limit: int
    seconds: float = 1.0
    job_timeout: float = 6.0
    lease_seconds: float = 30.0
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    started: float = 0.0
    debug: bool = False

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "STAMPSYNC_FLEET_CREDENTIALS": str(self.workdir / "credentials.json"),
            # By environment, not arguments: a password in argv is visible to ps.
            "STAMPSYNC_JOURNAL": self.journal,
            "STAMPSYNC_REDIS_URL": self.redis_url,
            "PYTHONUNBUFFERED": "1",
        }

    def start_worker(
        self,
        host: str | None = None,
        *extra: str,
        wrap: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
    ) -> subprocess.Popen[bytes]:
        """A worker process; ``wrap`` goes before its command (``ip netns exec NS``: on
        a test host of its own, with the same pid), ``env`` over :meth:`env`."""
        n = len(self.workers)
        log = (self.workdir / f"worker-{n}.log").open("wb")
        argv = [
            *wrap,
            sys.executable,
            *(("-c", DEBUG_CLI) if self.debug else ("-m", "stampsync.cli")),
            "fleet",
            "worker",
            "--throttle-limit",
            str(self.limit),
            "--throttle-seconds",
            str(self.seconds),
            "--job-timeout",
            str(self.job_timeout),
            "--lease-seconds",
            str(self.lease_seconds),
            *extra,
        ]
        if host:
            argv += ["--host-id", host]
        environ = {**self.env(), **(env or {})}
        proc = subprocess.Popen(argv, env=environ, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.workers.append(proc)
        return proc

    def enqueue(self, campaign: Path, job_rows: int, name: str | None = None) -> None:
        argv = [
            sys.executable,
            "-m",
            "stampsync.cli",
            "fleet",
            "enqueue",
            "--input",
            str(campaign),
            "--job-rows",
            str(job_rows),
        ]
        if name:
            argv += ["--campaign", name]
        done = subprocess.run(argv, env=self.env(), capture_output=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr.decode()[-2000:]

    async def wait_ready(self, within: float = 60.0) -> None:
        """Wait until every worker started so far has checked its settings and takes jobs:
        on a loaded machine a worker takes seconds to start, and one started first would
        take every job before the others could."""
        deadline = time.monotonic() + within
        for n, proc in enumerate(self.workers):
            log = self.workdir / f"worker-{n}.log"
            while "fleet worker ready" not in log.read_text(errors="replace"):
                assert proc.poll() is None, f"worker {n} exited:\n{log.read_text()[-2000:]}"
                assert time.monotonic() < deadline, f"worker {n} never started"
                await asyncio.sleep(0.1)

    def cmdline(self, proc: subprocess.Popen[bytes]) -> bytes:
        """The process's arguments as the system shows them to every user (``ps``)."""
        return Path(f"/proc/{proc.pid}/cmdline").read_bytes()

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)

    def stop_all(self) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGTERM)
        for proc in self.workers:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(10)

    def logs(self) -> str:
        return "\n".join(
            p.read_text(errors="replace") for p in sorted(self.workdir.glob("worker-*.log"))
        )

    def secrets(self) -> list[str]:
        """Every credential the workers hold: each store's token (from the credentials
        file), the journal's and Redis's passwords."""
        stores = json.loads((self.workdir / "credentials.json").read_text())
        found = [str(c["token"]) for c in stores.values()]
        found += [u.password for u in (URL(self.journal), URL(self.redis_url)) if u.password]
        return found

    def leaked(self) -> list[str]:
        """How many of :meth:`secrets` reached a worker's log (never which)."""
        logs = self.logs()
        return ["***" for s in self.secrets() if s in logs]


async def counts(journal: str) -> dict[str, dict[str, int]]:
    return await fleet_status(journal)


async def wait_settled(
    fleet: Fleet, total: int, within: float, *, poll: float = 0.5
) -> dict[str, dict[str, int]]:
    """Wait until every row is applied, failed or ambiguous, none pending, no job queued
    or running; returns the journal's counts per store."""
    deadline = time.monotonic() + within
    while True:
        by = await fleet_overview(fleet.journal)
        settled = sum(c["applied"] + c["failed"] + c["ambiguous"] for c in by.values())
        busy = sum(
            c["pending"] + c["queued_jobs"] + c["running_jobs"] + c["stalled_jobs"]
            for c in by.values()
        )
        if settled >= total and busy == 0:
            return await counts(fleet.journal)
        # A job the queue holds as failed was not run: its rows are lost for good.
        failed = await failed_jobs(fleet.journal)
        assert not failed, f"jobs failed: {failed}\n{fleet.logs()[-4000:]}"
        if time.monotonic() > deadline:
            logs = fleet.logs()
            errors = [line for line in logs.splitlines() if "Error" in line or "rror:" in line]
            raise AssertionError(
                f"fleet not settled after {within} s: {settled}/{total} settled, "
                f"{by}\nerrors: {errors[:20]}\n{logs[-4000:]}"
            )
        await asyncio.sleep(poll)


async def ledger(sandbox: Sandbox) -> Counter[str]:
    """How often the sandbox applied each award (by its unique notes)."""
    return Counter(str(a["notes"]) for a in await sandbox.awards())


async def worst_windows(sandbox: Sandbox, seconds: float) -> dict[str, int]:
    """The most arrivals any ``seconds`` window held, per credential (store)."""
    by = await sandbox.arrivals_by_credential()
    return {who: max_in_window(times, seconds) for who, times in by.items()}


def totals(by: dict[str, dict[str, int]]) -> dict[str, Any]:
    return {s: sum(c[s] for c in by.values()) for s in ("applied", "failed", "ambiguous")}
