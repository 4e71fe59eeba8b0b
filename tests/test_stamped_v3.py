"""Stamped V3 on its own: credentials, errors by status, retries by idempotency, listings."""

from __future__ import annotations

import asyncio
import logging
import traceback
from typing import Any

import pytest

from stampsync import StampedClient
from stampsync.errors import (
    AmbiguousWriteError,
    AuthenticationError,
    ConfigurationError,
    DecodeError,
    NotFoundError,
    StampsyncError,
    TransportError,
    ValidationError,
)
from stampsync.testing import HTTPRequest, HTTPResponse, MockTransport, no_backoff

KEY = "v3-SECRET-key-0123456789"


def client(handler: Any, **kwargs: Any) -> StampedClient:
    return StampedClient(
        store_hash="270392", api_key=KEY, transport=MockTransport(handler), **kwargs
    )


def ok(request: HTTPRequest) -> HTTPResponse:
    return HTTPResponse.json({})


async def test_an_api_key_alone_makes_a_client_that_refuses_v2_calls_before_sending() -> None:
    sent: list[HTTPRequest] = []

    def handler(request: HTTPRequest) -> HTTPResponse:
        sent.append(request)
        return HTTPResponse.json({"customerId": "c1"})

    async with client(handler) as stamped:
        with pytest.raises(ConfigurationError, match="needs public_key and private_key"):
            await stamped.customers.get(1)
        assert not sent
        await stamped.v3.customers.get("c1")
    assert len(sent) == 1


async def test_the_v2_pair_alone_refuses_v3_calls_and_both_speak_both() -> None:
    sent: list[HTTPRequest] = []

    def handler(request: HTTPRequest) -> HTTPResponse:
        sent.append(request)
        return HTTPResponse.json({"customerId": "c1"})

    async with StampedClient(
        "pub-1", "key-private-1", "270392", transport=MockTransport(handler)
    ) as v2:
        with pytest.raises(ConfigurationError, match="needs api_key"):
            await v2.v3.loyalty.adjust_points("c", points=1)
        assert not sent
    async with StampedClient(
        "pub-1", "key-private-1", "270392", api_key=KEY, transport=MockTransport(handler)
    ) as both:
        await both.customers.get(1)
        await both.v3.customers.get("c1")
    assert sent[0].headers["Authorization"].startswith("Basic ")
    assert "stamped-api-key" not in sent[0].headers
    assert sent[1].headers["stamped-api-key"] == KEY
    assert "Authorization" not in sent[1].headers


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({}, r"needs credentials: pass public_key=\.\.\. and private_key=\.\.\. \(V2\) or api_key"),
        ({"public_key": "p"}, "go together"),
        ({"private_key": "k"}, "go together"),
        ({"api_key": ""}, "api_key must be a non-empty string"),
        ({"api_key": "a\nb"}, "not allowed in an HTTP header"),
    ],
)
def test_credentials_are_checked_when_the_client_is_built(
    args: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        StampedClient(store_hash="1", **args)


def test_store_hash_is_required() -> None:
    with pytest.raises(ConfigurationError, match="store_hash"):
        StampedClient(api_key=KEY)


async def test_the_key_never_shows(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    def echo(request: HTTPRequest) -> HTTPResponse:
        # A buggy server echoing the key back in its error.
        return HTTPResponse.json({"message": f"bad key {request.headers['stamped-api-key']}"}, 401)

    seen: list[str] = []
    stamped = client(echo)
    seen += [repr(stamped), str(stamped), repr(stamped.v3), repr(stamped._transport._credentials)]
    async with stamped:
        with pytest.raises(AuthenticationError) as caught:
            await stamped.v3.orders.get("o1")
    seen += [
        str(caught.value),
        repr(caught.value),
        "".join(traceback.format_exception(caught.value)),
    ]
    seen += [r.getMessage() for r in caplog.records]
    assert "bad key ***" in str(caught.value)
    assert not [s for s in seen if KEY in s]


@pytest.mark.parametrize(
    ("status", "error"),
    [(400, ValidationError), (401, AuthenticationError), (404, NotFoundError)],
)
async def test_errors_map_by_status_whatever_the_label(status: int, error: type) -> None:
    # The loyalty reference labels its 400 "Unauthorized": the status decides.
    def refuse(request: HTTPRequest) -> HTTPResponse:
        return HTTPResponse.json({"message": "Unauthorized"}, status)

    async with client(refuse) as stamped:
        with pytest.raises(error, match="Unauthorized"):
            await stamped.v3.loyalty.adjust_points("c", points=5)


async def test_a_non_idempotent_v3_write_is_never_resent_after_it_may_have_arrived() -> None:
    sent: list[HTTPRequest] = []

    def reset(request: HTTPRequest) -> HTTPResponse:
        sent.append(request)
        raise TransportError(
            "connection reset", sent=True, method=request.method, path=request.url.path
        )

    with no_backoff():
        async with client(reset) as stamped:
            for call in (
                lambda: stamped.v3.loyalty.adjust_points("c", points=5),
                lambda: stamped.v3.loyalty.redeem_reward("c", "r"),
                lambda: stamped.v3.loyalty.trigger_activity("c", rule_id="r"),
                lambda: stamped.v3.loyalty.create_custom_activity(email="a@b.co", campaign_id=1),
                lambda: stamped.v3.loyalty.adjust_vip_tier("c", tier_name="Gold"),
                lambda: stamped.v3.orders.create(customer_id="c", cart={"lineItems": []}),
            ):
                before = len(sent)
                with pytest.raises(AmbiguousWriteError):
                    await call()
                assert len(sent) == before + 1


async def test_an_upsert_by_the_platforms_id_is_retried() -> None:
    sent: list[HTTPRequest] = []

    def flaky(request: HTTPRequest) -> HTTPResponse:
        sent.append(request)
        if len(sent) % 2:
            raise TransportError(
                "connection reset", sent=True, method=request.method, path=request.url.path
            )
        # One answer for four calls: each reads its own record's id and ignores the rest.
        return HTTPResponse.json(
            {"orderId": "o", "rewardId": "r", "customerId": "c", "productId": "p"}
        )

    with no_backoff():
        async with client(flaky) as stamped:
            order = await stamped.v3.orders.create(
                custom_order_id="x-1", customer_id="c", cart={"lineItems": []}
            )
            assert order.order_id == "o"
            assert len(sent) == 2
            await stamped.v3.loyalty.void_coupon("c", "CODE")
            await stamped.v3.customers.update("c", first_name="A")
            await stamped.v3.products.create(custom_product_id="p", title="Mug")
    assert len(sent) == 8


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.v3.loyalty.adjust_points("c", points="5"),
        lambda s: s.v3.loyalty.adjust_points("", points=5),
        lambda s: s.v3.loyalty.trigger_activity("c"),
        lambda s: s.v3.loyalty.create_custom_activity(email="nope", campaign_id="x"),
        lambda s: s.v3.customers.create(first_name="no key"),
        lambda s: s.v3.customers.create(email="a@b.co", tags="vip"),
        lambda s: s.v3.customers.filter(limit=500),
        lambda s: s.v3.customers.lookup(),
        lambda s: s.v3.orders.create(cart={"lineItems": "x"}),
        lambda s: s.v3.orders.update("o"),
        lambda s: s.v3.products.create(colour="red"),
        lambda s: s.v3.customers.list(colour="red").__anext__(),
        lambda s: s.v3.products.list(page=2).__anext__(),
    ],
)
async def test_bad_arguments_are_refused_before_sending(call: Any) -> None:
    sent: list[HTTPRequest] = []

    def record(request: HTTPRequest) -> HTTPResponse:
        sent.append(request)
        return HTTPResponse.json({})

    async with client(record) as stamped:
        with pytest.raises(ConfigurationError):
            await call(stamped)
    assert not sent


def pages(total: int, limit: int, first: int = 0) -> Any:
    """A server of ``total`` orders paged from ``first`` (0- or 1-based)."""
    asked: list[str | None] = []

    async def handler(request: HTTPRequest) -> HTTPResponse:
        page_text = request.url.query.get("page")
        asked.append(page_text)
        page = int(page_text) if page_text is not None else first
        await asyncio.sleep(0.001 * (page % 3))  # answers out of order
        start = (page - first) * limit
        items = [{"orderId": f"o{i}"} for i in range(start, min(start + limit, total))]
        more = start + limit < total
        body = {"page": page, "limit": limit, "morePages": more, "orders": items}
        return HTTPResponse.json([body])

    return handler, asked


@pytest.mark.parametrize("first", [0, 1])
async def test_a_listing_follows_the_servers_numbering_and_yields_in_order(first: int) -> None:
    handler, asked = pages(103, 10, first)
    async with client(handler, concurrent_batch_executions=4) as stamped:
        listing = stamped.v3.orders.list(limit=10)
        got = [o.order_id async for o in listing]
    assert got == [f"o{i}" for i in range(103)]
    assert asked[0] is None  # the server's own first page
    later = sorted(int(p) for p in asked[1:] if p is not None)
    assert later[:10] == list(range(first + 1, first + 11))
    # Fetches past the last page: at most prefetch - 1, all at the end.
    assert len(later) == len(set(later)) <= 10 + 3
    assert listing.stats.pages == 11


async def test_a_listing_keeps_at_most_prefetch_pages_in_flight() -> None:
    in_flight = 0
    most = 0

    async def slow(request: HTTPRequest) -> HTTPResponse:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0.002)
        in_flight -= 1
        page = int(request.url.query.get("page", "0"))
        items = [{"customerId": f"c{page}-{i}"} for i in range(5)]
        return HTTPResponse.json({"page": page, "morePages": page < 30, "customers": items})

    async with client(slow) as stamped:
        listing = stamped.v3.customers.list(limit=5, prefetch=3)
        count = 0
        async with listing:
            async for _ in listing:
                count += 1
                if count == 60:
                    break
        assert most <= 3
        assert in_flight == 0  # leaving early cancelled the rest
        everything = [c async for c in stamped.v3.customers.list(limit=5, prefetch=3)]
    assert len(everything) == 31 * 5


async def test_a_listing_fails_with_the_pages_error() -> None:
    def broken(request: HTTPRequest) -> HTTPResponse:
        if request.url.query.get("page") == "2":
            return HTTPResponse.json({"message": "no"}, 404)
        page = int(request.url.query.get("page", "0"))
        return HTTPResponse.json({"page": page, "morePages": True, "rewards": [{"rewardId": page}]})

    async with client(broken) as stamped:
        with pytest.raises(StampsyncError):
            [r async for r in stamped.v3.loyalty.list_rewards()]


def test_an_answer_of_several_pages_reads_as_one() -> None:
    from stampsync.stamped.v3._resource import merge_pages
    from stampsync.stamped.v3.models import Order, PaginatedOrders

    first = PaginatedOrders(page=2, limit=2, more_pages=True, orders=[Order(order_id="a")])
    last = PaginatedOrders(page=3, limit=5, more_pages=False, orders=[Order(order_id="b")])
    merged = merge_pages([first, last], PaginatedOrders, "orders")
    assert (merged.page, merged.limit, merged.more_pages) == (2, 5, False)
    assert [o.order_id for o in merged.orders] == ["a", "b"]
    assert merge_pages([], PaginatedOrders, "orders") == PaginatedOrders()
    assert merge_pages(first, PaginatedOrders, "orders") is first


# -- issue 26, item 7: a listing that goes round in circles ends -------------------------


def circling(period: int, limit: int = 10, cap: int = 60) -> Any:
    """A server whose pages repeat every ``period`` pages, always saying more follow;
    past ``cap`` requests it fails, so a listing that would never end fails instead."""
    asked: list[str | None] = []

    async def handler(request: HTTPRequest) -> HTTPResponse:
        page_text = request.url.query.get("page")
        asked.append(page_text)
        if len(asked) > cap:
            return HTTPResponse.json({"message": "read forever"}, status=400)
        page = int(page_text) if page_text is not None else 1
        start = ((page - 1) % period) * limit
        items = [{"orderId": f"o{i}"} for i in range(start, start + limit)]
        return HTTPResponse.json(
            [{"page": page, "limit": limit, "morePages": True, "orders": items}]
        )

    return handler, asked


@pytest.mark.parametrize("period", [1, 2, 3])
async def test_a_listing_whose_pages_repeat_ends_with_a_warning(
    period: int, caplog: pytest.LogCaptureFixture
) -> None:
    handler, asked = circling(period)
    async with client(handler, concurrent_batch_executions=4) as stamped:
        listing = stamped.v3.orders.list(limit=10)
        got = [o.order_id async for o in listing]
    assert got == [f"o{i}" for i in range(10 * period)]  # each once
    assert listing.stats.looped
    assert len(asked) <= period + 1 + 4  # the repeat, and the fetches ahead of it
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1
    assert "orders listing" in warnings[0].getMessage()


async def test_a_listing_page_with_nothing_new_ends_it() -> None:
    """A page shuffled, or padded with items already yielded: no new item, no end."""
    asked: list[str | None] = []

    async def handler(request: HTTPRequest) -> HTTPResponse:
        asked.append(request.url.query.get("page"))
        if len(asked) > 60:
            return HTTPResponse.json({"message": "read forever"}, status=400)
        n = len(asked)
        items = [{"orderId": f"o{(i + n) % 10}"} for i in range(10)]  # rotated: new bytes
        return HTTPResponse.json([{"page": len(asked), "morePages": True, "orders": items}])

    async with client(handler, concurrent_batch_executions=2) as stamped:
        listing = stamped.v3.orders.list(limit=10)
        got = [o.order_id async for o in listing]
    assert sorted(str(o) for o in got) == [f"o{i}" for i in range(10)]
    assert listing.stats.looped
    assert len(asked) <= 2 + 2  # the page with nothing new, and one fetched ahead


# --------------------------------------------------------------------------- typed answers


def answering(doc: object) -> Any:
    def handler(request: HTTPRequest) -> HTTPResponse:
        return HTTPResponse.json(doc)

    return handler


@pytest.mark.parametrize("sent", [1042, "1042"], ids=["number", "string"])
async def test_ids_read_as_strings_whether_sent_as_numbers_or_strings(sent: object) -> None:
    customer = {"customerId": sent, "shopId": 270392, "accountId": "acc-1"}
    order = {
        "orderId": sent,
        "customerId": sent,
        "cartStates": [{"lineItems": [{"productId": sent, "variantId": 7, "quantity": 2}]}],
    }
    activity = {"activityId": sent, "customerId": sent, "activity": {"orderId": sent}}
    async with client(answering(customer)) as stamped:
        got = await stamped.v3.customers.get("1042")
    assert (got.customer_id, got.shop_id, got.account_id) == ("1042", "270392", "acc-1")
    async with client(answering([{"orders": [order], "morePages": False}])) as stamped:
        [listed] = [o async for o in stamped.v3.orders.list()]
    assert (listed.order_id, listed.customer_id) == ("1042", "1042")
    assert listed.cart_states is not None
    assert listed.cart_states[0].line_items is not None
    line = listed.cart_states[0].line_items[0]
    assert (line.product_id, line.variant_id, line.quantity) == ("1042", "7", 2)
    async with client(answering(activity)) as stamped:
        done = await stamped.v3.loyalty.adjust_points("1042", points=5)
    assert done.activity_id == "1042"
    assert done.activity is not None
    assert done.activity.order_id == "1042"
    async with client(answering({"rewardId": sent, "couponCode": "C-1"})) as stamped:
        assert (await stamped.v3.loyalty.void_coupon("1042", "C-1")).reward_id == "1042"


@pytest.mark.parametrize(
    ("sent", "points"),
    [(120, 120.0), (120.5, 120.5), ("120.5", 120.5), ("120", 120.0), ("-3", -3.0)],
    ids=["int", "float", "numeric-string", "integer-string", "negative-string"],
)
async def test_points_and_money_read_as_numbers(sent: object, points: float) -> None:
    customer = {"customerId": "c1", "activity": {"totalPoints": sent, "vipTier": "Gold"}}
    async with client(answering(customer)) as stamped:
        got = await stamped.v3.customers.get("c1")
    assert got.activity is not None
    assert got.activity.total_points == points
    assert type(got.activity.total_points) is float
    assert got.points == points
    order = {
        "orderId": "o1",
        "cartStates": [{"shopPriceTotal": sent, "lineItems": [{"price": sent}]}],
    }
    async with client(answering(order)) as stamped:
        placed = await stamped.v3.orders.get("o1")
    assert placed.cart_states is not None
    assert placed.cart_states[0].line_items is not None
    assert placed.cart_states[0].shop_price_total == points
    assert placed.cart_states[0].line_items[0].price == points


async def test_a_customer_without_points_has_none_to_add() -> None:
    answers = [{"customerId": "c1"}, {"customerId": "c2", "activity": {"vipTier": "Bronze"}}]
    page = {"customers": answers, "morePages": False}
    async with client(answering(page)) as stamped:
        everyone = [c async for c in stamped.v3.customers.list()]
    assert [c.points for c in everyone] == [0.0, 0.0]


@pytest.mark.parametrize("customer_id", ["c1", 7], ids=["string-id", "number-id"])
@pytest.mark.parametrize("points", ["lots", "", True])
async def test_points_that_are_no_number_fail_naming_the_field(
    customer_id: object, points: object
) -> None:
    # With a number for the id too, the answer takes the slower path: the same error.
    page = {"customers": [{"customerId": customer_id, "activity": {"totalPoints": points}}]}
    async with client(answering(page)) as stamped:
        with pytest.raises(DecodeError, match=r"\$\.customers\[0\]\.activity\.totalPoints") as e:
            await stamped.v3.customers.filter()
    assert e.value.status == 200
    assert not e.value.malformed  # the wrong shape: not worth a retry


@pytest.mark.parametrize(
    ("call", "answer", "field"),
    [
        (lambda s: s.v3.customers.get("c1"), {"email": "a@b.co"}, "customerId"),
        (lambda s: s.v3.orders.get("o1"), {"customerId": "c1"}, "orderId"),
        (lambda s: s.v3.products.get("p1"), {"title": "Mug"}, "productId"),
        (lambda s: s.v3.loyalty.adjust_points("c1", points=1), {"customerId": "c1"}, "activityId"),
        (lambda s: s.v3.loyalty.void_coupon("c1", "C"), {"couponCode": "C"}, "rewardId"),
    ],
    ids=["customer", "order", "product", "activity", "reward"],
)
async def test_a_record_without_its_own_id_is_a_decode_error(
    call: Any, answer: dict[str, Any], field: str
) -> None:
    async with client(answering(answer)) as stamped:
        with pytest.raises(DecodeError, match=f"missing required field `{field}`"):
            await call(stamped)


async def test_decoded_models_encode_back_as_plain_json() -> None:
    import msgspec

    from stampsync.stamped.v3.models import Customer

    sent = {"customerId": 12, "email": "a@b.co", "activity": {"totalPoints": "40.5"}}
    async with client(answering(sent)) as stamped:
        got = await stamped.v3.customers.get("12")
    as_json = msgspec.json.decode(msgspec.json.encode(got))
    assert as_json["customerId"] == "12"
    assert as_json["activity"]["totalPoints"] == 40.5
    assert msgspec.to_builtins(got) == as_json
    assert msgspec.json.decode(msgspec.json.encode(got), type=Customer) == got
