"""The point-of-sale sections through the real transport against the sandbox, one
round trip per section, with the business rules the sandbox keeps."""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any

import aiohttp
import pytest

from stampsync._endpoint import ENDPOINTS, Endpoint
from stampsync.errors import AmbiguousWriteError, NotFoundError, ServerError, ValidationError
from stampsync.sandbox import Sandbox
from stampsync.stamps import (
    ActivityType,
    IssueVoucher,
    Item,
    MultipleRewardRedemption,
    Payment,
    RewardRedemption,
    TransactionStatus,
)
from stampsync.testing import no_backoff

WIB = dt.timezone(dt.timedelta(hours=7))
NOON = dt.datetime(2026, 3, 2, 12, 0, tzinfo=WIB)
USER = "member7@example.com"


async def stamps_of(sb: Sandbox, user: str) -> int:
    member = await sb.member(user)
    assert member is not None
    stamps: int = member["stamps"]
    return stamps


async def test_transactions_round_trip(stampsync_sandbox: Sandbox) -> None:
    sb = stampsync_sandbox
    before = await stamps_of(sb, USER)
    async with sb.stamps_client() as client:
        t = client.transactions
        added = await t.add(
            invoice_number="INV-1",
            total_value=55_000,
            number_of_people=2,
            created=NOON,
            user=USER,
            payments=[Payment(value=55_000, payment_method=10)],
        )
        assert added.transaction is not None
        assert added.transaction.stamps_earned == 5
        assert added.customer is not None
        assert added.customer.stamps_remaining == before + 5
        assert not added.recovered

        # An invoice is unique per store and day: the same store and day refuses it...
        with pytest.raises(ValidationError) as refused:
            await t.add(invoice_number="INV-1", total_value=1, number_of_people=1, created=NOON)
        assert "invoice_number" in refused.value.errors
        # ...another store, or another day, takes it.
        await t.add(
            invoice_number="INV-1", total_value=1, number_of_people=1, created=NOON, store=2
        )

        preview = await t.preview_earnings(
            total_value=40_000, items=[Item(product_name="Tea", quantity=1, stamps_subtotal=3)]
        )
        assert preview.stamps == 3

        # add-or-update completes the items once; they must sum to the value.
        with pytest.raises(ValidationError) as mismatch:
            await t.add_or_update(
                invoice_number="INV-1", items=[Item(product_name="Tea", quantity=1, subtotal=1)]
            )
        assert mismatch.value.error_code == "invalid_total_item_price"
        items = [Item(product_name="Tea", quantity=1, subtotal=55_000)]
        updated = await t.add_or_update(
            invoice_number="INV-1",
            items=items,
            created=NOON,
            total_value=55_000,
            number_of_people=2,
        )
        assert updated.transaction is not None
        assert updated.transaction.id == added.transaction.id
        with pytest.raises(ValidationError, match="already complete"):
            await t.add_or_update(invoice_number="INV-1", items=items)

        await t.add(
            invoice_number="INV-1",
            total_value=1,
            number_of_people=1,
            created=NOON + dt.timedelta(days=1),
        )
        tx_id = added.transaction.id
        assert tx_id is not None
        details = await t.details(transaction_id=tx_id)
        assert details.items is not None
        assert details.items[0].name == "Tea"
        assert details.status == "Created"

        modified = await t.modify(
            id=tx_id,
            total_value=-20_000,
            subtotal=-20_000,
            items=[Item(product_name="Tea", quantity=0)],
        )
        assert modified.transaction is not None
        assert modified.transaction.stamps_earned == 3

        page = await t.by_user(user=USER, start_date=NOON.date(), end_date=NOON.date())
        assert [x.invoice_number for x in page.transactions] == ["INV-1"]

        canceled = await t.cancel(invoice_number="INV-1", date=NOON.date())
        assert canceled.transaction is not None
        assert canceled.transaction.canceled
        again = await t.cancel(invoice_number="INV-1", date=NOON.date())  # idempotent
        assert again.membership is not None
        assert again.membership.stamps == before
        with pytest.raises(NotFoundError):
            await t.cancel(invoice_number="NOPE", date=NOON.date())
        with pytest.raises(NotFoundError):
            await t.details(transaction_id=1)

        # Open transactions (no customer) earn nobody stamps.
        open_tx = await t.add(
            invoice_number="OPEN-1", total_value=90_000, number_of_people=1, created=NOON
        )
        assert open_tx.customer is None
    recorded = {(x["invoice_number"], x["store"], x["day"]): x for x in await sb.transactions()}
    assert len(recorded) == 4
    assert recorded[("OPEN-1", 1, "2026-03-02")]["status"] == TransactionStatus.OPEN
    assert await stamps_of(sb, USER) == before + 0  # the other two earned nothing (value 1)


async def test_by_user_pages_are_an_async_iterator(stampsync_sandbox: Sandbox) -> None:
    sb = stampsync_sandbox
    async with sb.stamps_client() as client:
        for i in range(23):
            await client.transactions.add(
                invoice_number=f"P-{i}",
                total_value=10_000,
                number_of_people=1,
                created=NOON,
                user=USER,
            )
        pages = client.transactions.all_by_user(user=USER, prefetch=1)
        seen = [x.invoice_number async for x in pages]
    assert seen == [f"P-{i}" for i in reversed(range(23))]
    assert pages.pages == 3  # 10 + 10 + 3


async def test_redemptions_round_trip(stampsync_sandbox: Sandbox) -> None:
    sb = stampsync_sandbox
    async with sb.stamps_client() as client:
        await client.transactions.add(
            invoice_number="R-1",
            total_value=2_000_000,
            number_of_people=1,
            created=NOON,
            user=USER,
        )
        start = await stamps_of(sb, USER)
        r = client.redemptions
        reward = await client.rewards.details("RW001")
        assert reward.stamps_to_redeem is not None
        redeemed = await r.redeem_reward(user=USER, reward=1)
        assert redeemed.redemption is not None
        assert redeemed.redemption.stamps_used == 12
        assert await stamps_of(sb, USER) == start - reward.stamps_to_redeem
        # A voucher-type reward (every tenth) issues a voucher.
        with_voucher = await r.redeem_reward(user=USER, reward=10)
        assert with_voucher.voucher is not None
        assert with_voucher.voucher.code
        canceled = await r.cancel(id=redeemed.redemption.id or 0)
        assert canceled.redemption is not None
        assert canceled.redemption.status == "Canceled"
        again = await r.cancel(id=redeemed.redemption.id or 0)
        assert again.customer is not None
        # Reward 1 came back with the cancel; reward 10 (5 + 70 % 50 stamps) stays spent.
        assert again.customer.stamps_remaining == start - 25
        multiple = await r.redeem_multiple_rewards(
            user=USER,
            rewards=[
                MultipleRewardRedemption(code="RW002"),
                MultipleRewardRedemption(code=5, stamps=3),
            ],
        )
        assert multiple.redemption is not None
        with pytest.raises(ValidationError) as poor:
            await r.redeem_reward(user="member8@example.com", reward=9, qty=50)
        assert poor.value.error_code == "insufficient_stamps"
        promo = await r.redeem_promo_code(user=USER, promo_code="PROMO10", invoice_number="R-1")
        assert promo.user is not None
        assert promo.user.email == USER
        with pytest.raises(ValidationError) as wrong:
            await r.authorize(user=USER, pin="000000", request_id="q-1", timeout=60)
        assert wrong.value.error_code == "invalid_pin"
        assert "2 attempt" in str(wrong.value)
        assert (await r.authorize(user=USER, pin="123456", request_id="q-1", timeout=60)).ok
        code = with_voucher.voucher.code
        assert code is not None
        by_code = await r.by_voucher_code(identifier=USER, voucher_code=code, voucher_template=3)
        assert by_code.redemption is not None
        assert by_code.redemption.status == "Created"
        with pytest.raises(ValidationError):  # used up
            await r.by_voucher_code(identifier=USER, voucher_code=code, voucher_template=3)


async def test_vouchers_round_trip(stampsync_sandbox: Sandbox) -> None:
    sb = stampsync_sandbox
    async with sb.stamps_client() as client:
        v = client.vouchers
        fixed = await v.issue(user=USER, voucher_template=1, start_date=NOON.date(), quantity=2)
        gift = await v.issue(
            user=USER, voucher_template=2, start_date=NOON.date(), quantity=1, value=100_000
        )
        with pytest.raises(ValidationError):
            await v.issue(user=USER, voucher_template=2, start_date=NOON.date(), quantity=1)
        assert await v.count_by_merchant_group(user=USER) == 2
        listed = await v.by_merchant_group(user=USER)
        codes = [x.code for x in listed.vouchers]
        assert len(codes) == 2
        assert all(codes)
        first = listed.vouchers[0]
        assert first.code is not None
        checked = await v.validate(voucher_code=first.code, user=USER)
        assert checked.is_redeemable
        with pytest.raises(ValidationError) as other:
            await v.validate(voucher_code=first.code, user="member8@example.com")
        assert other.value.error_code == "invalid_voucher_owner"
        details = await v.details(user=USER, code=first.code)
        assert details.quantity == 2
        await client.redemptions.redeem_voucher(user=USER, voucher=fixed.voucher.id or 0)
        await client.redemptions.redeem_voucher(user=USER, voucher=fixed.voucher.id or 0)
        with pytest.raises(ValidationError):
            await client.redemptions.redeem_voucher(user=USER, voucher=fixed.voucher.id or 0)
        await v.deduct_value(user=USER, voucher=gift.voucher.id or 0, value=40_000)
        with pytest.raises(ValidationError):
            await v.deduct_value(user=USER, voucher=gift.voucher.id or 0, value=70_000)
        assert await v.count_by_merchant_group(user=USER) == 1


async def test_rewards_keyset_pages(stampsync_sandbox: Sandbox) -> None:
    async with stampsync_sandbox.stamps_client() as client:
        page = await client.rewards.list(user=USER, per_page=7)
        assert [r.id for r in page.rewards] == list(range(1, 8))
        assert page.customer is not None
        nxt = await client.rewards.list(last_reward_id=7, per_page=7)
        assert nxt.rewards[0].id == 8
        async with client.rewards.all(per_page=7, prefetch=2) as every:
            ids = [r.id async for r in every]
        assert ids == list(range(1, 61))
        group = [r.id async for r in client.rewards.all_by_merchant_group(per_page=25, type=4)]
        assert group == [10, 20, 30, 40, 50, 60]
        with pytest.raises(NotFoundError):
            await client.rewards.details("NOPE")


async def test_balances_stores_merchants(stampsync_sandbox: Sandbox) -> None:
    async with stampsync_sandbox.stamps_client() as client:
        b = client.balances
        credited = await b.credit(user=USER, amount=1000)
        assert credited.customer is not None
        assert credited.customer.balance == 1000
        debited = await b.debit(user=USER, amount=300)
        assert debited.customer is not None
        assert debited.customer.balance == 700
        with pytest.raises(ValidationError):
            await b.debit(user=USER, amount=5000)
        undone = await b.cancel(id=debited.balance_update.id)
        assert undone.balance_update.status == "Canceled"
        assert undone.customer is not None
        assert undone.customer.balance == 1000
        again = await b.cancel(id=debited.balance_update.id)
        assert again.customer is not None
        assert again.customer.balance == 1000

        store = await client.stores.add_or_update(
            name="s", display_name="S", code="S-1", address="Jl. 1", area="Jakarta", is_active=True
        )
        same = await client.stores.add_or_update(
            name="s2", display_name="S", code="S-1", address="Jl. 1", area="Bali", is_active=False
        )
        assert store.store.id == same.store.id
        assert same.store.area == "Bali"
        new_store = int(str(store.store.id))
        added = await client.transactions.add(
            invoice_number="X", total_value=1, number_of_people=1, created=NOON, store=new_store
        )
        assert added.transaction is not None
        ok = await client.merchants.add_or_update_payment_method(
            code="QRIS", name="QRIS", eligible_for_points=True
        )
        assert ok.ok


async def test_activities_journals_and_auth(stampsync_sandbox: Sandbox) -> None:
    sb = stampsync_sandbox
    async with sb.stamps_client() as client:
        for i in range(25):
            await client.transactions.add(
                invoice_number=f"A-{i}",
                total_value=20_000,
                number_of_people=1,
                created=NOON,
                user=USER,
            )
        await client.balances.credit(user=USER, amount=5)
        first = await client.activities.list(user=USER)
        assert len(first.activities) == 20
        assert first.activities[0].type is ActivityType.CHANGE_BALANCE
        every = [a async for a in client.activities.all(user=USER)]
        assert len(every) == 26
        assert len({a.id for a in every}) == 26
        group = await client.activities.by_merchant_group(user=USER, merchant_id=[0])
        assert group.activities
        journals = await client.expiration_journals.list(user=USER)
        assert sum(j.stamps_to_expire or 0 for j in journals) == 50
        assert (
            await client.expiration_journals.list(user=USER, minimum_expiration_date="2099-01-01")
            == []
        )
        with no_backoff():
            with pytest.raises(ServerError):
                await client.testing.error_500()
            with pytest.raises(ValidationError):
                await client.testing.error_400()
        with pytest.raises(ValidationError):  # a static token is no JWT
            await client.auth.verify_token()
    async with sb.stamps_client(jwt=True) as jwt_client:
        claims = await jwt_client.auth.verify_token()
        assert claims.merchant_id == sb.config.merchant
        assert claims.token_type == "access"


async def test_with_redemptions_in_one_call(stampsync_sandbox: Sandbox) -> None:
    sb = stampsync_sandbox
    before = await stamps_of(sb, USER)
    async with sb.stamps_client() as client:
        result = await client.transactions.add_with_redemptions(
            invoice_number="W-1",
            total_value=500_000,
            number_of_people=1,
            created=NOON,
            user=USER,
            reward_redemptions=[RewardRedemption(request_id="a", reward="RW001")],
            issue_voucher=IssueVoucher(template_id=1),
        )
        assert result.issued_voucher is not None
        assert result.issued_voucher.code
        assert result.membership is not None
        assert result.membership.stamps == before + 50 - 12
        with contextlib.suppress(ValidationError):
            await client.transactions.add_with_redemptions(
                invoice_number="W-1", total_value=1, number_of_people=1, created=NOON
            )
    assert len(await sb.transactions()) == 1


ADD_ROUTE = "POST /api/v2/transactions/add"


async def test_a_dropped_answer_is_resolved_by_the_invoice(stampsync_sandbox: Sandbox) -> None:
    sb = stampsync_sandbox
    await sb.set_faults(f"drop_after:1@{ADD_ROUTE}")
    async with sb.stamps_client() as client:
        found = await client.transactions.add(
            invoice_number="D-1", total_value=30_000, number_of_people=1, created=NOON, user=USER
        )
        assert found.recovered
        assert found.transaction is not None
        assert found.transaction.stamps_earned == 3
        # An open transaction applied with its items: the upsert can only answer
        # "already complete", which does not say whose sale it is. Not proof.
        with pytest.raises(AmbiguousWriteError, match="already complete"):
            await client.transactions.add(
                invoice_number="D-2",
                total_value=30_000,
                number_of_people=1,
                created=NOON,
                items=[Item(product_name="Tea", quantity=1, subtotal=30_000)],
            )
        # Cut before the server applied it: the upsert adds it, and its details (store,
        # instant, value, no customer) prove it is this sale.
        await sb.set_faults(f"drop_before:1@{ADD_ROUTE}")
        open_cut = await client.transactions.add(
            invoice_number="D-3",
            total_value=30_000,
            number_of_people=1,
            created=NOON,
            items=[Item(product_name="Tea", quantity=1, subtotal=30_000)],
        )
        assert open_cut.recovered
    counters = await sb.counters()
    assert (counters["fault:drop_after"], counters["fault:drop_before"]) == (2, 1)
    assert sorted(x["invoice_number"] for x in await sb.transactions()) == ["D-1", "D-2", "D-3"]


def pos_endpoints() -> list[Endpoint[Any]]:
    import sys

    names = (
        "transactions",
        "redemptions",
        "rewards",
        "vouchers",
        "balances",
        "stores",
        "activities",
        "diagnostics",
    )
    found = []
    for e in ENDPOINTS:
        if any(e in vars(sys.modules[f"stampsync.stamps.{n}"]).values() for n in names):
            found.append(e)
    return found


async def test_fault_injection_works_on_every_pos_route(stampsync_sandbox: Sandbox) -> None:
    sb = stampsync_sandbox
    endpoints = pos_endpoints()
    assert len(endpoints) == 34
    headers = {"Authorization": f"Token {sb.config.stamps_token}"}
    async with aiohttp.ClientSession() as session:
        for endpoint in endpoints:
            path = endpoint.path.replace("{reward_code}", "RW001")
            await sb.set_faults(f"503:1@{endpoint.method} {path}")
            async with session.request(
                endpoint.method, sb.url + path, headers=headers, json={}
            ) as answer:
                assert answer.status == 503, endpoint
                assert (await answer.json())["detail"] == "Injected 503"
    await sb.set_faults()
    assert (await sb.counters())["fault:503"] == 34
