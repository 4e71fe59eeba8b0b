"""Helpers for driving the command line as a batch script would: files, env, processes."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import anyio
from typer.testing import CliRunner

from stampsync.cli._app import app
from stampsync.sandbox import Sandbox

runner = CliRunner()
ROUTE = "POST /api/stamps/add"
FAST = ["--throttle-limit", "100000", "--throttle-seconds", "1"]


def env_for(sb: Sandbox) -> dict[str, str]:
    c = sb.config
    return {
        "STAMPS_API_URL": sb.url,
        "STAMPS_TOKEN": c.stamps_token,
        "STAMPED_API_URL": sb.url,
        "STAMPED_PUBLIC_KEY": c.public_key,
        "STAMPED_PRIVATE_KEY": c.private_key,
        "STAMPED_STORE_HASH": c.store_hash,
        "STAMPED_API_KEY": c.api_key,
    }


def write_awards(
    path: Path,
    rows: list[list[object]],
    header: tuple[str, ...] = ("key", "user", "store", "number_of_stamps", "notes"),
) -> Path:
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(header)
        out.writerows(rows)
    return path


def good_rows(n: int) -> list[list[object]]:
    return [[f"k{i}", f"member{1 + i % 20}@example.com", 1, 1 + i % 3, f"k{i}"] for i in range(n)]


def run_cli(args: list[str], sb: Sandbox) -> tuple[int, str, str]:
    result = runner.invoke(app, args, env=env_for(sb))
    return result.exit_code, result.stdout, result.stderr


def arrivals(sb: Sandbox) -> int:
    return anyio.run(sb.counters).get("arrivals", 0)


def server_awards(sb: Sandbox) -> Counter[str]:
    return Counter(str(a["notes"]) for a in anyio.run(sb.awards))


def report_rows(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def cli_process(args: list[str], sb: Sandbox) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "stampsync.cli", *args],
        env={**os.environ, **env_for(sb)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def partial_report(report: Path, timeout: float = 30) -> Path:
    """The report a running CLI is writing (renamed over ``report`` when it ends)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = sorted(report.parent.glob(f".{report.name}.*.partial"))
        if found:
            return found[0]
        time.sleep(0.02)
    raise AssertionError(f"no partial report beside {report}")


def wait_for_pending(journal: Path, timeout: float = 30) -> None:
    """Wait until a running CLI's SQLite journal holds a claimed key whose answer has not
    come (a request in flight): the moment to SIGKILL it so that one is left behind.
    Counting report lines is not enough: a loaded machine may stop the run between a
    row's outcome and the next claim, and a kill there leaves nothing in flight."""
    import sqlite3

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if journal.exists():
            try:
                with contextlib.closing(
                    sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=1)
                ) as db:
                    found = db.execute("SELECT 1 FROM writes WHERE status = 'pending'").fetchone()
            except sqlite3.OperationalError:  # not made yet, or busy for a moment
                found = None
            if found:
                return
        time.sleep(0.01)
    raise AssertionError(f"{journal} never held a key in flight")


def wait_for_lines(path: Path, n: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and len(path.read_text().splitlines()) >= n:
            return
        time.sleep(0.02)
    raise AssertionError(f"{path} did not reach {n} lines")
