"""Run every benchmark and write the results page.

``python -m benchmarks.run``: the full runs; raw numbers go to ``benchmarks/results/``,
the page to ``docs/benchmarks.md`` with plots in ``docs/img/``.
``python -m benchmarks.run --quick``: a smoke run (about a minute) into a scratch
directory; the published page is left alone.
``python -m benchmarks.run --render-only``: rebuild the page from the saved results.

Every figure on the page is read from the JSON the benchmarks wrote: none is typed in.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from stampsync._redis_throttle import redis_margin

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = [
    "request_overhead",
    "throttle_compliance",
    "throttle_conditions",
    "export_scaling",
    "decode",
    "mass_awards",
    "redis_throttle",
    "lanes",
    "fleet",
    "sandbox_rate",
]
PACKAGES = [
    "stampsync",
    "aiohttp",
    "msgspec",
    "aiolimiter",
    "httpx",
    "requests",
    "pydantic",
    "redis",
    "asyncpg",
    "pgqueuer",
]


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_gib = None
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kib = int(meminfo.read_text().split()[1])
        mem_gib = round(kib / 1024 / 1024, 1)
    redis = shutil.which("redis-server")
    redis_version = (
        subprocess.run(
            [redis, "--version"], capture_output=True, text=True, check=False
        ).stdout.split()[2]
        if redis
        else None
    )
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": mem_gib,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "redis_server": redis_version,
        "packages": versions,
    }


def run_all(out: Path, quick: bool) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "machine.json").write_text(json.dumps(machine(), indent=2))
    for name in BENCHMARKS:
        print(f"\n== {name}", flush=True)
        args = [sys.executable, "-m", f"benchmarks.{name}", "--json", str(out / f"{name}.json")]
        subprocess.run([*args, *(["--quick"] if quick else [])], check=True, cwd=ROOT)


def load(results: Path, name: str) -> Any:
    path = results / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def plots(results: Path, img: Path) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    img.mkdir(parents=True, exist_ok=True)
    made: dict[str, str] = {}

    export = load(results, "export_scaling")
    if export:
        fig, ax = plt.subplots(figsize=(6, 3.2))
        ax.plot([r["customers"] for r in export], [r["peak_rss_mb"] for r in export], "o-")
        ax.axhline(100, color="red", linestyle="--", label="goal: 100 MB")
        ax.set_xscale("log")
        ax.set_ylim(0, 120)
        ax.set_xlabel("customers exported")
        ax.set_ylabel("exporter peak RSS (MB)")
        ax.legend()
        ax.set_title("Export memory stays flat")
        fig.tight_layout()
        fig.savefig(img / "export_rss.png", dpi=110)
        plt.close(fig)
        made["export"] = "img/export_rss.png"

    throttle = load(results, "throttle_compliance")
    if throttle:
        by: dict[str, int] = {}
        for r in throttle:
            by[r["variant"]] = max(by.get(r["variant"], 0), r["max_in_window"])
        limit = throttle[0]["limit"]
        fig, ax = plt.subplots(figsize=(6, 3.2))
        ax.barh(list(by), list(by.values()), color=["tab:green", "tab:red", "tab:orange"])
        ax.axvline(limit, color="black", linestyle="--", label=f"limit L = {limit}")
        ax.set_xlabel("most requests in any window, counted by the server")
        ax.legend()
        ax.set_title("Throttle compliance")
        fig.tight_layout()
        fig.savefig(img / "throttle_compliance.png", dpi=110)
        plt.close(fig)
        made["throttle"] = "img/throttle_compliance.png"

    overhead = load(results, "request_overhead")
    if overhead:
        names = list(overhead["variants"])
        ratios = [overhead["variants"][n]["paired_ratio_median"] for n in names]
        fig, ax = plt.subplots(figsize=(6, 3.2))
        ax.barh(names, ratios)
        ax.axvline(1.15, color="red", linestyle="--", label="goal for stampsync: 1.15x")
        ax.set_xscale("log")
        ax.set_xlabel("wall time vs raw aiohttp, median of paired rounds (log)")
        ax.legend()
        ax.set_title("Request path overhead")
        fig.tight_layout()
        fig.savefig(img / "request_overhead.png", dpi=110)
        plt.close(fig)
        made["overhead"] = "img/request_overhead.png"
    return made


def request_overhead_table(result: dict[str, Any]) -> str:
    from benchmarks.request_overhead import table

    return table(result)


def conditions_rows(result: dict[str, Any] | None) -> list[str]:
    if not result:
        return ["| (not run) | | | | | |"]
    return [
        f"| {r['scenario']} | {r['throttle']} | {r['limit']}/{r['seconds']:g}s "
        f"({r['server_limit']}) | {r['max_in_window']} | {r['rejected']} / {r['requests']} "
        f"| {r['rate_vs_server']:.3f} |"
        for r in result["results"]
    ]


def lanes_section(r: dict[str, Any]) -> list[str]:
    """A bot beside a campaign on one quota, fair shares and the planner (issue 29)."""
    lines = [
        "## 6a. Lanes: a bot beside a campaign",
        "",
        "An export fills L = 30 per S = 1 s (10 pages ahead, 8 connections, the bulk lane) "
        "against a strict sandbox in its own process; a bot calls `customers.get` every "
        '0.25 s through `with_options(lane="interactive")` (default reserve: 3 starts). '
        "Bounds for the bot's slowest call: S/L plus its idle round trip (the goal), and "
        "S/(L - reserve) plus the margin and the round trip (the spacing of the bulk "
        "lane's paced starts; through Redis 10 ms more, for the other process's stamps "
        "and the waiter's polls; asserted) (`benchmarks/lanes.py`).",
        "",
        "| setup | bot slowest / median | S/L + trip | paced bound | export vs L/S "
        "| max in a window | 429s |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, label in (
        ("one_process", "one process, LocalThrottle"),
        ("two_processes_redis", "two processes, one RedisThrottle key"),
    ):
        b = r[name]
        lines.append(
            f"| {label} | {b['bot_slowest_s'] * 1000:.1f} / {b['bot_median_s'] * 1000:.1f} ms "
            f"| {b['bot_bound_s'] * 1000:.1f} ms | {b['bot_bound_paced_s'] * 1000:.1f} ms "
            f"| {b['export_rate_vs_limit']:.3f} | "
            f"{b['max_in_window']} | {b['rate_limited_429']} |"
        )
    fair, plan = r["fair_shares"], r["planner"]
    lines += [
        "",
        f"Fair shares: two bulk processes on one key with {fair['in_flight'][0]} and "
        f"{fair['in_flight'][1]} starts in flight got {fair['starts'][0]} and "
        f"{fair['starts'][1]} starts ({fair['difference']:.1%} apart). The planner: "
        f"`client.plan({plan['requests']})` said {plan['plan_s']} s, the export took "
        f"{plan['measured_s']} s ({plan['error']:.1%} off; L = 100 per 2 s).",
        "",
    ]
    return lines


def render(results: Path, page: Path, img: Path) -> None:
    m = load(results, "machine") or {}
    made = plots(results, img)
    rel = os.path.relpath(img, page.parent)
    lines = [
        "# Benchmarks",
        "",
        "Generated by `nox -s bench` (`python -m benchmarks.run`) from the JSON in",
        "`benchmarks/results/`; every figure below is what the code measured.",
        "",
        f"Machine: {m.get('cpu')}, {m.get('cores')} cores, {m.get('memory_gib')} GiB, "
        f"{m.get('os')}; Python {m.get('python')}, redis-server "
        f"{m.get('redis_server')}; run {m.get('date')}.",
        "",
        "Packages: " + ", ".join(f"{k} {v}" for k, v in (m.get("packages") or {}).items() if v),
        "",
    ]

    o = load(results, "request_overhead")
    if o:
        goal = o["goal"]
        rounds = o["rounds"]
        lines += [
            "## 1. Request path overhead",
            "",
            f"{o['requests']} `GET dashboard/customers/{{id}}` against the sandbox (its "
            f"own process, unthrottled), {o['concurrency']} in flight (requests: a plain "
            f"sequential loop); {o['pinning']}. Raw aiohttp and stampsync ran back to "
            f"back in {rounds['pairs'] + rounds['all_clients']} rounds, httpx and "
            f"requests in {rounds['all_clients']} of them, the order reversed every other "
            "round and garbage collected before each run. The wall ratio is the median "
            "of each round's ratio to raw aiohttp (interquartile range in brackets): a "
            "slow spell of this shared machine hits both halves of a pair alike. "
            "Instructions per request are counted by callgrind, the same on every run "
            "whatever else the machine does. httpx is known upstream to be slow under "
            "concurrency (encode/httpx#3215).",
            "",
            f"**Goal: stampsync at most {goal['stampsync_at_most']}x raw aiohttp. "
            f"Measured: {goal['measured_paired_ratio']:.3f}x "
            f"({'met' if goal['met'] else 'not met'}).**",
            "",
            *request_overhead_table(o).splitlines(),
        ]
        if "overhead" in made:
            lines += ["", f"![request overhead]({rel}/request_overhead.png)"]
        lines.append("")

    t = load(results, "throttle_compliance")
    if t:
        by: dict[str, list[dict[str, Any]]] = {}
        for r in t:
            by.setdefault(r["variant"], []).append(r)
        first = t[0]
        lines += [
            "## 2. Throttle compliance and efficiency",
            "",
            f"{first['requests']} requests through stampsync's transport, 20 tasks, "
            f"against a strict server in another process (L = {first['limit']} per "
            f"{first['seconds']:g} s, 429 past it); only the throttle differs. Sustained "
            "rate: least-squares slope of arrivals after the first window, over L/S.",
            "",
            "| throttle | max in any window (server) | 429s | sustained / (L/S): median "
            "(min-max) |",
            "|---|---|---|---|",
        ]
        for name, rs in by.items():
            ratios = sorted(r["sustained_ratio"] for r in rs)
            lines.append(
                f"| {name} | {max(r['max_in_window'] for r in rs)} | "
                f"{sum(r['rejected_429'] for r in rs)} | "
                f"{ratios[len(ratios) // 2]:.3f} ({ratios[0]:.3f}-{ratios[-1]:.3f}) |"
            )
        if "throttle" in made:
            lines += ["", f"![throttle compliance]({rel}/throttle_compliance.png)"]
        lines.append("")

    e = load(results, "export_scaling")
    if e:
        lines += [
            "## 2b. The throttle under real conditions",
            "",
            "An export through `StampedClient` (8 connections, 10 pages ahead) against the",
            "sandbox in its own process with a strict quota, once per throttle.",
            "`reconnects`: every 5th answer closes its",
            "connection and each new connection's first request arrives 120 ms late.",
            "`overestimated`: `throttle_limit` twice the server's quota. `grant-stamped`",
            "is the previous design (a start counted at its grant, the limit never",
            "learned). Rate: admitted per second after the first window (after the first",
            "429 when overestimated), relative to the server's L/S.",
            "",
            "| scenario | throttle | L/S (server) | most in a window | 429s / requests | rate |",
            "|---|---|---|---|---|---|",
            *conditions_rows(load(results, "throttle_conditions")),
            "",
            "## 3. Export scaling",
            "",
            "`stampsync stamped export-customers` (unthrottled, 8 connections) from a "
            "sandbox process to JSONL; peak RSS of the exporting process from `wait4`.",
            "",
            "| customers | seconds | customers/s | peak RSS |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {r['customers']:,} | {r['seconds']} | {r['customers_per_s']:,} | "
            f"{r['peak_rss_mb']} MB |"
            for r in e
        ]
        if "export" in made:
            lines += ["", f"![export memory]({rel}/export_rss.png)"]
        lines.append("")

    d = load(results, "decode")
    if d:
        lines += [
            "## 4. Decode",
            "",
            f"A page of 100 customers ({d['page_bytes']:,} bytes) into typed objects, "
            f"{d['rounds']} interleaved rounds.",
            "",
            "| decoder | pages/s median | min | max | time vs msgspec |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {k} | {v['median_pages_per_s']:,} | {v['min']:,} | {v['max']:,} | "
            f"{v['slowdown_vs_msgspec']}x |"
            for k, v in d["variants"].items()
        ]
        lines.append("")

    a = load(results, "mass_awards")
    if a:
        lines += [
            "## 5. Mass awards",
            "",
            "`stamps.add_many` with a journal against a sandbox process enforcing the "
            "same quota; rates measured at the server after the first window.",
            "",
            "| faults | L / S | awards | max in window | 429s | requests vs L/S | awards/s "
            "| applied / ambiguous / failed |",
            "|---|---|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {'5 % 503, 1 % drop after applying' if r['faults'] else 'none'} | "
            f"{r['limit']} / {r['seconds']:g} s | {r['awards']} | {r['max_in_window']} | "
            f"{r['rate_limited_429']} | {r['requests_per_s_vs_limit']:.3f} | "
            f"{r['awards_per_s']} | {r['applied']} / {r['ambiguous']} / {r['failed']} |"
            for r in a
        ]
        lines.append("")

    r = load(results, "redis_throttle")
    if r:
        ov, c = r["overhead"], r["compliance"]
        lines += [
            "## 6. Redis throttle",
            "",
            "| measure | value |",
            "|---|---|",
            f"| acquire, one task, loopback: p50 / mean | {ov['redis_p50_us']} / "
            f"{ov['redis_mean_us']} µs (LocalThrottle: {ov['local_mean_us']} µs) |",
            f"| Redis round trips per acquire | {ov['round_trips_per_acquire']} |",
            f"| starts/s, one process (32 tasks; reserve, then sent) | "
            f"{r['one_process_acquires_per_s']:,} |",
            f"| Redis round trips per start, the stamp carried on the next call | "
            f"{r.get('round_trips_per_start', 'n/a')} |",
            f"| starts/s, four processes | {r['four_processes_acquires_per_s']:,} |",
            f"| {c['processes']} processes at {c['limit']} / {c['seconds']:g} s: max in "
            f"any window | {c['max_in_window']} |",
            f"| ... 429s / sustained vs L/S | {c['rate_limited_429']} / "
            f"{c['sustained_vs_limit']:.3f} |",
            "",
        ]

    lanes = load(results, "lanes")
    if lanes:
        lines += lanes_section(lanes)

    f = load(results, "fleet")
    if f:
        o = f["outcomes"]
        lines += [
            "## 7. Fleet",
            "",
            f"{f['stores']} stores, each with its own sandbox quota of {f['limit_per_store']} "
            f"requests per {f['seconds']:g} s, {f['awards']:,} awards spread evenly over "
            f"them, {f['workers']} `stampsync fleet worker` processes (jobs of "
            f"{f['job_rows']} rows, `--job-timeout {f['job_timeout_s']:g}`), a "
            "redis-server for the quotas and one PostgreSQL database for the journal and "
            "the job queue; one worker SIGKILLed "
            f"{f['killed_at_s']:g} s into the run (`benchmarks/fleet.py`).",
            "",
            "| measure | value |",
            "|---|---|",
            f"| awards applied twice (sandbox ledger) | {f['applied_twice']} |",
            f"| outcomes: applied / failed / ambiguous | {o['applied']:,} / {o['failed']} / "
            f"{o['ambiguous']} |",
            f"| ambiguous rows from the killed worker / from the others | "
            f"{f['ambiguous_from_killed_worker']} / {f['ambiguous_from_others']} |",
            f"| most arrivals in any store's {f['seconds']:g} s window (limit) | "
            f"{f['max_store_window']} ({f['limit_per_store']}); stores over: "
            f"{f['stores_over_limit']} of {f['stores_checked']} |",
            f"| 429 answers | {f['rate_limited_429']} |",
            f"| total time / ideal (slowest store's rows / its rate) | {f['elapsed_s']} s / "
            f"{f['ideal_s']} s = {f['vs_ideal']:.2f}x |",
            f"| worker CPU per award | {f['worker_cpu_ms_per_award']} ms |",
        ]
        if "longest_store_pause_s" in f:
            lines += [
                f"| longest any store stood still (the killed worker's stores included) | "
                f"{f['longest_store_pause_s']} s |"
            ]
        if "redis_commands_per_award" in f:
            lines += [
                "| Redis scripts (the quota's round trips) per award | "
                f"{f['redis_commands_per_award']['scripts']} |"
            ]
        if "postgres_cpu_ms_per_award" in f:
            per_award = (
                f["worker_cpu_ms_per_award"]
                + f["sandbox_cpu_ms_per_award"]
                + f["postgres_cpu_ms_per_award"]
                + f["redis_cpu_ms_per_award"]
            )
            rate = f["stores"] * f["limit_per_store"] / f["seconds"]
            lines += [
                f"| sandbox / PostgreSQL / Redis CPU per award | "
                f"{f['sandbox_cpu_ms_per_award']} / {f['postgres_cpu_ms_per_award']} / "
                f"{f['redis_cpu_ms_per_award']} ms |",
                f"| cores the ideal rate ({rate:g} awards/s) needs, of the machine's "
                f"{f['cores']} | {per_award * rate / 1000:.2f} |",
            ]
        lines += [""]
        ten = f.get("ten_stores")
        if ten:
            lines += [
                f"The same per-store load over {ten['stores']} stores (one worker killed "
                f"too): {ten['elapsed_s']} s / {ten['ideal_s']} s = {ten['vs_ideal']:.2f}x, "
                f"each store at {ten['store_rate_per_s']['median']} requests/s (its throttle "
                f"admits at most {ten['limit_per_store']} per {ten['seconds']:g} s plus a "
                f"{redis_margin(ten['seconds']) * 1000:g} ms margin; the workers run with "
                "`--throttle-reserve 0`, as nothing else sends for these stores), "
                f"{ten['applied_twice']} applied twice, "
                f"{ten['outcomes']['ambiguous']} ambiguous"
                + (" (all the killed worker's)" if ten["outcomes"]["ambiguous"] else "")
                + ". At "
                f"{f['stores']} stores the stores run at "
                f"{f['store_rate_per_s']['median']} requests/s (median): "
                f"{f['stores'] * f['limit_per_store']} awards/s through {f['workers']} "
                "workers, the sandbox, PostgreSQL and Redis take nearly all of the "
                f"machine's {f.get('cores', '?')} cores (load average "
                f"{f.get('load_average_1m', '?')}), and each request's round trip, which "
                "the throttle counts, grows longer.",
                "",
                "A row is claimed only once its store's quota has granted its start, so "
                "the killed worker leaves ambiguous only the rows it was sending: "
                + (
                    f"{o['ambiguous']} in this run, of which "
                    f"{f['applied_on_server'] - o['applied']} had reached the server (the "
                    f"sandbox's ledger holds {f['applied_on_server']:,} awards against "
                    f"{o['applied']:,} recorded applied)"
                    if o["ambiguous"]
                    else "none in this run (it had no claimed row when it was killed: a "
                    "row is claimed for one journal round trip and one request)"
                )
                + ". Before rows were claimed only with their start, a killed worker left "
                "21-45 ambiguous, of which 1-5 had been sent.",
                "",
            ]

    s = load(results, "sandbox_rate")
    if s:
        lines += [
            "## The sandbox itself",
            "",
            f"Pages of {s['page_size']} customers at concurrency {s['concurrency']}: "
            f"median {s['median_rps']:,} requests/s (rounds: {s['rates']}), so it is not "
            "the bottleneck of the benchmarks above.",
            "",
        ]
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text("\n".join(lines))
    print(f"wrote {page}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run into a scratch dir")
    parser.add_argument("--render-only", action="store_true", help="rebuild the page only")
    args = parser.parse_args()
    if args.quick:
        scratch = Path(tempfile.mkdtemp(prefix="stampsync-bench-"))
        run_all(scratch, quick=True)
        render(scratch, scratch / "benchmarks.md", scratch / "img")
        return
    results = ROOT / "benchmarks" / "results"
    if not args.render_only:
        run_all(results, quick=False)
    render(results, ROOT / "docs" / "benchmarks.md", ROOT / "docs" / "img")


if __name__ == "__main__":
    main()
