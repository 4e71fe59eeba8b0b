"""Every client method of both APIs, through the real transport, against the sandbox."""

from __future__ import annotations

import pytest

from stampsync.errors import NotFoundError, ValidationError
from stampsync.sandbox import Sandbox
from stampsync.stamps import Gender, OtpChannel


async def test_stamped_customers_round_trip(stampsync_sandbox: Sandbox) -> None:
    sb = stampsync_sandbox
    async with sb.stamped_client() as st:
        page = await st.customers.list(page=1, limit=10)
        assert page.total == 1000
        assert [c.id for c in page.items] == list(range(1, 11))
        guide = await st.customers.list_customers(page=1, limit=10)
        assert [c.id for c in guide.items] == [c.id for c in page.items]
        one = await st.customers.get(7)
        assert one.email == "customer7@example.com"

        created = await st.customers.create(email="new@shop.co", first_name="Nia", tags=["a"])
        assert created.id == 1001
        assert created.id is not None
        assert (await st.customers.get(created.id)).first_name == "Nia"
        with pytest.raises(ValidationError) as info:
            await st.customers.create(email="new@shop.co")
        assert "email" in info.value.errors

        updated = await st.customers.update(created.id, last_name="Putri")
        assert updated.last_name == "Putri"
        upserted = await st.customers.upsert(email="new@shop.co", first_name="Nina")
        assert (upserted.id, upserted.first_name) == (1001, "Nina")
        fresh = await st.customers.upsert(email="other@shop.co")
        assert fresh.id == 1002
        by_email = await st.customers.get_by_email("customer7@example.com")
        assert by_email.id == 7

        pts = await st.customers.adjust_points(email="new@shop.co", points=50, action="add")
        assert pts.points == 50
        pts = await st.customers.adjust_points(email="new@shop.co", points=20, action="subtract")
        assert pts.points == 30
        pts = await st.customers.adjust_points(email="new@shop.co", points=5, action="set")
        assert pts.points == 5

        deleted = await st.customers.delete("customer7@example.com")
        assert deleted.success
        with pytest.raises(NotFoundError):
            await st.customers.get(7)
        assert (await st.customers.list(page=1, limit=10)).total == 1001

        ids = [c.id async for c in st.customers.export(page_size=100)]
        assert len(ids) == 1001
        assert 7 not in ids
        assert ids[-2:] == [1001, 1002]


async def test_stamped_subscriptions_loyalty_reviews(stampsync_sandbox: Sandbox) -> None:
    sb = stampsync_sandbox
    async with sb.stamped_client() as st:
        await st.subscriptions.unsubscribe(email="customer3@example.com")
        assert (await sb.customer("customer3@example.com"))["subscribed"] is False  # type: ignore[index]
        await st.subscriptions.subscribe(email="customer3@example.com")
        assert (await sb.customer("customer3@example.com"))["subscribed"] is True  # type: ignore[index]

        before = (await st.customers.get_by_email("customer3@example.com")).points or 0
        txn = await st.loyalty.create_transaction(
            email="customer3@example.com", type="custom", points=25, note="bonus"
        )
        assert txn.transaction_id
        after = (await st.customers.get_by_email("customer3@example.com")).points
        assert after == before + 25
        tiers = await st.loyalty.tiers()
        assert [t.name for t in tiers.tiers][:2] == ["Bronze", "Silver"]

        mine = await st.reviews.list(email="customer3@example.com")
        assert mine.total == 1
        assert mine.items[0].email == "customer3@example.com"
        all_reviews = [r.key async for r in st.reviews.export(page_size=100)]
        assert len(all_reviews) == 1000
        assert len(set(all_reviews)) == 1000


async def test_stamps_round_trip(stampsync_sandbox: Sandbox) -> None:
    sb = stampsync_sandbox
    async with sb.stamps_client() as sp:
        start = (await sp.memberships.details(user="member5@example.com")).membership
        assert start is not None
        added = await sp.stamps.add(
            user="member5@example.com", number_of_stamps=10, notes="order 1"
        )
        assert added.customer is not None
        assert added.customer.stamps == (start.stamps or 0) + 10
        cancelled = await sp.stamps.cancel(user="member5@example.com", award_id=added.award.id)
        assert cancelled.award.status == "Canceled"
        assert cancelled.customer is not None
        assert cancelled.customer.stamps == start.stamps
        again = await sp.stamps.cancel(user="member5@example.com", award_id=added.award.id)
        assert again.customer is not None
        assert again.customer.stamps == start.stamps  # cancelling twice changes nothing

        await sp.stamps.add(user="RR00000005", number_of_stamps=3)
        deducted = await sp.stamps.deduct(user=5, stamps=2, notes="redeemed")
        assert deducted.membership is not None
        assert deducted.membership.stamps == (start.stamps or 0) + 1
        with pytest.raises(ValidationError) as info:
            await sp.stamps.deduct(user=5, stamps=10_000, notes="too many")
        assert "stamps" in info.value.errors

        details = await sp.memberships.details(user="+628110000005", verbose=True)
        assert details.user is not None
        assert details.user.email == "member5@example.com"
        sugg = await sp.memberships.suggestions(query="member5@")
        assert any(s.id == 5 for s in sugg.suggestions)

        user = await sp.memberships.register(
            name="Rina",
            email="rina@x.co",
            mobile_number="+62812000001",
            gender=Gender.FEMALE,
            birthday="1990-01-02",
        )
        assert user.email == "rina@x.co"
        assert user.membership is not None
        with pytest.raises(ValidationError) as used:
            await sp.memberships.register(name="Rina", email="rina@x.co", mobile_number="+1")
        assert used.value.error_code == "email_already_used"

        changed = await sp.memberships.change_profile(user=5, name="New Name", gender="male")
        assert changed.name == "New Name"
        full = await sp.memberships.full_profile(user=5)
        assert full.user is not None
        assert full.user.name == "New Name"
        req = await sp.memberships.upgrade_requirement(user=5)
        assert req.upgrade_requirement is not None

        tagged = await sp.memberships.add_tag(user=5, key="category", value="vvip")
        assert tagged.tags == ["vvip"]
        assert (await sp.memberships.remove_tag(user=5, key="category", value="vvip")).ok
        assert (await sb.member(5))["tags"] == []  # type: ignore[index]

        assert (await sp.memberships.set_level(user=5, level=200)).ok
        with pytest.raises(ValidationError) as down:
            await sp.memberships.set_level(user=5, level=100, upgrade_only=True)
        assert down.value.error_code == "downgrade_not_allowed"
        with pytest.raises(ValidationError) as nobody:
            await sp.memberships.set_level(user="nobody@x.co", level=1)
        assert nobody.value.error_code == "user_has_no_membership"

        partial = await sp.memberships.partial_registration(user="p1@x.co")
        assert partial.user is not None
        assert partial.user.primary_membership_id

        assert (await sp.memberships.set_pending_anonymization(identifier=6)).ok
        assert (await sp.memberships.anonymize(identifier=6)).ok
        assert (await sp.memberships.anonymize(identifier=6)).ok  # idempotent


async def test_stamps_accounts_otp_flow(stampsync_sandbox: Sandbox) -> None:
    async with stampsync_sandbox.stamps_client() as sp:
        otp = await sp.accounts.request_mobile_number_otp(
            mobile_number="+62819999999", type=OtpChannel.SMS, template_code="OTP_1"
        )
        assert otp.otp is not None
        with pytest.raises(ValidationError) as bad:
            await sp.accounts.change_mobile_number(
                identifier=8, new_number="+62819999999", otp="0000" if otp.otp != "0000" else "1111"
            )
        assert bad.value.error_code == "invalid_otp"
        assert (
            await sp.accounts.change_mobile_number(
                identifier=8, new_number="+62819999999", otp=otp.otp
            )
        ).ok
        assert (await stampsync_sandbox.member(8))["phone"] == "+62819999999"  # type: ignore[index]

        with pytest.raises(ValidationError) as tmpl:
            await sp.accounts.request_mobile_number_otp(
                mobile_number="+62811", type="sms", template_code="NOPE"
            )
        assert tmpl.value.error_code == "invalid_template_code"

        eotp = await sp.accounts.request_email_otp(new_email="fresh@x.co")
        assert eotp.otp is not None
        assert (await sp.accounts.change_email(user=8, new_email="fresh@x.co", otp=eotp.otp)).ok
        with pytest.raises(ValidationError) as used:
            await sp.accounts.request_email_otp(new_email="fresh@x.co")
        assert used.value.error_code == "email_already_used"


async def test_stamps_jwt_and_ping(stampsync_sandbox: Sandbox) -> None:
    async with stampsync_sandbox.stamps_client(jwt=True) as sp:
        pong = await sp.auth.ping()
        assert pong.merchant_id == stampsync_sandbox.config.merchant
        await sp.stamps.add(user=1, number_of_stamps=1)
    paths = [r["path"] for r in await stampsync_sandbox.requests()]
    assert paths[0] == "/api/auth/get-access-token/"
