"""Export scaling: customers/s and the exporter's peak memory, 10 k to 1 M customers.

For each size the sandbox runs as its own process and the real command line
(``stampsync stamped export-customers``, unthrottled) runs as another; its peak RSS is
read from the kernel when it exits (``wait4``), so each size is measured on its own.

Run: ``python -m benchmarks.export_scaling [--quick] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from stampsync.sandbox import Sandbox


def export_once(n: int, workdir: Path) -> dict[str, float]:
    with Sandbox(customers=n, members=10, process=True, arrival_log=False) as sb:
        c = sb.config
        out = workdir / f"customers-{n}.jsonl"
        env = {
            **os.environ,
            "STAMPED_API_URL": sb.url,
            "STAMPED_PUBLIC_KEY": c.public_key,
            "STAMPED_PRIVATE_KEY": c.private_key,
            "STAMPED_STORE_HASH": c.store_hash,
        }
        cmd = [
            sys.executable,
            "-m",
            "stampsync.cli",
            "stamped",
            "export-customers",
            "--out",
            str(out),
            "--throttle-limit",
            "1000000000",
            "--throttle-seconds",
            "1",
            "--connections",
            "8",
            "--batch",
            "8",
        ]
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise RuntimeError(f"export of {n} failed with {proc.returncode}")
        with out.open() as fh:
            lines = sum(1 for _ in fh)
        out.unlink()
    if lines != n:
        raise RuntimeError(f"exported {lines} of {n}")
    return {
        "customers": n,
        "seconds": round(elapsed, 2),
        "customers_per_s": round(n / elapsed),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
    }


def main(quick: bool) -> list[dict[str, float]]:
    sizes = [10_000, 100_000] if quick else [10_000, 100_000, 1_000_000]
    with tempfile.TemporaryDirectory() as tmp:
        return [export_once(n, Path(tmp)) for n in sizes]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 k and 100 k only")
    parser.add_argument("--json")
    args = parser.parse_args()
    rows = main(args.quick)
    print("| customers | seconds | customers/s | exporter peak RSS |")
    print("|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['customers']:,} | {r['seconds']} | {r['customers_per_s']:,} | "
            f"{r['peak_rss_mb']} MB |"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
