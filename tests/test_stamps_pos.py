"""Every point-of-sale Stamps endpoint: method, path, query or body as the vendor's
reference (stamps-official/*.rst) says, and each documented success example decoded."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgspec
import pytest

from stampsync import StampsClient
from stampsync.errors import ConfigurationError, ServerError, ValidationError
from stampsync.stamps import (
    ActivityType,
    Channel,
    IssueVoucher,
    Item,
    MultipleRewardRedemption,
    Payment,
    Reward,
    RewardRedemption,
    RewardType,
    TransactionType,
    VoucherConstraint,
    VoucherRedemption,
    VoucherTemplateType,
)
from stampsync.testing import HTTPRequest, HTTPResponse, MockTransport, no_backoff
from tests import _stamps_examples as ex

WIB = dt.timezone(dt.timedelta(hours=7))
CREATED = dt.datetime(2013, 2, 15, 13, 1, 1, tzinfo=WIB)
ITEMS = [
    Item(product_name="Cappucino", quantity=2, subtotal=10000, stamps_subtotal=4),
    Item(product_name="Iced Tea", quantity=4, subtotal=5000, eligible_for_stamps=False),
]
ITEMS_JSON = [
    {"product_name": "Cappucino", "quantity": 2, "subtotal": 10000, "stamps_subtotal": 4},
    {"product_name": "Iced Tea", "quantity": 4, "subtotal": 5000, "eligible_for_stamps": False},
]
PAYMENTS = [
    Payment(value=30000, payment_method=10),
    Payment(value=20000, payment_method=43, eligible_for_membership=False),
]
PAYMENTS_JSON = [
    {"value": 30000, "payment_method": 10},
    {"value": 20000, "payment_method": 43, "eligible_for_membership": False},
]
ADD_JSON = {
    "store": 32,
    "invoice_number": "my_invoice_number",
    "total_value": 50000,
    "number_of_people": 8,
    "created": "2013-02-15T13:01:01+07:00",
    "user": "customer@stamps.co.id",
    "sub_total": 45000,
    "tax": 5000,
    "channel": 1,
    "type": 2,
    "items": ITEMS_JSON,
    "payments": PAYMENTS_JSON,
    "stamps": 10,
    "require_email_notification": False,
    "employee_code": "employee_code",
    "extra_data": {"employee_name": "Stamps Employee", "order_number": "order_number"},
}
ADD_ARGS: dict[str, Any] = {
    "user": "customer@stamps.co.id",
    "stamps": 10,
    "store": 32,
    "invoice_number": "my_invoice_number",
    "sub_total": 45000,
    "total_value": 50000,
    "number_of_people": 8,
    "tax": 5000,
    "channel": Channel.MOBILE_APP,
    "require_email_notification": False,
    "employee_code": "employee_code",
    "type": TransactionType.DINE_IN,
    "created": CREATED,
    "extra_data": {"employee_name": "Stamps Employee", "order_number": "order_number"},
    "items": ITEMS,
    "payments": PAYMENTS,
}
USER = "customer@stamps.co.id"


@dataclass
class Case:
    name: str
    call: Callable[[StampsClient], Awaitable[Any]]
    method: str
    path: str
    answer: Any
    body: Any = None
    query: dict[str, Any] | None = None
    check: Callable[[Any], bool] = lambda result: True


def q(**kwargs: Any) -> dict[str, Any]:
    return kwargs


CASES = [
    Case(
        "transactions.add",
        lambda c: c.transactions.add(**ADD_ARGS),
        "POST",
        "/api/v2/transactions/add",
        ex.ADD,
        body=ADD_JSON,
        check=lambda r: (
            r.transaction.stamps_earned == 5
            and r.customer.stamps_remaining == 401
            and r.recovered is False
        ),
    ),
    Case(
        "transactions.add_with_redemptions",
        lambda c: c.transactions.add_with_redemptions(
            **ADD_ARGS,
            reward_redemptions=[
                RewardRedemption(request_id="request-id-1", reward=1),
                RewardRedemption(request_id="request-id-1", reward="REWARDCODE", stamps=10),
            ],
            voucher_redemptions=[
                VoucherRedemption(request_id="request-id-1", voucher_code="VOUCHERCODE")
            ],
            issue_voucher=IssueVoucher(template_id=1, value=100000),
        ),
        "POST",
        "/api/v2/transactions/add-with-redemptions",
        ex.ADD_WITH_REDEMPTIONS,
        body={
            **ADD_JSON,
            "reward_redemptions": [
                {"request_id": "request-id-1", "reward": 1},
                {"request_id": "request-id-1", "reward": "REWARDCODE", "stamps": 10},
            ],
            "voucher_redemptions": [{"request_id": "request-id-1", "voucher_code": "VOUCHERCODE"}],
            "issue_voucher": {"template_id": 1, "value": 100000},
        },
        check=lambda r: (
            r.issued_voucher.template.type is VoucherTemplateType.CROSS_PROMOTION
            and r.issued_voucher.constraint.channels == [1, 2, 3, 4]
            and r.membership.status_text == "Blue"
        ),
    ),
    Case(
        "transactions.add_or_update (update)",
        lambda c: c.transactions.add_or_update(
            store=32, invoice_number="my_invoice_number", items=ITEMS
        ),
        "POST",
        "/api/v2/transactions/add-or-update",
        ex.ADD,
        body={"store": 32, "invoice_number": "my_invoice_number", "items": ITEMS_JSON},
        check=lambda r: r.transaction.id == 2374815,
    ),
    Case(
        "transactions.add_or_update (add)",
        lambda c: c.transactions.add_or_update(**ADD_ARGS),
        "POST",
        "/api/v2/transactions/add-or-update",
        ex.ADD,
        body=ADD_JSON,
    ),
    Case(
        "transactions.cancel",
        lambda c: c.transactions.cancel(invoice_number="ABCD123", date=dt.date(2021, 2, 1)),
        "POST",
        "/api/v2/transactions/cancel",
        ex.CANCEL,
        body={"invoice_number": "ABCD123", "date": "2021-02-01"},
        check=lambda r: r.transaction.canceled and r.membership.stamps == 10,
    ),
    Case(
        "transactions.modify",
        lambda c: c.transactions.modify(
            id=1,
            total_value=-4000,
            subtotal=-3000,
            items=[Item(product_name="AQUA", quantity=-1)],
        ),
        "POST",
        "/api/v2/transactions/modify",
        ex.MODIFY,
        body={
            "id": 1,
            "total_value": -4000,
            "subtotal": -3000,
            "items": [{"product_name": "AQUA", "quantity": -1}],
        },
        check=lambda r: r.customer.stamps_remaining == 62 and r.customer.mobile_phone is None,
    ),
    Case(
        "transactions.details",
        lambda c: c.transactions.details(transaction_id=345),
        "GET",
        "/api/transactions/details",
        ex.DETAILS,
        query=q(transaction_id="345"),
        check=lambda r: (
            r.items[1].name == "Fried Rice"
            and r.payments[0].payment_method_code == "ABC"
            and r.store.id == 1
        ),
    ),
    Case(
        "transactions.by_user",
        lambda c: c.transactions.by_user(
            user=123,
            merchant_id=[2, 3],
            channel=[Channel.POS, Channel.WEB],
            end_date="2022-09-12",
        ),
        "GET",
        "/api/transactions/by-user",
        ex.BY_USER,
        query=q(user="123", merchant_id=["2", "3"], channel=["2", "4"], end_date="2022-09-12"),
        check=lambda r: (
            r.has_next
            and r.transactions[1].canceled
            and r.transactions[0].meta.channel is Channel.POS
        ),
    ),
    Case(
        "transactions.preview_earnings",
        lambda c: c.transactions.preview_earnings(
            user=USER,
            store=422,
            tax=5000,
            channel=1,
            type=2,
            total_value=50000,
            items=ITEMS[:1],
            payments=PAYMENTS,
        ),
        "GET",
        "/api/v2/transactions/preview-earnings",
        ex.PREVIEW,
        body={
            "store": 422,
            "total_value": 50000,
            "user": USER,
            "tax": 5000,
            "channel": 1,
            "type": 2,
            "items": ITEMS_JSON[:1],
            "payments": PAYMENTS_JSON,
        },
        check=lambda r: r.stamps == 10,
    ),
    Case(
        "redemptions.redeem_reward",
        lambda c: c.redemptions.redeem_reward(
            user=USER,
            store=32,
            reward=1,
            invoice_number="POS-1020123",
            stamps=20,
            qty=1,
            extra_data={"discount": "10%"},
        ),
        "POST",
        "/api/v2/redemptions/redeem-reward",
        ex.REDEEM_REWARD,
        body={
            "user": USER,
            "reward": 1,
            "store": 32,
            "invoice_number": "POS-1020123",
            "stamps": 20,
            "qty": 1,
            "extra_data": {"discount": "10%"},
        },
        check=lambda r: (
            r.redemption.reward == "Kaya Bun"
            and r.reward.type == "reward"
            and r.voucher.code == "ABCD12345"
            and r.membership.stamps == 250
        ),
    ),
    Case(
        "redemptions.redeem_voucher",
        lambda c: c.redemptions.redeem_voucher(
            user=USER, store=32, voucher=1, invoice_number="POS-1020123"
        ),
        "POST",
        "/api/v2/redemptions/redeem-voucher",
        ex.REDEEM_VOUCHER,
        body={"user": USER, "voucher": 1, "store": 32, "invoice_number": "POS-1020123"},
        check=lambda r: r.voucher.code == "PZ633ECV" and r.redemption.stamps_used == 0,
    ),
    Case(
        "redemptions.redeem_multiple_rewards",
        lambda c: c.redemptions.redeem_multiple_rewards(
            user=USER,
            store=32,
            rewards=[
                MultipleRewardRedemption(code=1, qty=1, stamps=1),
                MultipleRewardRedemption(code=1, qty=1),
            ],
            invoice_number="POS-1020123",
        ),
        "POST",
        "/api/v2/redemptions/redeem-multiple-rewards",
        ex.REDEEM_MULTIPLE,
        body={
            "user": USER,
            "store": 32,
            "rewards": [{"code": 1, "qty": 1, "stamps": 1}, {"code": 1, "qty": 1}],
            "invoice_number": "POS-1020123",
        },
        check=lambda r: (
            isinstance(r.redemption.reward, Reward)
            and r.redemption.reward.code == "MI0017"
            and r.redemption.voucher.code == "ABCD12345"
            and r.membership.status == "Active"
        ),
    ),
    Case(
        "redemptions.redeem_promo_code",
        lambda c: c.redemptions.redeem_promo_code(
            user=USER, store=32, promo_code="PROMOCODE", invoice_number="POS-1020123"
        ),
        "POST",
        "/api/v3/redemptions/redeem-promo-code",
        ex.REDEEM_PROMO_CODE,
        body={
            "user": USER,
            "promo_code": "PROMOCODE",
            "store": 32,
            "invoice_number": "POS-1020123",
        },
        check=lambda r: r.user.email == USER and r.membership.level == 100,
    ),
    Case(
        "redemptions.by_voucher_code",
        lambda c: c.redemptions.by_voucher_code(
            identifier=USER, voucher_code="ABCD100k", voucher_template=12, store=32
        ),
        "POST",
        "/api/redemptions/by-voucher-code",
        ex.BY_VOUCHER_CODE,
        body={"identifier": USER, "voucher_code": "ABCD100k", "voucher_template": 12, "store": 32},
        check=lambda r: r.redemption.status == "Created" and r.customer.id == 401791,
    ),
    Case(
        "redemptions.cancel",
        lambda c: c.redemptions.cancel(id=1),
        "POST",
        "/api/redemptions/cancel",
        ex.CANCEL_REDEMPTION,
        body={"id": 1},
        check=lambda r: r.redemption.status == "Canceled" and r.customer.stamps_remaining == 60,
    ),
    Case(
        "redemptions.authorize",
        lambda c: c.redemptions.authorize(user=USER, pin="123456", request_id="r-1", timeout=60),
        "POST",
        "/api/redemptions/authorize",
        ex.AUTHORIZE,
        body={"user": USER, "pin": "123456", "request_id": "r-1", "timeout": 60},
        check=lambda r: r.ok,
    ),
    Case(
        "vouchers.deduct_value",
        lambda c: c.vouchers.deduct_value(
            user=USER, store=32, voucher=1, invoice_number="POS-1020123", value=1000
        ),
        "POST",
        "/api/vouchers/deduct-value",
        ex.DEDUCT_VALUE,
        body={
            "user": USER,
            "voucher": 1,
            "store": 32,
            "value": 1000,
            "invoice_number": "POS-1020123",
        },
        check=lambda r: r.voucher.id == 4,
    ),
    Case(
        "rewards.list",
        lambda c: c.rewards.list(
            user=USER, merchant=14, store=1, channel=Channel.POS, last_reward_id=5, per_page=4
        ),
        "GET",
        "/api/rewards/",
        ex.REWARDS,
        query=q(user=USER, merchant="14", store="1", channel="2", last_reward_id="5", per_page="4"),
        check=lambda r: (
            r.rewards[0].type is RewardType.BENEFIT
            and r.rewards[2].redeemable is False
            and r.vouchers[1].constraint.channels[-1] is Channel.IOS
            and r.customer.stamps == 18
        ),
    ),
    Case(
        "rewards.details",
        lambda c: c.rewards.details("ABCDE1"),
        "GET",
        "/api/rewards/ABCDE1",
        ex.REWARD_DETAILS,
        check=lambda r: r.available_at == ["store A", "store B"] and r.stamps_to_redeem == 100,
    ),
    Case(
        "rewards.by_merchant_group",
        lambda c: c.rewards.by_merchant_group(
            user=USER, channel=2, type=RewardType.BENEFIT, last_reward_id=3, per_page=10
        ),
        "GET",
        "/api/rewards/by-merchant-group",
        ex.REWARDS_BY_GROUP,
        query=q(user=USER, channel="2", type="3", last_reward_id="3", per_page="10"),
        check=lambda r: r.rewards[0].code == "A001",
    ),
    Case(
        "vouchers.issue",
        lambda c: c.vouchers.issue(
            user=USER,
            voucher_template=1,
            start_date="2013-02-15",
            quantity=1,
            notes="Special voucher for e-magazine readers",
            value=200,
        ),
        "POST",
        "/api/vouchers/issue",
        ex.ISSUE_VOUCHER,
        body={
            "user": USER,
            "voucher_template": 1,
            "start_date": "2013-02-15",
            "quantity": 1,
            "notes": "Special voucher for e-magazine readers",
            "value": 200,
        },
        check=lambda r: r.voucher.id == 123054 and r.customer.email == USER,
    ),
    Case(
        "vouchers.validate",
        lambda c: c.vouchers.validate(merchant=123, voucher_code="VC-ABC", store=123),
        "GET",
        "/api/vouchers/validate",
        ex.VALIDATE,
        query=q(voucher_code="VC-ABC", merchant="123", store="123"),
        check=lambda r: r.is_redeemable and r.voucher.validity == "Dynamic",
    ),
    Case(
        "vouchers.details",
        lambda c: c.vouchers.details(user=USER, code="ABCD123"),
        "GET",
        "/api/vouchers/details",
        ex.VOUCHER_DETAILS,
        query=q(user=USER, code="ABCD123"),
        check=lambda r: r.code == "VC-DEF" and r.template.instructions == "",
    ),
    Case(
        "vouchers.by_merchant_group",
        lambda c: c.vouchers.by_merchant_group(user=USER, channel=2),
        "GET",
        "/api/vouchers/by-merchant-group",
        ex.VOUCHERS_BY_GROUP,
        query=q(user=USER, channel="2"),
        check=lambda r: [v.code for v in r.vouchers] == ["VC-ABC", "VC-DEF"],
    ),
    Case(
        "vouchers.count_by_merchant_group",
        lambda c: c.vouchers.count_by_merchant_group(user=USER),
        "GET",
        "/api/vouchers/count-by-merchant-group",
        ex.VOUCHER_COUNT,
        query=q(user=USER),
        check=lambda r: r == 12,
    ),
    Case(
        "balances.credit",
        lambda c: c.balances.credit(user=USER, amount=1000, merchant=14, store=3),
        "POST",
        "/api/balances/credit",
        ex.CREDIT,
        body={"user": USER, "amount": 1000, "type": "stamps", "merchant": 14, "store": 3},
        check=lambda r: r.customer.balance == 1000 and r.balance_update.id == 2,
    ),
    Case(
        "balances.debit",
        lambda c: c.balances.debit(user=USER, amount=100, merchant=14, store=3),
        "POST",
        "/api/balances/debit",
        ex.DEBIT,
        body={"user": USER, "amount": 100, "type": "stamps", "merchant": 14, "store": 3},
        check=lambda r: r.customer.balance == 900,
    ),
    Case(
        "balances.cancel",
        lambda c: c.balances.cancel(id=123),
        "POST",
        "/api/balances/cancel",
        ex.BALANCE_CANCEL,
        body={"id": 123},
        check=lambda r: r.balance_update.status == "Canceled",
    ),
    Case(
        "stores.add_or_update",
        lambda c: c.stores.add_or_update(
            merchant_id=1,
            name="store-1",
            display_name="Store 1",
            code="store-1",
            address="Example street",
            area="Jakarta",
            is_active=True,
        ),
        "POST",
        "/api/stores/add-or-update",
        ex.STORE,
        body={
            "merchant_id": 1,
            "name": "store-1",
            "display_name": "Store 1",
            "code": "store-1",
            "address": "Example street",
            "area": "Jakarta",
            "is_active": True,
        },
        check=lambda r: r.store.slug == "test-store" and r.store.latitude is None,
    ),
    Case(
        "merchants.add_or_update_payment_method",
        lambda c: c.merchants.add_or_update_payment_method(
            code="QRIS", name="QRIS", eligible_for_points=True
        ),
        "POST",
        "/api/merchants/add-or-update-payment-method",
        ex.PAYMENT_METHOD,
        body={"code": "QRIS", "name": "QRIS", "eligible_for_points": True},
        check=lambda r: r.ok,
    ),
    Case(
        "expiration_journals.list",
        lambda c: c.expiration_journals.list(user=USER, minimum_expiration_date="2022-06-25"),
        "GET",
        "/api/v2/expiration-journals/",
        ex.EXPIRATION_JOURNALS,
        query=q(user=USER, minimum_expiration_date="2022-06-25"),
        check=lambda r: [j.id for j in r] == [284614, 284615, 284616],
    ),
    Case(
        "activities.list",
        lambda c: c.activities.list(user=USER, older_than=2590970),
        "GET",
        "/api/v3/activities/",
        ex.ACTIVITIES,
        query=q(user=USER, older_than="2590970"),
        check=lambda r: (
            [a.type for a in r.activities][:3]
            == [ActivityType.TRANSACTION, ActivityType.REDEMPTION, ActivityType.AWARDED_STAMPS]
            and r.activities[10].transaction_modification.modified_transaction is None
            and r.activities[-1].transaction_modification.total_stamps_delta == 90
            and r.activities[5].balance_update.amount == 120000
        ),
    ),
    Case(
        "activities.by_merchant_group",
        lambda c: c.activities.by_merchant_group(user=USER, merchant_id=[2, 5]),
        "GET",
        "/api/v3/activities/by-merchant-group",
        ex.ACTIVITIES_BY_GROUP,
        query=q(user=USER, merchant_id=["2", "5"]),
        check=lambda r: len(r.activities) == 2,
    ),
    Case(
        "auth.verify_token",
        lambda c: c.auth.verify_token(),
        "POST",
        "/api/auth/verify-token/",
        ex.VERIFY_TOKEN,
        check=lambda r: r.merchant_id == 1 and r.exp == 1657332616,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
async def test_each_endpoint_sends_what_the_document_says(case: Case) -> None:
    answer = (
        case.answer.encode() if isinstance(case.answer, str) else msgspec.json.encode(case.answer)
    )

    def handler(request: HTTPRequest) -> HTTPResponse:
        return HTTPResponse(200, {"Content-Type": "application/json"}, answer)

    mock = MockTransport(handler)
    async with StampsClient("secret-token", transport=mock) as client:
        result = await case.call(client)
    (sent,) = mock.requests
    assert (sent.method, sent.url.path) == (case.method, case.path)
    assert sent.headers["Authorization"] == "Token secret-token"
    query: dict[str, Any] = {}
    for key in sent.url.query:
        values = sent.url.query.getall(key)
        query[key] = values if len(values) > 1 else values[0]
    assert query == (case.query or {})
    assert mock.json() == case.body
    assert case.check(result), result


def test_every_declared_pos_endpoint_has_a_case() -> None:
    from stampsync._endpoint import ENDPOINTS

    covered = {(c.method, c.path) for c in CASES}
    covered.add(("GET", "/api/rewards/{reward_code}"))  # filled in as /api/rewards/ABCDE1
    covered |= {("GET", "/api/500"), ("GET", "/api/400")}  # tested below
    modules = {
        "stampsync.stamps.transactions",
        "stampsync.stamps.redemptions",
        "stampsync.stamps.rewards",
        "stampsync.stamps.vouchers",
        "stampsync.stamps.balances",
        "stampsync.stamps.stores",
        "stampsync.stamps.activities",
        "stampsync.stamps.diagnostics",
    }
    import sys

    declared = {
        (e.method, e.path)
        for e in ENDPOINTS
        if any(e in vars(sys.modules[m]).values() for m in modules)
    }
    declared.add(("POST", "/api/auth/verify-token/"))
    assert len(declared) == 35
    assert declared <= covered, declared - covered


async def test_the_test_endpoints_raise_their_errors() -> None:
    def handler(request: HTTPRequest) -> HTTPResponse:
        status = 500 if request.url.path == "/api/500" else 400
        return HTTPResponse(status, {"Content-Type": "text/html"}, b"Server error")

    mock = MockTransport(handler)
    async with StampsClient("secret-token", transport=mock, max_retries=2) as client:
        with no_backoff():
            with pytest.raises(ServerError):
                await client.testing.error_500()
            assert len(mock.requests) == 3  # a read: retried
            with pytest.raises(ValidationError):
                await client.testing.error_400()
            assert len(mock.requests) == 4


@pytest.mark.parametrize(
    ("body", "code", "errors"),
    [
        (
            {
                "detail": "Your transaction cannot be completed due to the following error(s)",
                "errors": [{"subtotal": "This field is required."}, {"invoice_number": "x"}],
            },
            None,
            {"subtotal": "This field is required.", "invoice_number": "x"},
        ),
        (
            {"errors": {"info": "Transaction can't be canceled due to insufficient Stamps"}},
            None,
            {"info": "Transaction can't be canceled due to insufficient Stamps"},
        ),
        (
            {"error_code": "invalid_total_item_price", "detail": "Total item price need to"},
            "invalid_total_item_price",
            {},
        ),
        (
            {
                "detail": "pin: Invalid PIN, 2 attempt(s) left",
                "errors": {"pin": "Invalid PIN, 2 attempt(s) left"},
                "error_code": "invalid_pin",
                "error_message": "pin: Invalid PIN, 2 attempt(s) left",
            },
            "invalid_pin",
            {"pin": "Invalid PIN, 2 attempt(s) left"},
        ),
    ],
)
async def test_documented_error_shapes_map_to_validation_errors(
    body: dict[str, Any], code: str | None, errors: dict[str, str]
) -> None:
    mock = MockTransport(lambda request: HTTPResponse.json(body, status=400))
    async with StampsClient("secret-token", store=1, transport=mock) as client:
        with pytest.raises(ValidationError) as raised:
            await client.transactions.cancel(invoice_number="A", date="2021-02-01")
    assert raised.value.error_code == code
    assert raised.value.errors == errors


def test_enums_accept_undocumented_codes() -> None:
    assert Channel(42).name == "UNKNOWN_42"
    assert Channel(42) == 42
    decoded = msgspec.json.decode(b'{"channels": [2, 77]}', type=VoucherConstraint)
    assert decoded.channels == [Channel.POS, 77]
    assert TransactionType(5) is TransactionType.PICKUP
    with pytest.raises(ValueError, match="POS"):
        Channel("POS")  # type: ignore[arg-type]


async def test_arguments_are_checked_before_sending() -> None:
    mock = MockTransport(lambda request: HTTPResponse.json({}))
    async with StampsClient("secret-token", store=1, transport=mock) as client:
        naive = dt.datetime(2024, 1, 1, 12, 0)
        with pytest.raises(ConfigurationError, match="time zone"):
            await client.transactions.add(
                invoice_number="A", total_value=1, number_of_people=1, created=naive
            )
        with pytest.raises(ConfigurationError, match="offset"):
            await client.transactions.add(
                invoice_number="A", total_value=1, number_of_people=1, created="2024-01-01"
            )
        with pytest.raises(ConfigurationError, match="6 digits"):
            await client.redemptions.authorize(user=1, pin="12", request_id="r", timeout=5)
        with pytest.raises(ConfigurationError, match="positive"):
            await client.balances.credit(user=1, amount=0, merchant=1)
    assert mock.requests == []


def test_a_missing_store_is_named_for_the_sdk_and_the_command_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("STAMPS_STORE", raising=False)
    client = StampsClient("a-token")
    with pytest.raises(ConfigurationError) as caught:
        client.transactions.add_body(
            invoice_number="F-1",
            total_value=1000,
            number_of_people=1,
            created="2026-12-05T10:00:00+07:00",
        )
    message = str(caught.value)
    assert message.startswith("store is required")
    assert "StampsClient(store=...)" in message
    assert "--store N" in message
