"""Stamped V3 points in bulk: journaled, each key at most once, through drops and a SIGKILL."""

from __future__ import annotations

import csv
import json
import math
import re
import signal
from collections import Counter
from pathlib import Path

import anyio
import pytest

from stampsync.sandbox import Fault, Sandbox
from stampsync.stamped.v3 import PointsAdjustment
from stampsync.testing import no_backoff
from tests._cli import FAST, cli_process, partial_report, report_rows, run_cli, wait_for_lines

ADJUST_ROUTE = "POST /api/v3/loyalty/shops/270392/customers/*/adjust-points"
_KEY = re.compile(r"\[([^\]]+)\]$")


def customer(i: int) -> str:
    return f"cus_{1 + i % 40:06d}"


async def applied_on_server(sb: Sandbox) -> Counter[str]:
    """How many adjustments the sandbox recorded for each key (carried in the reason)."""
    activities = await sb.v3("activities")
    titles = [(a.get("rule") or {}).get("title") or "" for a in activities]
    return Counter(m.group(1) for t in titles if (m := _KEY.search(t)))


async def test_adjust_points_many_applies_each_key_once_and_a_rerun_sends_nothing_again(
    stampsync_sandbox: Sandbox, tmp_path: Path
) -> None:
    sb = stampsync_sandbox
    journal = tmp_path / "j.sqlite"
    rows: list[object] = [
        PointsAdjustment(key=f"k-{i}", customer_id=customer(i), points=10 + i, reason="bonus")
        for i in range(20)
    ]
    rows += [
        PointsAdjustment(key="zero", customer_id=customer(1), points=0),
        PointsAdjustment(key="nan", customer_id=customer(1), points=math.nan),
        PointsAdjustment(key="text", customer_id=customer(1), points="5"),  # type: ignore[arg-type]
        PointsAdjustment(key="huge", customer_id=customer(1), points=10**12),
        PointsAdjustment(key="nobody", customer_id="cus_999999", points=5),
        PointsAdjustment(key="k-3", customer_id=customer(3), points=1),  # a repeated key
        PointsAdjustment(key="why", customer_id=customer(1), points=1, reason=5),  # type: ignore[arg-type]
    ]
    changed = [PointsAdjustment(key="k-5", customer_id=customer(5), points=99, reason="bonus")]
    before = {c["customerId"]: c["activity"]["totalPoints"] for c in await sb.v3("customers")}
    await sb.set_faults(f"drop_after:1:1:2@{ADJUST_ROUTE}")
    with no_backoff():
        async with sb.stamped_client(concurrent_batch_executions=1) as st:
            report = await st.v3.loyalty.adjust_points_many(rows, journal=journal)  # type: ignore[arg-type]
            again = await st.v3.loyalty.adjust_points_many(rows, journal=journal)  # type: ignore[arg-type]
            reused = await st.v3.loyalty.adjust_points_many(changed, journal=journal)
    by_key = {o.key: o for o in report if o.row != 26}  # 26: the repeated k-3
    # The first two were dropped after the server applied them: ambiguous, never resent.
    assert [by_key[f"k-{i}"].status for i in range(3)] == ["ambiguous", "ambiguous", "applied"]
    assert all(by_key[f"k-{i}"].status == "applied" for i in range(2, 20))
    for key, words in {
        "zero": "not be zero",
        "nan": "finite",
        "text": "must be a number",
        "huge": "max_stamps",
        "nobody": "404",
        "why": "reason must be a string",
    }.items():
        assert by_key[key].status == "failed", key
        assert words in (by_key[key].error or ""), (key, by_key[key].error)
    repeated = [o for o in report if o.key == "k-3"]
    assert [o.status for o in repeated] == ["applied", "failed"]
    assert "duplicate key" in (repeated[1].error or "")
    assert report.counts == {"applied": 18, "failed": 7, "ambiguous": 2, "skipped": 0}
    # The rerun sends only the failed rows again: nothing applied or ambiguous twice.
    assert again.counts["skipped"] == 18
    assert again.counts["ambiguous"] == 2
    assert again.sent == 1  # "nobody" (the others fail before sending)
    # A key is one adjustment: the same key with other points is refused, unsent.
    assert [(o.status, o.key) for o in reused] == [("failed", "k-5")]
    assert "different" in (next(iter(reused)).error or "")
    assert reused.sent == 0
    on_server = await applied_on_server(sb)
    assert on_server == Counter({f"k-{i}": 1 for i in range(20)})
    after = {c["customerId"]: c["activity"]["totalPoints"] for c in await sb.v3("customers")}
    for i in range(20):
        before[customer(i)] += 10 + i
    assert after == before
    # The reason sent is the row's, then its key; the single call sends the same body.
    body = st.v3.loyalty.adjust_body(customer_id="cus_000001", points=2, reason="bonus [k-0]")
    activities = await sb.v3("activities")
    assert any((a.get("rule") or {}).get("title") == body.reason for a in activities)


def write_points(path: Path, n: int) -> Path:
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["key", "customer_id", "points", "reason"])
        for i in range(n):
            out.writerow([f"p-{i}", customer(i), 1 + i % 9, "spring"])
    return path


@pytest.mark.stampsync_sandbox(
    faults=[
        Fault("drop_after", route=ADJUST_ROUTE, probability=0.01),
        Fault("latency", route=ADJUST_ROUTE, seconds=0.004),
    ],
    fault_seed=11,
)
def test_adjust_points_through_drops_and_a_sigkill_then_a_rerun(
    stampsync_sandbox: Sandbox, tmp_path: Path
) -> None:
    sb = stampsync_sandbox
    n = 2000
    src = write_points(tmp_path / "points.csv", n)
    journal, report = tmp_path / "j.sqlite", tmp_path / "r.jsonl"
    args = ["stamped", "adjust-points", "--input", str(src), "--journal", str(journal)]
    args += ["--report", str(report), *FAST]
    proc = cli_process(args, sb)
    wait_for_lines(partial_report(report), 600, timeout=120)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)
    killed_after = len(report_rows(partial_report(report)))
    assert killed_after < n  # killed mid-run
    code, _, err = run_cli(args, sb)
    assert code in (0, 3), err
    rows = report_rows(report)
    keys = {f"p-{i}" for i in range(n)}
    assert sorted(str(r["key"]) for r in rows) == sorted(keys)
    assert all(r["customer_id"] for r in rows)
    on_server = anyio.run(applied_on_server, sb)
    assert max(on_server.values()) == 1, "a row was applied twice"
    statuses = Counter(str(r["status"]) for r in rows)
    assert statuses["failed"] == 0
    ambiguous = {str(r["key"]) for r in rows if r["status"] == "ambiguous"}
    applied = {str(r["key"]) for r in rows if r["status"] == "applied"}
    assert applied | ambiguous == keys
    assert applied <= set(on_server)
    drops = anyio.run(sb.counters)["fault:drop_after"]
    assert drops > 0
    # Ambiguous only where the sandbox dropped an answer after applying, or where the
    # kill cut a request in flight (at most the batch's concurrency, 10).
    assert len(ambiguous) <= drops + 10
    assert len(ambiguous - set(on_server)) <= 10
    if ambiguous:
        assert "journal resolve" in err


def test_adjust_points_reads_jsonl_fails_bad_rows_alone_and_refuses_a_bad_file(
    stampsync_sandbox: Sandbox, tmp_path: Path
) -> None:
    sb = stampsync_sandbox
    src = tmp_path / "points.jsonl"
    lines = [
        {"key": "a", "customerId": "cus_000001", "points": 5, "reason": "welcome"},
        {"key": "b", "customer_id": "cus_000002", "points": "x"},
        {"key": "c", "customer_id": "cus_000002", "points": 3, "colour": "red"},
        {"key": 7, "customer_id": "cus_000002", "points": 3},
        {"key": "d", "points": 3},
        {"key": "e", "customer_id": "cus_000003", "points": -1, "reason": 5},
    ]
    src.write_text("".join(json.dumps(x) + "\n" for x in lines) + "{not json\n")
    journal, report = tmp_path / "j.sqlite", tmp_path / "r.jsonl"
    args = ["stamped", "adjust-points", "--input", str(src), "--journal", str(journal)]
    code, _, err = run_cli([*args, "--report", str(report), "--no-key-in-reason", *FAST], sb)
    assert code == 1, err
    by_row = {r["row"]: r for r in report_rows(report)}
    assert by_row[1]["status"] == "applied"
    expected = {
        2: "must be a number",
        3: "unknown field(s) colour",
        4: "key must be text",
        5: "customer_id is missing",
        6: "reason must be a string",
        7: "not JSON",
    }
    for row, words in expected.items():
        assert by_row[row]["status"] == "failed", row
        assert words in str(by_row[row]["error"]), (row, by_row[row]["error"])
    titles = [(a.get("rule") or {}).get("title") for a in anyio.run(lambda: sb.v3("activities"))]
    assert titles.count("welcome") == 1  # --no-key-in-reason: the reason as given
    # A CSV whose key repeats is refused whole before anything is sent.
    bad = tmp_path / "dup.csv"
    bad.write_text("key,customer_id,points\nx,cus_000001,1\nx,cus_000002,1\n")
    code, _, err = run_cli(
        ["stamped", "adjust-points", "--input", str(bad), "--journal", str(journal),
         "--report", str(tmp_path / "r2.jsonl"), *FAST],
        sb,
    )  # fmt: skip
    assert code == 2
    assert "line 3" in err
    assert "line 2" in err


def test_adjust_points_announces_its_plan_before_a_long_batch(
    stampsync_sandbox: Sandbox, tmp_path: Path
) -> None:
    src = tmp_path / "slow.csv"
    src.write_text("key,customer_id,points\n" + "".join(f"s-{i},cus_000001,x\n" for i in range(60)))
    args = ["stamped", "adjust-points", "--input", str(src), "--journal", str(tmp_path / "j")]
    args += ["--report", str(tmp_path / "r.jsonl"), "--throttle-limit", "2"]
    code, _, err = run_cli([*args, "--throttle-seconds", "60"], stampsync_sandbox)
    assert code == 1, err  # every row fails unsent: "x" is not a number
    assert "plan: 60 requests: about" in err
    code, _, err = run_cli(args[:-2] + list(FAST), stampsync_sandbox)  # a few seconds: no plan
    assert "plan:" not in err


async def test_a_customer_id_that_is_neither_text_nor_an_integer_fails_its_row_alone(
    stampsync_sandbox: Sandbox,
) -> None:
    rows = [
        PointsAdjustment(key="ok-1", customer_id="cus_000001", points=1),
        PointsAdjustment(key="float", customer_id=1.5, points=1),  # type: ignore[arg-type]
        PointsAdjustment(key="list", customer_id=["x"], points=1),  # type: ignore[arg-type]
        PointsAdjustment(key="ok-2", customer_id="cus_000002", points=1),
    ]
    async with stampsync_sandbox.stamped_client() as st:
        report = await st.v3.loyalty.adjust_points_many(rows)
    by_key = {o.key: o for o in report}
    assert [by_key[k].status for k in ("ok-1", "float", "list", "ok-2")] == [
        "applied",
        "failed",
        "failed",
        "applied",
    ]
    assert "customer_id must be a string or an integer" in (by_key["float"].error or "")


def test_adjust_points_files_fail_odd_rows_alone_and_name_their_keys(
    stampsync_sandbox: Sandbox, tmp_path: Path
) -> None:
    sb = stampsync_sandbox
    jsonl = tmp_path / "odd.jsonl"
    lines = [
        {"key": "j-ok", "customer_id": "cus_000001", "points": 1},
        {"key": "j-float", "customer_id": 1.5, "points": 1},
        {"key": "j-reason", "customer_id": "cus_000001", "points": 1, "reason": 0},
    ]
    jsonl.write_text("".join(json.dumps(x) + "\n" for x in lines))
    report = tmp_path / "r.jsonl"
    args = ["stamped", "adjust-points", "--journal", str(tmp_path / "j.sqlite"), *FAST]
    code, _, err = run_cli([*args, "--input", str(jsonl), "--report", str(report)], sb)
    assert code == 1, err
    by_key = {r["key"]: r for r in report_rows(report)}
    assert by_key["j-ok"]["status"] == "applied"
    assert "customer_id must be a string or an integer" in str(by_key["j-float"]["error"])
    assert "reason must be a string" in str(by_key["j-reason"]["error"])
    csv_file = tmp_path / "odd.csv"
    csv_file.write_text(
        "key,customer_id,points\n"
        "c-ok,cus_000001,2\n"
        "c-wide,cus_000002,3,extra\n"
        "c-underscore,cus_000003,1_000\n"
    )
    report = tmp_path / "r2.jsonl"
    code, _, err = run_cli([*args, "--input", str(csv_file), "--report", str(report)], sb)
    assert code == 1, err
    by_key = {r["key"]: r for r in report_rows(report)}
    assert by_key["c-ok"]["status"] == "applied"
    assert by_key["c-wide"]["customer_id"] == "cus_000002"  # the line's key and customer kept
    assert "4 cells but the header has 3" in str(by_key["c-wide"]["error"])
    assert "must be a number" in str(by_key["c-underscore"]["error"])
