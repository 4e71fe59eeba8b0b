"""``stampsync demo``: the main job, end to end, on the embedded sandbox.

It starts the sandbox with a strict quota, exports every customer, awards stamps to
thousands of members while the sandbox injects faults, and checks the result against
the sandbox's own record: requests, achieved rate against the limit, 429s, duplicates,
and which awards are ambiguous and what to do about them.
"""

from __future__ import annotations

import asyncio
import collections
import csv
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.table import Table

from .._engine.journal import Journal
from .._engine.writes import BatchReport
from ..sandbox import Fault, Sandbox
from ..stamps.stamps import DEFAULT_MAX_STAMPS
from ..testing import max_in_window
from ._common import Tuning, err
from ._report import ReportFile
from ._stamped import ExportWriter, export
from ._stamps import award_file


@dataclass(frozen=True)
class DemoPlan:
    """Sizes and pace of a demo run."""

    customers: int = 20_000
    awards: int = 2_000
    limit: int = 160
    seconds: float = 2.0

    @classmethod
    def quick(cls) -> DemoPlan:
        """A few seconds' worth, for smoke tests."""
        return cls(customers=1_000, awards=200, limit=100, seconds=0.5)


def write_awards_csv(path: Path, n: int, members: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["key", "user", "store", "number_of_stamps", "notes"])
        for i in range(1, n + 1):
            out.writerow(
                [
                    f"order-{i:06d}",
                    f"member{1 + (i - 1) % members}@example.com",
                    1,
                    1 + i % 5,
                    f"order-{i:06d}",
                ]
            )


async def run_demo(workdir: Path, plan: DemoPlan) -> int:
    """Run the demo in ``workdir`` (an empty directory); return 0 when every check holds."""
    faults = [
        Fault("503", route="POST /api/stamps/add", probability=0.02),
        Fault("drop_after", route="POST /api/stamps/add", probability=0.005),
    ]
    tuning = Tuning(plan.limit, plan.seconds, connections=8, batch=16)
    members = max(1, plan.awards // 2)
    async with Sandbox(
        customers=plan.customers,
        members=members,
        limit=plan.limit,
        seconds=plan.seconds,
        faults=faults,
        fault_seed=42,
    ) as sb:
        err.print(
            f"[bold]stampsync demo[/]: sandbox at {sb.url}, quota {plan.limit} requests "
            f"per {plan.seconds:g} s per API (strictly enforced by the sandbox)\n"
        )
        c = sb.config

        t0 = time.monotonic()
        writer = ExportWriter(workdir / "customers.jsonl", resume=False)
        try:
            await export(
                tuning.stamped(sb.url, c.public_key, c.private_key, c.store_hash),
                writer,
                page_size=100,
            )
        finally:
            writer.close(True)
        t1 = time.monotonic()

        awards_csv = workdir / "awards.csv"
        write_awards_csv(awards_csv, plan.awards, members)
        with (
            Journal(workdir / "awards.sqlite") as journal,
            ReportFile(workdir / "report.jsonl") as out,
        ):
            report = await award_file(
                tuning.stamps(sb.url, c.stamps_token),
                awards_csv,
                journal,
                out,
                plan.awards,
                DEFAULT_MAX_STAMPS,
            )
        t2 = time.monotonic()

        arrivals = await sb.arrivals()
        counters = await sb.counters()
        server_awards = await sb.awards()
    return summarise(workdir, plan, report, arrivals, counters, server_awards, (t0, t1, t2))


def summarise(
    workdir: Path,
    plan: DemoPlan,
    report: BatchReport,
    arrivals: list[float],
    counters: dict[str, int],
    server_awards: Sequence[Mapping[str, object]],
    times: tuple[float, float, float],
) -> int:
    t0, t1, t2 = times
    export_times = [t for t in arrivals if t0 <= t < t1]
    award_times = [t for t in arrivals if t1 <= t <= t2]
    per_key = collections.Counter(str(a["notes"]) for a in server_awards)
    duplicates = sum(n - 1 for n in per_key.values() if n > 1)
    ideal = plan.limit / plan.seconds
    # The first window's allowance may go at once; measure the rate after it.
    steady = [t for t in award_times if t >= award_times[0] + plan.seconds] if award_times else []
    rate = (len(steady) - 1) / (steady[-1] - steady[0]) if len(steady) > 1 else 0.0
    with (workdir / "customers.jsonl").open() as fh:
        exported = sum(1 for _ in fh)
    outcomes = report.counts

    table = Table(title="stampsync demo: what the server saw", show_header=True)
    table.add_column("check")
    table.add_column("result", justify="right")
    table.add_row("customers exported", f"{exported} of {plan.customers}")
    table.add_row(
        "awards applied / failed / ambiguous",
        f"{outcomes['applied']} / {outcomes['failed']} / {outcomes['ambiguous']}",
    )
    table.add_row("requests the server received", str(counters.get("arrivals", 0)))
    table.add_row(
        "injected faults (503 retried / dropped after applying)",
        f"{counters.get('fault:503', 0)} / {counters.get('fault:drop_after', 0)}",
    )
    table.add_row(
        f"most requests in any {plan.seconds:g} s window (limit {plan.limit})",
        f"{max_in_window(export_times, plan.seconds)} export, "
        f"{max_in_window(award_times, plan.seconds)} awards",
    )
    table.add_row(
        "award rate after the first window vs the limit",
        f"{rate:.1f}/s of {ideal:.1f}/s ({rate / ideal:.1%})",
    )
    table.add_row("429 answers", str(counters.get("rate_limited", 0)))
    table.add_row("duplicate awards on the server", str(duplicates))
    table.add_row("time: export + awards", f"{t1 - t0:.1f} s + {t2 - t1:.1f} s")
    err.print()
    err.print(table)

    checks = {
        "every customer exported": exported == plan.customers,
        "no 429": counters.get("rate_limited", 0) == 0,
        "no duplicate award": duplicates == 0,
        "no window over the limit": max(
            max_in_window(export_times, plan.seconds), max_in_window(award_times, plan.seconds)
        )
        <= plan.limit,
        "every row reported": sum(outcomes[s] for s in ("applied", "failed", "ambiguous"))
        == plan.awards,
        "every ambiguous award is one the server dropped after applying": outcomes["ambiguous"]
        == counters.get("fault:drop_after", 0),
    }
    for name, ok in checks.items():
        err.print(f"  {'[green]ok[/]  ' if ok else '[red]FAIL[/]'} {name}")
    if outcomes["ambiguous"]:
        err.print(
            f"\n{outcomes['ambiguous']} award(s) are ambiguous: the sandbox applied them, then "
            "dropped the connection, so the client cannot know. They were not retried. "
            "Review them with\n"
            f"  stampsync stamps journal list --journal {workdir / 'awards.sqlite'} "
            "--status ambiguous\n"
            "then settle each with\n"
            f"  stampsync stamps journal resolve --journal {workdir / 'awards.sqlite'} "
            "KEY --applied\n"
            "(or --not-applied, after checking the member's stamps)."
        )
    err.print(f"\nfiles: {workdir}/ (customers.jsonl, awards.csv, awards.sqlite, report.jsonl)")
    return 0 if all(checks.values()) else 1


def demo(workdir: Path, quick: bool) -> int:
    """Run the demo in ``workdir`` (emptied first); return its exit code."""
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    return asyncio.run(run_demo(workdir, DemoPlan.quick() if quick else DemoPlan()))
