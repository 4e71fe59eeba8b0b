"""Stamped V3 writes as fleet campaigns: order pushes and points adjustments, queued on
PostgreSQL and sent by ``stampsync fleet worker`` processes with the shops' Stamped
credentials, answers lost after the server applied them. Real servers: redis-server,
PostgreSQL, the sandbox, each stopped by its own pid."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stampsync.errors import ConfigurationError
from stampsync.fleet import FleetSettings, failed_rows, queue_campaign
from stampsync.fleet.worker import FleetState
from stampsync.sandbox import Sandbox
from tests._fleet import Fleet, totals, wait_settled
from tests._redis import redis_server

pytestmark = [pytest.mark.redis, pytest.mark.postgres]

LIMIT = 10  # per shop, per second
SHOPS = ("shop-a", "shop-b")
ORDERS_ROUTE = "POST /api/v3/merchant/shops/270392/orders"
POINTS_ROUTE = "POST /api/v3/loyalty/shops/270392/customers/*/adjust-points"
_KEY = re.compile(r"\[([^\]]+)\]$")


@pytest.fixture
def redis_url() -> Iterator[str]:
    with redis_server() as (url, _):
        yield url


def stamped_fleet(tmp_path: Path, redis_url: str, journal: str, sb: Sandbox) -> Fleet:
    """Workers whose credentials file gives each shop the sandbox's V3 key (both shops
    are the sandbox's one shop: their keys differ, so each write is told apart)."""
    path = tmp_path / "credentials.json"
    entry = {"store_hash": sb.config.store_hash, "api_key": sb.config.api_key, "api_url": sb.url}
    path.write_text(json.dumps({shop: entry for shop in SHOPS}))
    path.chmod(0o600)
    return Fleet(tmp_path, redis_url, journal, sb, LIMIT, job_timeout=6.0, lease_seconds=6.0)


def order(shop: str, i: int) -> dict[str, Any]:
    """Even rows are upserts (the platform's order id); odd ones plain creates, keyed by
    the caller and tagged so the server's copies can be counted."""
    row: dict[str, Any] = {
        "account": shop,
        "customCustomerId": f"shop-{1 + i % 40}",  # the sandbox's customers
        "cart": {"lineItems": [{"sku": f"SKU-{i % 5}", "quantity": 1, "price": "10.00"}]},
    }
    if i % 2 == 0:
        row["customOrderId"] = f"{shop}-web-{i}"
    else:
        row["key"] = f"{shop}-pos-{i}"
        row["tags"] = [f"key:{shop}-pos-{i}"]
    return row


async def run_campaign(fleet: Fleet, path: Path, kind: str, total: int) -> dict[str, Any]:
    try:
        fleet.start_worker(None, "--max-jobs", "2")
        fleet.start_worker(None, "--max-jobs", "2")
        await fleet.wait_ready()
        done = await queue_campaign(path, fleet.journal, job_rows=10, kind=kind)
        assert done.rows == total
        return await wait_settled(fleet, total, within=120)
    finally:
        fleet.stop_all()


async def test_an_order_push_campaign_sends_each_order_once_through_lost_answers(
    tmp_path: Path, redis_url: str, pg_dsn: str
) -> None:
    n = 30
    lines = [order(shop, i) for i in range(n) for shop in SHOPS]
    bad = {"account": "shop-b", "key": "shop-b-bad", "cart": {}, "colour": "red"}
    path = tmp_path / "orders.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in [*lines, bad]))
    with Sandbox(process=True, faults=[f"drop_after:0.1@{ORDERS_ROUTE}"], fault_seed=7) as sb:
        fleet = stamped_fleet(tmp_path, redis_url, pg_dsn, sb)
        by = await run_campaign(fleet, path, "v3.orders.push", len(lines) + 1)
        orders = await sb.v3("orders")
        counters = await sb.counters()
    assert counters.get("fault:drop_after", 0) > 0, "no answer was lost: the test proved nothing"
    t = totals(by)
    # The bad row failed alone, by name (listed by the fleet: it never reached the
    # journal); every other row is applied or (a plain create whose answer was lost)
    # ambiguous, never sent twice.
    failed = await failed_rows(pg_dsn)
    assert [(f.account, f.key, "colour" in f.reason) for f in failed] == [
        ("shop-b", "shop-b-bad", True)
    ]
    assert t["applied"] + t["ambiguous"] == len(lines), by
    upserts = Counter(o["customOrderId"] for o in orders if o["customOrderId"])
    creates = Counter(t[4:] for o in orders for t in o["tags"] if t.startswith("key:"))
    given = Counter("customOrderId" in line for line in lines)
    # Every upsert on the server (one whose answer was lost is pushed again)...
    assert len(upserts) == given[True]
    # ...and a plain create at most once: all but the ambiguous ones for sure.
    assert set(creates.values()) == {1}, "a plain create was sent twice"
    assert given[False] - t["ambiguous"] <= len(creates) <= given[False]
    assert not re.search(r"shop-\d", fleet.logs()), "a worker logged a customer"


async def test_a_points_campaign_adjusts_each_key_at_most_once(
    tmp_path: Path, redis_url: str, pg_dsn: str
) -> None:
    n = 30
    path = tmp_path / "points.csv"
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["account", "key", "customer_id", "points", "reason"])
        for i in range(n):
            for shop in SHOPS:
                out.writerow([shop, f"{shop}-p-{i}", f"cus_{1 + i % 40:06d}", 5 + i, "bonus"])
        out.writerow(["shop-a", "shop-a-zero", "cus_000001", 0, "bonus"])  # fails alone
    with Sandbox(process=True, faults=[f"drop_after:0.1@{POINTS_ROUTE}"], fault_seed=3) as sb:
        fleet = stamped_fleet(tmp_path, redis_url, pg_dsn, sb)
        by = await run_campaign(fleet, path, "v3.points.adjust", 2 * n + 1)
        activities = await sb.v3("activities")
        counters = await sb.counters()
    assert counters.get("fault:drop_after", 0) > 0, "no answer was lost: the test proved nothing"
    titles = [(a.get("rule") or {}).get("title") or "" for a in activities]
    on_server = Counter(m.group(1) for t in titles if (m := _KEY.search(t)))
    t = totals(by)
    failed = await failed_rows(pg_dsn)
    assert [(f.account, f.key, "zero" in f.reason) for f in failed] == [
        ("shop-a", "shop-a-zero", True)
    ]
    assert t["applied"] + t["ambiguous"] == 2 * n, by
    assert set(on_server.values()) == {1}, "a points adjustment was applied twice"
    # Applied rows are on the server; an ambiguous one was dropped after the server
    # applied it (the sandbox drops only after applying), so every row is there once.
    assert len(on_server) == 2 * n
    assert t["ambiguous"] <= counters["fault:drop_after"]


async def test_a_v3_account_needs_a_stamped_store_hash_and_key(redis_url: str) -> None:
    settings = FleetSettings(
        redis_url=redis_url,
        journal="postgresql://127.0.0.1:1/none",
        credentials=lambda account: {"token": "a-stamps-token"},
    )
    state = FleetState(settings)
    try:
        assert (await state.credentials_of("shop-a"))["token"] == "a-stamps-token"
        with pytest.raises(ConfigurationError, match="no Stamped store_hash and api_key"):
            await state.credentials_of("shop-a", "stamped")
    finally:
        await state.throttles.aclose()
