"""CSV formula injection: customer-controlled cells never reach a spreadsheet as formulas."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import anyio
import pytest

from stampsync.sandbox import Sandbox
from tests._cli import FAST, run_cli

HOSTILE = {
    "t1@x.co": ("-2+3+cmd|' /C calc'!A0", "\tTAB", ["=1+1", "vip"]),
    "t2@x.co": ("\r=evil", "ok", ["-tag", "@x"]),
    "t3@x.co": ("Ann", "O'Brien", ["plain"]),
}


@pytest.mark.stampsync_sandbox(customers=0)
def test_every_formula_start_is_escaped_in_csv_and_jsonl_is_untouched(
    stampsync_sandbox: Sandbox, tmp_path: Path
) -> None:
    async def seed() -> None:
        async with stampsync_sandbox.stamped_client() as sd:
            for email, (first, last, tags) in HOSTILE.items():
                await sd.customers.create(email=email, first_name=first, last_name=last, tags=tags)

    anyio.run(seed)
    out = tmp_path / "c.csv"
    code, _, err = run_cli(
        ["stamped", "export-customers", "--out", str(out), *FAST], stampsync_sandbox
    )
    assert code == 0, err
    with out.open(newline="") as fh:
        rows = {r["email"]: r for r in csv.DictReader(fh)}
    assert rows["t1@x.co"]["first_name"] == "'-2+3+cmd|' /C calc'!A0"
    assert rows["t1@x.co"]["last_name"] == "'\tTAB"
    assert rows["t2@x.co"]["first_name"] == "'\r=evil"
    assert rows["t3@x.co"]["last_name"] == "O'Brien"  # a quote inside is left alone
    tags = {email: r["tags"] for email, r in rows.items()}
    assert tags["t2@x.co"].startswith("'-tag")
    assert all(
        not v.startswith(("=", "+", "-", "@", "\t", "\r"))
        for r in rows.values()
        for v in r.values()
    )

    jsonl = tmp_path / "c.jsonl"
    code, _, err = run_cli(
        ["stamped", "export-customers", "--out", str(jsonl), *FAST], stampsync_sandbox
    )
    assert code == 0, err
    raw = {c["email"]: c for c in map(json.loads, jsonl.read_text().splitlines())}
    assert raw["t1@x.co"]["first_name"] == "-2+3+cmd|' /C calc'!A0"
    assert raw["t2@x.co"]["first_name"] == "\r=evil"
