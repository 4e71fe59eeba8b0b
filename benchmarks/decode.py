"""Decoding a page of 100 customers: msgspec Structs beside json + dataclasses and pydantic.

The same bytes (a page the sandbox serves) are decoded into typed objects with
snake_case attributes by each library, in interleaved rounds; pages/s is reported with
the ratio to msgspec.

Run: ``python -m benchmarks.decode [--quick] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
from pydantic import BaseModel, ConfigDict, TypeAdapter
from pydantic.alias_generators import to_camel

from stampsync.sandbox._data import StampedStore
from stampsync.stamped.models import CustomerPage


@dataclass
class DCustomer:
    id: int | str | None = None
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    customer_id: int | str | None = None
    points: float | None = None
    points_expiry: str | None = None
    tier: str | None = None
    total_spend: float | None = None
    total_orders: int | None = None
    tags: list[str] | None = None
    created_at: str | None = None
    updated_at: str | None = None


_SNAKE = {to_camel(f): f for f in DCustomer.__dataclass_fields__}


@dataclass
class DPage:
    data: list[DCustomer]
    total: int | None
    page: int | None


def decode_dataclasses(raw: bytes) -> DPage:
    doc = json.loads(raw)
    customers = [
        DCustomer(**{_SNAKE[k]: v for k, v in item.items() if k in _SNAKE})
        for item in doc.get("data", [])
    ]
    return DPage(customers, doc.get("total"), doc.get("page"))


class PCustomer(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)
    id: int | str | None = None
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    customer_id: int | str | None = None
    points: float | None = None
    points_expiry: str | None = None
    tier: str | None = None
    total_spend: float | None = None
    total_orders: int | None = None
    tags: list[str] | None = None
    created_at: str | None = None
    updated_at: str | None = None


class PPage(BaseModel):
    data: list[PCustomer] = []
    total: int | None = None
    page: int | None = None


def variants() -> dict[str, Callable[[bytes], Any]]:
    struct_decoder = msgspec.json.Decoder(CustomerPage)
    adapter = TypeAdapter(PPage)
    return {
        "msgspec Structs (stampsync)": struct_decoder.decode,
        "json + dataclasses": decode_dataclasses,
        "pydantic v2": adapter.validate_json,
    }


def main(quick: bool) -> dict[str, Any]:
    store = StampedStore(seed=1, customers=1000)
    raw = msgspec.json.encode({"data": store.page(1, 100), "total": 1000, "page": 1})
    fns = variants()
    for fn in fns.values():  # same result shape from every decoder
        assert len(fn(raw).data) == 100
    n, rounds = (200, 5) if quick else (2000, 9)
    rates: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            t = time.perf_counter()
            for _ in range(n):
                fn(raw)
            rates[name].append(n / (time.perf_counter() - t))
    base = statistics.median(rates["msgspec Structs (stampsync)"])
    return {
        "page_bytes": len(raw),
        "pages_per_round": n,
        "rounds": rounds,
        "variants": {
            k: {
                "median_pages_per_s": round(statistics.median(v)),
                "min": round(min(v)),
                "max": round(max(v)),
                "slowdown_vs_msgspec": round(base / statistics.median(v), 2),
            }
            for k, v in rates.items()
        },
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json")
    args = parser.parse_args()
    out = main(args.quick)
    print(f"a page of 100 customers ({out['page_bytes']} bytes), {out['rounds']} rounds\n")
    print("| decoder | pages/s (median) | min | max | time vs msgspec |")
    print("|---|---|---|---|---|")
    for name, v in out["variants"].items():
        print(
            f"| {name} | {v['median_pages_per_s']:,} | {v['min']:,} | {v['max']:,} | "
            f"{v['slowdown_vs_msgspec']}x |"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
