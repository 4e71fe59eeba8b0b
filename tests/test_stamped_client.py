"""Every Stamped.io operation: method, path, query or body, auth header, answer, errors."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aioresponses import aioresponses
from yarl import URL

from stampsync import StampedClient
from stampsync.errors import (
    AuthenticationError,
    ConfigurationError,
    DecodeError,
    NotFoundError,
    ValidationError,
)
from stampsync.stamped import PointsAction
from stampsync.testing import no_backoff
from tests._server import RecordingServer

BASE = "https://stamped.example"
STORE = "/api/v2/270392"
AUTH = "Basic " + base64.b64encode(b"pubkey-1:key-PRIVATE").decode()
CUSTOMER = {
    "id": 42,
    "email": "ann@x.co",
    "firstName": "Ann",
    "points": 150,
    "tier": "Gold",
    "totalSpend": 12.5,
    "tags": ["vip"],
    "createdAt": "2025-01-01T00:00:00Z",
}


@dataclass
class Case:
    name: str
    call: Callable[[StampedClient], Awaitable[Any]]
    method: str
    path: str
    query: dict[str, str] | None
    body: Any
    answer: Any
    check: Callable[[Any], bool]


CASES = [
    Case(
        "customers.create",
        lambda c: c.customers.create(
            email="ann@x.co", first_name="Ann", tags=["vip"], total_orders=3
        ),
        "POST",
        "/dashboard/customers/add",
        None,
        {"email": "ann@x.co", "firstName": "Ann", "tags": ["vip"], "totalOrders": 3},
        CUSTOMER,
        lambda r: r.id == 42 and r.first_name == "Ann",
    ),
    Case(
        "customers.list",
        lambda c: c.customers.list(page=3, limit=50),
        "GET",
        "/dashboard/customers",
        {"page": "3", "limit": "50"},
        None,
        {"data": [CUSTOMER], "total": 101, "page": 3},
        lambda r: r.total == 101 and r.items[0].total_spend == 12.5,
    ),
    Case(
        "customers.list_customers",
        lambda c: c.customers.list_customers(page=2, limit=10),
        "GET",
        "/customers",
        {"page": "2", "limit": "10"},
        None,
        {"data": [CUSTOMER], "total": 11, "page": 2},
        lambda r: r.total == 11 and r.items[0].id == 42,
    ),
    Case(
        "customers.get",
        lambda c: c.customers.get(42),
        "GET",
        "/dashboard/customers/42",
        None,
        None,
        CUSTOMER,
        lambda r: r.tier == "Gold",
    ),
    Case(
        "customers.update",
        lambda c: c.customers.update("42", last_name="Lee", points=10),
        "POST",
        "/dashboard/customers/42",
        None,
        {"lastName": "Lee", "points": 10},
        {**CUSTOMER, "lastName": "Lee"},
        lambda r: r.last_name == "Lee",
    ),
    Case(
        "customers.upsert",
        lambda c: c.customers.upsert(email="ann@x.co", first_name="Ann", customer_id="s-9"),
        "POST",
        "/customers",
        None,
        {"email": "ann@x.co", "firstName": "Ann", "customerId": "s-9"},
        {**CUSTOMER, "customerId": "s-9"},
        lambda r: r.customer_id == "s-9",
    ),
    Case(
        "customers.get_by_email",
        lambda c: c.customers.get_by_email("a+b/c@x.co"),
        "GET",
        "/customers/a%2Bb%2Fc%40x.co",
        None,
        None,
        CUSTOMER,
        lambda r: r.email == "ann@x.co",
    ),
    Case(
        "customers.delete",
        lambda c: c.customers.delete("ann@x.co"),
        "DELETE",
        "/customers/ann%40x.co",
        None,
        None,
        {"success": True, "message": "Customer deleted."},
        lambda r: r.success is True,
    ),
    Case(
        "customers.adjust_points",
        lambda c: c.customers.adjust_points(email="ann@x.co", points=50, action="add"),
        "POST",
        "/customers/points",
        None,
        {"email": "ann@x.co", "points": 50, "action": "add"},
        {"email": "ann@x.co", "points": 200, "updatedAt": "2025-06-01T10:00:00Z"},
        lambda r: r.points == 200 and r.updated_at.startswith("2025"),
    ),
    Case(
        "subscriptions.subscribe",
        lambda c: c.subscriptions.subscribe(email="ann@x.co"),
        "POST",
        "/survey/subscribe",
        None,
        {"email": "ann@x.co"},
        {"success": True},
        lambda r: r is None,
    ),
    Case(
        "subscriptions.unsubscribe",
        lambda c: c.subscriptions.unsubscribe(email="ann@x.co"),
        "POST",
        "/survey/unsubscribe",
        None,
        {"email": "ann@x.co"},
        {},
        lambda r: r is None,
    ),
    Case(
        "loyalty.create_transaction",
        lambda c: c.loyalty.create_transaction(
            email="ann@x.co", type="custom", points=25, note="Referral bonus"
        ),
        "POST",
        "/loyalty/transactions",
        None,
        {"email": "ann@x.co", "type": "custom", "points": 25, "note": "Referral bonus"},
        {"transactionId": "txn_001", "email": "ann@x.co", "points": 25, "type": "custom"},
        lambda r: r.transaction_id == "txn_001",
    ),
    Case(
        "loyalty.tiers",
        lambda c: c.loyalty.tiers(),
        "GET",
        "/loyalty/tiers",
        None,
        None,
        {"tiers": [{"name": "Silver", "minPoints": 0}, {"name": "Gold", "minPoints": 500}]},
        lambda r: [t.min_points for t in r.tiers] == [0, 500],
    ),
    Case(
        "reviews.list",
        lambda c: c.reviews.list(email="ann@x.co", page=2, limit=10),
        "GET",
        "/reviews",
        {"email": "ann@x.co", "page": "2", "limit": "10"},
        None,
        {"data": [{"reviewId": "abc123", "rating": 5, "body": "Great"}], "total": 11},
        lambda r: r.items[0].key == "abc123" and r.total == 11,
    ),
]


@pytest.fixture
async def client() -> AsyncIterator[StampedClient]:
    async with StampedClient("pubkey-1", "key-PRIVATE", "270392", api_url=BASE) as c:
        yield c


def mock_for(mock: aioresponses, method: str, path: str, **kwargs: Any) -> None:
    mock.add(re.compile(re.escape(BASE + STORE + path) + r"(\?.*)?$"), method, **kwargs)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_operation_request_and_answer(client: StampedClient, case: Case) -> None:
    with aioresponses() as mock:
        mock_for(mock, case.method, case.path, payload=case.answer)
        result = await case.call(client)
        [(key, calls)] = list(mock.requests.items())
    method, url = key
    assert method == case.method
    # aioresponses records a normalised URL; the wire encoding is checked below.
    assert URL(str(url)).path == URL(STORE + case.path, encoded=True).path
    assert dict(URL(str(url)).query) == (case.query or {})
    kwargs = calls[0].kwargs
    assert kwargs["headers"]["Authorization"] == AUTH
    sent = kwargs.get("data")
    assert (json.loads(sent) if sent is not None else None) == case.body
    assert case.check(result)


async def test_email_in_path_is_percent_encoded_on_the_wire(server: RecordingServer) -> None:
    async with StampedClient("pub", "key", "1", api_url=server.url) as c:
        await c.customers.get_by_email("a+b/c@x.co")
        await c.customers.delete("a+b/c@x.co")
    assert [a.raw_path for a in server.arrivals] == ["/api/v2/1/customers/a%2Bb%2Fc%40x.co"] * 2
    assert [a.method for a in server.arrivals] == ["GET", "DELETE"]


async def test_400_with_field_errors(client: StampedClient) -> None:
    with aioresponses() as mock:
        mock_for(
            mock,
            "POST",
            "/customers",
            status=400,
            payload={"message": "Invalid", "errors": {"email": ["is invalid"]}},
        )
        with pytest.raises(ValidationError) as info:
            await client.customers.upsert(email="ann@x.co")
    assert info.value.errors == {"email": "is invalid"}
    assert info.value.message == "Invalid"


@pytest.mark.parametrize(("status", "exc"), [(401, AuthenticationError), (404, NotFoundError)])
async def test_auth_and_missing(client: StampedClient, status: int, exc: type[Exception]) -> None:
    with aioresponses() as mock:
        mock_for(mock, "GET", "/dashboard/customers/7", status=status, body="")
        with pytest.raises(exc):
            await client.customers.get(7)


async def test_429_then_success(client: StampedClient) -> None:
    with aioresponses() as mock:
        mock_for(mock, "GET", "/loyalty/tiers", status=429, headers={"Retry-After": "0"})
        mock_for(mock, "GET", "/loyalty/tiers", payload={"tiers": [{"name": "Gold"}]})
        tiers = await client.loyalty.tiers()
    assert tiers.tiers[0].name == "Gold"


async def test_malformed_body(client: StampedClient) -> None:
    with aioresponses() as mock:
        mock_for(
            mock,
            "GET",
            "/dashboard/customers",
            body=b'{"data": [{"id": 1}',
            content_type="application/json",
            repeat=True,
        )
        with no_backoff(), pytest.raises(DecodeError) as caught:
            await client.customers.list()
    assert caught.value.malformed  # retried (max_retries) before it was raised


async def test_lenient_shapes(client: StampedClient) -> None:
    body = {"results": [{"id": "abc", "points": "x-not-a-number-is-fine?"}], "total": 1}
    with aioresponses() as mock:
        mock_for(mock, "GET", "/dashboard/customers", payload={"customers": [{"id": "7"}]})
        page = await client.customers.list()
    assert page.items[0].id == "7"
    assert page.total is None
    with aioresponses() as mock:  # a string where a number goes is not tolerated
        mock_for(mock, "GET", "/dashboard/customers", payload=body)
        with pytest.raises(DecodeError):
            await client.customers.list()


async def test_adjust_points_idempotency_depends_on_action(client: StampedClient) -> None:
    from stampsync.errors import AmbiguousWriteError

    with aioresponses() as mock, no_backoff():
        mock_for(mock, "POST", "/customers/points", status=502)
        mock_for(mock, "POST", "/customers/points", payload={"points": 1})
        with pytest.raises(AmbiguousWriteError):
            await client.customers.adjust_points(email="a@x.co", points=1, action="subtract")
    with aioresponses() as mock, no_backoff():
        mock_for(mock, "POST", "/customers/points", status=502)
        mock_for(mock, "POST", "/customers/points", payload={"points": 1})
        result = await client.customers.adjust_points(
            email="a@x.co", points=1, action=PointsAction.SET
        )
    assert result.points == 1


BAD = [
    (lambda c: c.customers.create(email="nope"), "email"),
    (lambda c: c.customers.upsert(email=""), "email"),
    (lambda c: c.customers.upsert(email="a@x.co", favourite_colour="red"), "favourite_colour"),
    (lambda c: c.customers.create(email="a@x.co", favourite_colour="red"), "favourite_colour"),
    (lambda c: c.customers.update(1, colour="red"), "colour"),
    (lambda c: c.customers.list(page=0), "page"),
    (lambda c: c.customers.list(limit=101), "limit"),
    (lambda c: c.customers.get(""), "customer_id"),
    (lambda c: c.customers.update(1), "at least one field"),
    (lambda c: c.customers.adjust_points(email="a@x.co", points=1, action="double"), "action"),
    (lambda c: c.customers.adjust_points(email="a@x.co", points=-1, action="add"), "points"),
    (lambda c: c.customers.create(email="a@x.co", tags="vip"), "tags"),
    (lambda c: c.subscriptions.subscribe(email="a@"), "email"),
    (lambda c: c.loyalty.create_transaction(email="a@x.co", type=""), "type"),
    (lambda c: c.reviews.list(limit=500), "limit"),
]


@pytest.mark.parametrize(("call", "field"), BAD)
async def test_bad_input_names_the_field_and_sends_nothing(
    client: StampedClient, call: Callable[[StampedClient], Awaitable[Any]], field: str
) -> None:
    with aioresponses() as mock:
        with pytest.raises(ConfigurationError, match=field):
            await call(client)
        assert mock.requests == {}


def test_export_arguments_are_checked_before_iterating(client: StampedClient) -> None:
    with pytest.raises(ConfigurationError, match="limit"):
        client.customers.export(page_size=1000)
    with pytest.raises(ConfigurationError, match="start_page"):
        client.customers.export(start_page=0)


def test_store_hash_is_required() -> None:
    with pytest.raises(ConfigurationError, match="store_hash"):
        StampedClient("pub", "key", " ")
