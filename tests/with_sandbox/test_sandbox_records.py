"""The sandbox's inspection helpers answer exactly what their TypedDicts say.

A few operations of each API run against a sandbox; then every record each helper
returns is held against its type: every required key there, no key the type does not
declare, each value of its declared type, nested records likewise. Across the records,
every key a type declares must have been seen at least once, so a type cannot promise a
key the sandbox never sends.
"""

from __future__ import annotations

import datetime as dt
import types
import typing
from typing import Any

from stampsync.sandbox import Sandbox, records


def _is_scalar_of(value: object, tp: Any) -> bool:
    options = typing.get_args(tp) if isinstance(tp, types.UnionType) else (tp,)
    for option in options:
        if option is Any:
            return True
        origin = typing.get_origin(option) or option
        if value is None and option is type(None):
            return True
        if isinstance(value, bool):
            if origin is bool:
                return True
            continue
        if origin is float and isinstance(value, int | float):
            return True  # JSON has one number type
        if origin in (str, int, dict, list) and isinstance(value, origin):
            return True
    return False


def declared_keys(tp: Any) -> frozenset[str]:
    keys: frozenset[str] = tp.__required_keys__ | tp.__optional_keys__
    return keys


def check(value: object, tp: Any, where: str, seen: dict[type, set[str]]) -> None:
    """``value`` is of type ``tp``; the keys of each TypedDict met are added to ``seen``."""
    if typing.is_typeddict(tp):
        assert isinstance(value, dict), f"{where}: {value!r} is not a dict"
        keys = set(value)
        required: frozenset[str] = tp.__required_keys__
        optional: frozenset[str] = tp.__optional_keys__
        assert required <= keys, f"{where}: {tp.__name__} misses {sorted(required - keys)}"
        extra = keys - required - optional
        assert not extra, f"{where}: keys not in {tp.__name__}: {sorted(extra)}"
        seen.setdefault(tp, set()).update(keys)
        hints = typing.get_type_hints(tp)
        for key in keys:
            check(value[key], hints[key], f"{where}.{key}", seen)
    elif typing.get_origin(tp) is list and not isinstance(tp, types.UnionType):
        assert isinstance(value, list), f"{where}: {value!r} is not a list"
        (item,) = typing.get_args(tp)
        for i, v in enumerate(value):
            check(v, item, f"{where}[{i}]", seen)
    else:
        assert _is_scalar_of(value, tp), f"{where}: {value!r} is not {tp}"


def every_record_type() -> set[type]:
    found = set()
    for name in records.__all__:
        tp = getattr(records, name)
        if typing.is_typeddict(tp):
            found.add(tp)
    return found


async def test_every_record_the_sandbox_answers_has_exactly_its_types_keys() -> None:
    async with Sandbox(customers=20, members=20) as sb:
        # Stamps: awards (one canceled), a deduction, a tag, sales with and without a member.
        async with sb.stamps_client() as sp:
            added = await sp.stamps.add(user="member1@example.com", number_of_stamps=3, notes="a")
            await sp.stamps.add(user="member2@example.com", number_of_stamps=1)
            await sp.stamps.cancel(user="member1@example.com", award_id=added.award.id)
            await sp.stamps.deduct(user="member1@example.com", stamps=1, notes="d")
            await sp.memberships.add_tag(user="member1@example.com", key="tier", value="vip")
            created = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)
            await sp.transactions.add(
                invoice_number="INV-1",
                total_value=50_000,
                number_of_people=1,
                created=created,
                user="member3@example.com",
            )
            await sp.transactions.add(
                invoice_number="INV-2", total_value=20_000, number_of_people=2, created=created
            )
        async with sb.stamped_client() as st:
            # Stamped V2: a customer created with every writable field.
            await st.customers.create(
                email="new@shop.co",
                first_name="Nia",
                last_name="Putri",
                customer_id="plat-1",
                tags=["vip"],
                points=10,
                points_expiry="2027-01-01",
                tier="Gold",
                total_spend=12.5,
                total_orders=2,
            )
            # Stamped V3: every writable field once, a deletion of each kind, points,
            # a tier, an order's purchase, a redeemed and a voided reward.
            v3 = st.v3
            made = await v3.customers.create(
                email="v3@shop.co",
                custom_customer_id="v3-1",
                first_name="Ayu",
                last_name="Sari",
                date_of_birth="1990-01-02",
                date_platform_updated="2026-01-01T00:00:00Z",
                tags=["b2b"],
                addresses=[{"city": "Jakarta", "countryCode": "ID"}],
            )
            gone = await v3.customers.create(custom_customer_id="v3-2")
            await v3.customers.delete(gone.customer_id)
            await v3.loyalty.adjust_points(made.customer_id, points=900, reason="welcome")
            await v3.loyalty.adjust_vip_tier(made.customer_id, tier_name="Gold")
            await v3.loyalty.redeem_reward(made.customer_id, "reward-5-off")
            cart = {"lineItems": [{"sku": "MUG", "price": "10.00"}], "shopPriceTotal": "10.00"}
            order = await v3.orders.create(
                custom_order_id="o-1", customer_id="cus_000001", cart=cart
            )
            await v3.orders.update(order.order_id, fulfillment_status="fulfilled")
            plain = await v3.orders.create(customer_id="cus_000002", cart=cart)
            await v3.orders.delete(plain.order_id)
            await v3.products.create(
                custom_product_id="mug-1",
                published_scope="web",
                status="active",
                title="Mug",
                html_product_description="<p>A mug</p>",
                vendor="Acme",
                type="kitchen",
                handle="mug",
                date_published="2026-01-01",
                date_platform_updated="2026-01-01",
                tags=["kitchen"],
                variants=[{"customVariantId": "mug-1-blue", "price": "9.50"}],
                images=[{"urlSrc": "https://img.example/mug.png"}],
            )
            cup = await v3.products.create(custom_product_id="cup-1", title="Cup")
            await v3.products.delete(cup.product_id)
        [reward] = await sb.v3("rewards")
        async with sb.stamped_client() as st:
            await st.v3.loyalty.void_coupon(made.customer_id, reward["couponCode"])

        seen: dict[type, set[str]] = {}
        check(await sb.requests(), list[records.RequestRecord], "requests", seen)
        check(await sb.awards(), list[records.AwardRecord], "awards", seen)
        check(await sb.deductions(), list[records.DeductionRecord], "deductions", seen)
        check(await sb.transactions(), list[records.TransactionRecord], "transactions", seen)
        for ref in ("member1@example.com", "member3@example.com"):
            check(await sb.member(ref), records.MemberRecord, f"member {ref}", seen)
        for email in ("new@shop.co", "customer1@example.com"):
            check(await sb.customer(email), records.CustomerRecord, f"customer {email}", seen)
        check(await sb.v3("customers"), list[records.V3CustomerRecord], "v3 customers", seen)
        check(await sb.v3("orders"), list[records.V3OrderRecord], "v3 orders", seen)
        check(await sb.v3("products"), list[records.V3ProductRecord], "v3 products", seen)
        check(await sb.v3("activities"), list[records.V3ActivityRecord], "v3 activities", seen)
        check(await sb.v3("rewards"), list[records.V3RewardRecord], "v3 rewards", seen)

    assert set(seen) == every_record_type()
    for tp, keys in seen.items():
        declared = declared_keys(tp)
        assert keys == declared, f"{tp.__name__} declares keys never sent: {declared - keys}"
