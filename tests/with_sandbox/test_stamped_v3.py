"""Stamped V3 through the real transport, against the sandbox: every section."""

from __future__ import annotations

import asyncio
import logging

import pytest

from stampsync import StampedClient
from stampsync.errors import AuthenticationError, NotFoundError, RateLimitError, ValidationError
from stampsync.sandbox import Sandbox
from stampsync.testing import max_in_window

CART = {
    "lineItems": [{"sku": "MUG", "quantity": "2", "price": "60.00"}],
    "shopPriceTotal": "120.00",
    "shopCurrency": "USD",
}


async def test_loyalty_round_trip(stampsync_sandbox: Sandbox) -> None:
    sb = stampsync_sandbox
    async with sb.stamped_client() as st:
        loyalty = st.v3.loyalty
        start = await st.v3.customers.get("cus_000001")
        before = start.points

        added = await loyalty.adjust_points("cus_000001", points=1000, reason="welcome")
        assert added.activity is not None
        assert added.activity.points_credit == 1000
        assert added.rule is not None
        assert added.rule.title == "welcome"
        taken = await loyalty.adjust_points("cus_000001", points=-100)
        assert taken.activity is not None
        assert taken.activity.points_debit == 100
        # Past the client's max_stamps guard on purpose: the server's answer is the test.
        big = st.with_options(max_stamps=10**10).v3.loyalty
        with pytest.raises(ValidationError, match="Insufficient"):
            await big.adjust_points("cus_000001", points=-(10**9))
        with pytest.raises(NotFoundError):
            await loyalty.adjust_points("cus_nobody", points=1)

        tiered = await loyalty.adjust_vip_tier("cus_000001", tier_name="Platinum")
        assert tiered.customer_id == "cus_000001"
        with pytest.raises(ValidationError):
            await loyalty.adjust_vip_tier("cus_000001", tier_name="Diamond")

        custom = await loyalty.create_custom_activity(
            email="customer2@example.com", campaign_id="campaign-survey"
        )
        assert (custom.customer_id, custom.points_added) == ("cus_000002", 50)
        fired = await loyalty.trigger_activity("cus_000001", rule_id="rule-review")
        assert fired.points_added == 200

        redeemed = await loyalty.redeem_reward("cus_000001", "reward-5-off")
        assert redeemed.activity is not None
        assert redeemed.activity.points_debit == 500
        now = await st.v3.customers.get("cus_000001")
        assert now.activity is not None
        assert now.activity.vip_tier == "Platinum"
        assert now.points == before + 1000 - 100 + 200 - 500

        rewards = [r async for r in loyalty.list_rewards(limit=2)]
        assert len(rewards) == 1
        coupon = rewards[0].coupon_code
        assert coupon
        assert rewards[0].status == "active"
        voided = await loyalty.void_coupon("cus_000001", coupon)
        assert voided.status == "voided"
        again = await loyalty.void_coupon("cus_000001", coupon)  # idempotent
        assert again.status == "voided"
        with pytest.raises(NotFoundError):
            await loyalty.void_coupon("cus_000001", "NO-SUCH-CODE")

        activities = [a async for a in loyalty.list_activities(limit=2, prefetch=2)]
        assert [a.rule.title for a in activities if a.rule] == [
            "welcome",
            "Points adjusted",
            "Tier Platinum",
            "Answered a survey",
            "Wrote a review",
            "$5 off",
        ]
        page = await loyalty.filter_activities(page=1, limit=4)
        assert (page.page, page.more_pages, len(page.activities)) == (1, False, 2)


async def test_customers_round_trip(stampsync_sandbox: Sandbox) -> None:
    async with stampsync_sandbox.stamped_client() as st:
        customers = st.v3.customers
        everyone = [c async for c in customers.list(limit=7)]
        assert len(everyone) == 40
        assert len({c.customer_id for c in everyone}) == 40
        gold = [c async for c in customers.list(vip_tier="Gold", points_min=600)]
        assert gold
        for c in gold:
            assert c.activity is not None
            assert c.activity.vip_tier == "Gold"
            assert c.points >= 600

        made = await customers.create(
            email="nia@shop.co",
            custom_customer_id="plat-9",
            first_name="Nia",
            tags=["vip"],
            addresses=[{"city": "Bandung", "countryCode": "ID"}],
        )
        assert made.customer_id
        again = await customers.create(custom_customer_id="plat-9", last_name="Putri")
        assert again.customer_id == made.customer_id  # an upsert by the platform's id
        assert (again.first_name, again.last_name) == ("Nia", "Putri")
        assert again.addresses is not None
        assert again.addresses[0].city == "Bandung"

        found = await customers.lookup(custom_customer_id="plat-9")
        assert found.customer_id == made.customer_id
        by_email = [c async for c in customers.list(email="nia@", tags=["vip"])]
        assert [c.customer_id for c in by_email] == [made.customer_id]
        assert [c async for c in customers.list(email="nia@", tags=["other"])] == []

        changed = await customers.update(made.customer_id, first_name="Nina")
        assert changed.first_name == "Nina"
        gone = await customers.delete(made.customer_id)
        assert gone.soft_delete is True
        with pytest.raises(NotFoundError):
            await customers.get(made.customer_id)
        with pytest.raises(NotFoundError):
            await customers.lookup(email="nia@shop.co")


async def test_orders_round_trip(stampsync_sandbox: Sandbox) -> None:
    async with stampsync_sandbox.stamped_client() as st:
        orders = st.v3.orders
        first = await orders.create(
            custom_order_id="web-1001", custom_customer_id="shop-3", cart=CART, tags=["web"]
        )
        assert first.customer_id == "cus_000003"
        assert first.cart_states is not None
        assert first.cart_states[0].shop_price_total == 120.0  # sent as "120.00"
        repeat = await orders.create(
            custom_order_id="web-1001", custom_customer_id="shop-3", cart=CART
        )
        assert repeat.order_id == first.order_id
        other = await orders.create(customer_id="cus_000004", cart=CART)
        assert other.order_id != first.order_id
        with pytest.raises(NotFoundError):
            await orders.create(custom_customer_id="no-such", cart=CART)

        listed = [o.order_id async for o in orders.list(limit=1)]
        assert listed == [first.order_id, other.order_id]
        assert (await orders.lookup(custom_order_id="web-1001")).order_id == first.order_id
        fulfilled = await orders.update(first.order_id, fulfillment_status="fulfilled")
        assert fulfilled.cart_states is not None
        assert fulfilled.cart_states[-1].fulfillment_status == "fulfilled"
        assert (await orders.get(first.order_id)).order_entries is not None
        assert (await orders.delete(other.order_id)).soft_delete is True
        assert [o.order_id async for o in orders.list()] == [first.order_id]

        # The order earned its points once, for all its pushes.
        log = await stampsync_sandbox.v3("activities")
        purchases = [a for a in log if a["rule"]["category"] == "purchase"]
        assert [a["activity"]["pointsCredit"] for a in purchases] == [120, 120]
        writes = {o["customOrderId"]: o["writes"] for o in await stampsync_sandbox.v3("orders")}
        assert writes["web-1001"] == 2


async def test_products_round_trip(stampsync_sandbox: Sandbox) -> None:
    async with stampsync_sandbox.stamped_client() as st:
        products = st.v3.products
        mug = await products.create(
            custom_product_id="mug-1",
            title="Mug",
            vendor="Acme",
            status="active",
            tags=["kitchen"],
            variants=[{"customVariantId": "mug-1-blue", "price": "9.50"}],
        )
        await products.create(custom_product_id="mug-1", title="Blue mug")
        cup = await products.create(custom_product_id="cup-1", title="Cup", vendor="Other")
        assert mug.variants is not None
        assert mug.variants[0].price == 9.5  # sent as "9.50"
        acme = [p async for p in products.list(vendor="Acme")]
        assert [(p.product_id, p.title) for p in acme] == [(mug.product_id, "Blue mug")]
        assert (await products.lookup(custom_product_id="cup-1")).product_id == cup.product_id
        assert (await products.update(cup.product_id, status="draft")).status == "draft"
        assert (await products.get(cup.product_id)).status == "draft"
        await products.delete(cup.product_id)
        assert [p.product_id async for p in products.list()] == [mug.product_id]


async def test_a_wrong_key_is_refused_as_the_reference_says(stampsync_sandbox: Sandbox) -> None:
    c = stampsync_sandbox.config
    async with StampedClient(
        store_hash=c.store_hash, api_key="wrong-key-123", api_url=stampsync_sandbox.url
    ) as st:
        with pytest.raises(AuthenticationError):
            await st.v3.orders.get("x")
        # The loyalty reference answers a 400 it labels "Unauthorized".
        with pytest.raises(ValidationError, match="Unauthorized"):
            await st.v3.loyalty.adjust_points("cus_000001", points=1)


async def test_the_key_never_reaches_a_log_at_debug(
    stampsync_sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger: stampsync, aiohttp, asyncio
    key = stampsync_sandbox.config.api_key
    async with stampsync_sandbox.stamped_client() as st:
        await st.v3.loyalty.adjust_points("cus_000001", points=5)
        [a async for a in st.v3.loyalty.list_activities()]
        with pytest.raises(NotFoundError):
            await st.v3.customers.get("nobody")
        logging.getLogger("stampsync").debug("client %r, v3 %r", st, st.v3)
    assert caplog.records
    assert any("/api/v3/" in r.getMessage() for r in caplog.records)
    assert not [r for r in caplog.records if key in r.getMessage()]


@pytest.mark.stampsync_sandbox(limit=5, seconds=30)
async def test_v2_and_v3_count_against_one_store_quota(stampsync_sandbox: Sandbox) -> None:
    async with stampsync_sandbox.stamped_client(throttle_limit=100, max_retries=0) as st:
        for _ in range(2):
            await st.customers.get(1)
            await st.v3.customers.get("cus_000001")
        await st.customers.get(1)
        with pytest.raises(RateLimitError):  # the sixth request, a V3 one, meets the limit
            await st.v3.customers.get("cus_000001")
    counters = await stampsync_sandbox.counters()
    assert (counters["ok"], counters["rate_limited"]) == (5, 1)


async def test_v2_and_v3_calls_share_the_clients_throttle() -> None:
    """The client's own throttle paces V3 calls with V2 ones: with both kinds at once
    through a limit of 3 per second, a strict sandbox in its own process never sees a
    fourth start in a second (V3 calls that skipped the throttle made it 6)."""
    limit, seconds = 3, 1.0
    async with Sandbox(process=True, limit=limit, seconds=seconds) as sb:
        async with sb.stamped_client(
            throttle_limit=limit,
            throttle_seconds=seconds,
            concurrent_connections=6,
            max_retries=0,
        ) as st:
            v2 = [st.customers.get(1) for _ in range(5)]
            v3 = [st.v3.customers.get("cus_000001") for _ in range(5)]
            await asyncio.gather(*v2, *v3)
        arrivals = await sb.arrivals()
        paths = [r["path"] for r in await sb.requests()]
        counters = await sb.counters()
    assert len(arrivals) == 10
    assert sum("/api/v3/" in p for p in paths) == 5
    assert counters.get("rate_limited", 0) == 0
    assert max_in_window(arrivals, seconds) <= limit
