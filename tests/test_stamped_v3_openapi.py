"""Every operation of the Stamped V3 reference, checked against its OpenAPI file.

The files are read here, so an operation without a method (or a method that strays
from its operation: method, path, header, query, body) fails. Each answer is built from
the operation's documented response schema, every property filled, plus a field the
reference does not know: it must decode, every documented field must land in the model,
and the unknown one must be ignored.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import msgspec
import msgspec.inspect
import pytest

from stampsync import StampedClient
from stampsync.stamped.v3 import OrderData, models
from stampsync.testing import HTTPRequest, HTTPResponse, MockTransport

#: The structural facts of the vendor's OpenAPI files (tests/data/extract_stamped_v3.py
#: writes it from the reference; prose and examples left out).
FACTS = Path(__file__).parent / "data" / "stamped_v3_reference.json"
FILES = ["stamped-loyalty-operations-openapi.json", "stamped-merchant-data-openapi.json"]
STORE = "270392"
KEY = "v3-key-for-tests-0123"


def load() -> list[dict[str, Any]]:
    """Every operation: method, path, operationId, parameters, body and answer schemas."""
    ops = []
    facts = json.loads(FACTS.read_text())
    for name in FILES:
        spec = facts[name]
        schemas = spec["components"]["schemas"]
        for path, item in spec["paths"].items():
            shared = item.get("parameters", [])
            for method, op in item.items():
                if method == "parameters":
                    continue
                body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
                answer = op["responses"]["200"]["content"]["application/json"]["schema"]
                ops.append(
                    {
                        "file": name,
                        "method": method.upper(),
                        "path": path,
                        "id": op["operationId"],
                        "params": shared + op.get("parameters", []),
                        "body": body.get("schema"),
                        "answer": answer,
                        "schemas": schemas,
                    }
                )
    return ops


OPERATIONS = load()

Call = Callable[[StampedClient], Awaitable[Any]]

ORDER = {
    "lineItems": [{"sku": "A-1", "quantity": "2", "price": "10.00"}],
    "shopPriceTotal": "20.00",
}

#: operationId -> (the call, the path parameters it must send).
CALLS: dict[str, tuple[Call, dict[str, str]]] = {
    "adjust-points": (
        lambda c: c.v3.loyalty.adjust_points("cus-1", points=25, reason="review"),
        {"customerId": "cus-1"},
    ),
    "loyalty-adjust-vip-tier": (
        lambda c: c.v3.loyalty.adjust_vip_tier("cus-1", tier_name="Gold"),
        {"customerId": "cus-1"},
    ),
    "loyalty-custom-activity": (
        lambda c: c.v3.loyalty.create_custom_activity(email="a@b.co", campaign_id="camp-1"),
        {},
    ),
    "loyalty-reports-activities": (
        lambda c: c.v3.loyalty.filter_activities(page=2, limit=50),
        {},
    ),
    "loyalty-redeem-reward": (
        lambda c: c.v3.loyalty.redeem_reward("cus-1", "rwd-1", points=500),
        {"customerId": "cus-1", "rewardId": "rwd-1"},
    ),
    "loyalty-reports-rewards": (lambda c: c.v3.loyalty.filter_rewards(page=0), {}),
    "loyalty-trigger-activity": (
        lambda c: c.v3.loyalty.trigger_activity("cus-1", rule_id="rule-1", title="Review"),
        {"customerId": "cus-1"},
    ),
    "loyalty-void-coupon": (
        lambda c: c.v3.loyalty.void_coupon("cus-1", "CODE-1"),
        {"customerId": "cus-1", "couponCode": "CODE-1"},
    ),
    "createCustomer": (
        lambda c: c.v3.customers.create(
            email="a@b.co",
            custom_customer_id="c-1",
            first_name="Ann",
            last_name="Lim",
            date_of_birth="1990-01-02",
            date_platform_updated="2026-01-01T00:00:00Z",
            tags=["vip"],
            addresses=[{"city": "Jakarta", "countryCode": "ID", "default": "true"}],
        ),
        {},
    ),
    "filterCustomers": (
        lambda c: c.v3.customers.filter(
            page=1,
            limit=10,
            email="ann",
            last_first=True,
            points_min=100,
            points_max=900.5,
            vip_tier="Gold",
            tags=["vip", "b2b"],
            date_platform_created="2026-01-01",
        ),
        {},
    ),
    "createOrder": (
        lambda c: c.v3.orders.create(
            custom_order_id="o-1", custom_customer_id="c-1", cart=ORDER, tags=["web"]
        ),
        {},
    ),
    "filterOrders": (lambda c: c.v3.orders.filter(page=3), {}),
    "createProduct": (
        lambda c: c.v3.products.create(
            custom_product_id="p-1",
            title="Mug",
            status="active",
            tags=["kitchen"],
            variants=[{"customVariantId": "v-1", "price": "9.50", "sku": "MUG"}],
            images=[{"urlSrc": "https://img.example/mug.png", "position": "1"}],
        ),
        {},
    ),
    "filterProducts": (
        lambda c: c.v3.products.filter(vendor="Acme", tags=["kitchen"], status="active"),
        {},
    ),
    "deleteCustomer": (lambda c: c.v3.customers.delete("cus-1"), {"customerId": "cus-1"}),
    "getCustomer": (lambda c: c.v3.customers.get("cus-1"), {"customerId": "cus-1"}),
    "updateCustomer": (
        lambda c: c.v3.customers.update("cus-1", first_name="Anne", tags=["x"]),
        {"customerId": "cus-1"},
    ),
    "deleteOrder": (lambda c: c.v3.orders.delete("ord-1"), {"orderId": "ord-1"}),
    "getOrder": (lambda c: c.v3.orders.get("ord-1"), {"orderId": "ord-1"}),
    "updateOrder": (
        lambda c: c.v3.orders.update("ord-1", fulfillment_status="fulfilled"),
        {"orderId": "ord-1"},
    ),
    "deleteProduct": (lambda c: c.v3.products.delete("prd-1"), {"productId": "prd-1"}),
    "getProduct": (lambda c: c.v3.products.get("prd-1"), {"productId": "prd-1"}),
    "updateProduct": (
        lambda c: c.v3.products.update("prd-1", title="Big mug"),
        {"productId": "prd-1"},
    ),
    "lookupCustomer": (lambda c: c.v3.customers.lookup(email="a@b.co"), {}),
    "lookupOrder": (lambda c: c.v3.orders.lookup(custom_order_id="o-1"), {}),
    "lookupProduct": (lambda c: c.v3.products.lookup(shopify_id="123"), {}),
}

#: Listing wrappers (the conventions file): their operations take ``page`` and ``limit``.
PAGINATED = {"PaginatedCustomers", "PaginatedOrders", "PaginatedProducts"}
PAGINATED |= {"PaginatedActivities", "PaginatedRewards"}


def _read_as_numbers() -> frozenset[str]:
    """The JSON names of the model fields read as numbers (points, money), whatever the
    reference types them as."""
    names = set()
    for name in models.__all__:
        info = msgspec.inspect.type_info(getattr(models, name))
        if isinstance(info, msgspec.inspect.StructType):
            for field in info.fields:
                kinds = getattr(field.type, "types", (field.type,))
                if any(isinstance(k, msgspec.inspect.FloatType) for k in kinds) and not any(
                    isinstance(k, msgspec.inspect.StrType) for k in kinds
                ):
                    names.add(field.encode_name)
    return frozenset(names)


#: Where the reference says string and the model says number, the answer carries a
#: numeric string (as the API sends): it must decode to that number.
NUMERIC = _read_as_numbers()


def resolve(schema: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = schemas[schema["$ref"].rsplit("/", 1)[1]]
    return schema


def example(schema: dict[str, Any], schemas: dict[str, Any], name: str = "x") -> Any:
    """A value of ``schema`` with every property present."""
    schema = resolve(schema, schemas)
    kind = schema.get("type", "object")
    if kind == "object":
        return {k: example(v, schemas, k) for k, v in schema.get("properties", {}).items()}
    if kind == "array":
        return [example(schema["items"], schemas, name)]
    if kind == "number":
        return 7
    if kind == "boolean":
        return True
    if name in NUMERIC:
        return "7.25"
    return f"{name}-value"


def conforms(value: Any, schema: dict[str, Any], schemas: dict[str, Any], where: str) -> None:
    """``value`` has only documented properties, each of its documented type."""
    schema = resolve(schema, schemas)
    kind = schema.get("type", "object")
    if kind == "object":
        assert isinstance(value, dict), where
        unknown = set(value) - set(schema.get("properties", {}))
        assert not unknown, f"{where}: not in the reference: {unknown}"
        for k, v in value.items():
            conforms(v, schema["properties"][k], schemas, f"{where}.{k}")
    elif kind == "array":
        assert isinstance(value, list), where
        for i, v in enumerate(value):
            conforms(v, schema["items"], schemas, f"{where}[{i}]")
    elif kind == "number":
        assert isinstance(value, int | float), where
        assert not isinstance(value, bool), where
    elif kind == "boolean":
        assert isinstance(value, bool), where
    else:
        assert isinstance(value, str), f"{where}: {value!r} is not a string"


def query_conforms(raw: str, op: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    documented = {p["name"]: p["schema"] for p in op["params"] if p["in"] == "query"}
    answer = resolve(op["answer"], schemas)
    if answer.get("type") == "array":
        answer = answer["items"]
    ref = op["answer"].get("$ref") or op["answer"].get("items", {}).get("$ref", "")
    if ref.rsplit("/", 1)[-1] in PAGINATED:
        documented.setdefault("page", {"type": "number"})
        documented.setdefault("limit", {"type": "number"})
    sent: dict[str, list[str]] = {}
    for k, v in parse_qsl(raw, keep_blank_values=True):
        sent.setdefault(k, []).append(v)
    for name, values in sent.items():
        assert name in documented, f"{op['id']}: query {name!r} is not in the reference"
        kind = documented[name].get("type")
        if kind != "array":
            assert len(values) == 1, f"{op['id']}: {name} sent {len(values)} times"
        for v in values:
            if kind == "number":
                float(v)
            elif kind == "boolean":
                assert v in ("true", "false"), f"{op['id']}: {name}={v!r}"
    return sent


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: f"{op['method']} {op['id']}")
async def test_the_operation_is_sent_as_the_reference_says(op: dict[str, Any]) -> None:
    assert op["id"] in CALLS, f"{op['id']} ({op['method']} {op['path']}) has no method"
    call, path_params = CALLS[op["id"]]
    schemas = op["schemas"]
    answer = example(op["answer"], schemas)
    # An unknown field at the top of the answer (and in a listed page) is ignored.
    if isinstance(answer, dict):
        answer["fieldFromTheFuture"] = {"any": "thing"}
    else:
        answer[0]["fieldFromTheFuture"] = 1
    seen: list[HTTPRequest] = []

    def handler(request: HTTPRequest) -> HTTPResponse:
        seen.append(request)
        return HTTPResponse.json(answer)

    async with StampedClient(
        store_hash=STORE, api_key=KEY, transport=MockTransport(handler)
    ) as client:
        result = await call(client)
    assert len(seen) == 1
    request = seen[0]
    assert request.method == op["method"]
    # The path: the template with the shop and the documented path parameters filled.
    pattern = re.escape(op["path"])
    names = re.findall(r"\\\{(\w+)\\\}", pattern)
    for name in names:
        pattern = pattern.replace(rf"\{{{name}\}}", f"(?P<{name}>[^/]+)")
    match = re.fullmatch(pattern, request.url.path)
    assert match, f"{request.url.path} does not match {op['path']}"
    assert match.groupdict() == {"shopId": STORE, **path_params}
    documented_path = {p["name"] for p in op["params"] if p["in"] == "path"}
    assert set(names) == documented_path
    # The header: the V3 key, and no V2 Authorization.
    assert request.headers["stamped-api-key"] == KEY
    assert "Authorization" not in request.headers
    query_conforms(request.url.raw_query_string, op, schemas)
    if op["body"] is None:
        assert request.body is None
    else:
        body = msgspec.json.decode(request.body or b"null")
        assert body, f"{op['id']}: an empty body"
        conforms(body, op["body"], schemas, op["id"])
        assert request.headers["Content-Type"] == "application/json"
    # The answer decoded, every documented field in the model.
    built = msgspec.to_builtins(result)
    expected = answer if isinstance(answer, dict) else answer[0]
    expected = {k: v for k, v in expected.items() if k != "fieldFromTheFuture"}
    assert _numbers(built) == _numbers(expected)


def _numbers(value: Any) -> Any:
    """Ints as floats: a number field decodes 7 as 7.0; a numeric string sent for a
    number field, as that number."""
    if isinstance(value, dict):
        return {
            k: float(v) if k in NUMERIC and isinstance(v, str) else _numbers(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def test_every_call_is_an_operation() -> None:
    assert set(CALLS) == {op["id"] for op in OPERATIONS}
    assert len(OPERATIONS) == 26


async def test_push_sends_what_create_sends() -> None:
    bodies: list[bytes | None] = []

    def handler(request: HTTPRequest) -> HTTPResponse:
        bodies.append(request.body)
        return HTTPResponse.json({"orderId": "ord-1"})

    async with StampedClient(
        store_hash=STORE, api_key=KEY, transport=MockTransport(handler)
    ) as client:
        await client.v3.orders.create(custom_order_id="o-1", custom_customer_id="c", cart=ORDER)
        data = msgspec.convert(
            {"customOrderId": "o-1", "customCustomerId": "c", "cart": ORDER}, OrderData
        )
        await client.v3.orders.push(data)
    assert bodies[0] == bodies[1]


def _extractor() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "extract", FACTS.with_name("extract_stamped_v3.py")
    )
    assert spec is not None
    assert spec.loader is not None
    extract = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(extract)
    return extract


def test_the_facts_file_is_the_extractors_output_shape() -> None:
    """Checked in every clone: both files, only structure (the extractor's ``strip`` finds
    no prose left to drop), and every operation the tests above take from it."""
    extract = _extractor()
    facts = json.loads(FACTS.read_text())
    assert sorted(facts) == FILES
    for name in FILES:
        assert set(facts[name]) == {"paths", "components"}
        assert extract.strip(facts[name]) == facts[name], f"{name}: prose in the facts file"
    assert len(OPERATIONS) >= 20


def test_the_facts_file_matches_the_vendors_reference() -> None:
    """The facts file is what the extractor makes of the vendor's files today. Those live
    outside the repository (``STAMPSYNC_V3_REFERENCE``, else ``shared/`` beside the
    clone, as CI lays it out): absent in CI, this fails; absent on a contributor's
    machine, it says so as a skip, never as a pass."""
    root = Path(__file__).resolve().parents[1]
    given = os.environ.get("STAMPSYNC_V3_REFERENCE")
    candidates = [Path(given)] if given else [root.parent / "shared" / "api-docs" / "stamped-v3"]
    found = [c for c in candidates if all((c / name).exists() for name in FILES)]
    if not found:
        message = f"the vendor's V3 reference is not at {candidates[0]} (files: {FILES})"
        if os.environ.get("CI") == "true":
            pytest.fail(message + ": CI lays shared/ beside the clone, so it must be there")
        pytest.skip(message)
    reference = found[0]
    facts = json.loads(FACTS.read_text())
    assert facts == json.loads(json.dumps(_extractor().extract(reference)))
