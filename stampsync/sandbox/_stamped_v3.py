"""The sandbox's Stamped V3 routes and state: loyalty operations and merchant data.

Written from the V3 reference: points and VIP tiers that adjust, activities recorded
and listed, rewards redeemed into coupons that can be voided, customers, orders and
products that upsert (by their custom platform id) and list. Listings page as the
reference's defaults say (``page`` from 0, ``limit`` 25) and answer ``morePages``.
Errors are ``{"message": ...}``.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable
from functools import partial
from typing import Any

import msgspec
from aiohttp import web

from .._codec import JSON_ERRORS
from .._endpoint import Endpoint
from ..stamped.v3 import customers, loyalty, orders, products
from ._data_common import FIRST, LAST, _h, now_iso
from ._middleware import json_response
from ._routes import endpoint_routes
from ._stamped_data import TIERS

#: Reward rules a customer can redeem: id -> (title, points, coupon value).
REWARD_RULES = {
    "reward-5-off": ("$5 off", 500, "5.00"),
    "reward-10-off": ("$10 off", 900, "10.00"),
    "reward-free-shipping": ("Free shipping", 300, "shipping"),
}
#: Custom activity campaigns and triggerable rules: id -> (title, points credited).
RULES = {
    "campaign-signup": ("Signed up", 100),
    "campaign-survey": ("Answered a survey", 50),
    "rule-review": ("Wrote a review", 200),
    "rule-birthday": ("Birthday", 250),
}
SEEDED_CUSTOMERS = 40
MAX_LIMIT = 100


def _error(message: str, status: int = 400) -> web.Response:
    return json_response({"message": message}, status)


async def _json(request: web.Request) -> dict[str, Any] | web.Response:
    try:
        data = msgspec.json.decode(await request.read())
    except JSON_ERRORS:
        return _error("Body must be JSON")
    if not isinstance(data, dict):
        return _error("Body must be a JSON object")
    return data


def _paging(request: web.Request) -> tuple[int, int] | web.Response:
    try:
        page = int(request.query.get("page", "0"))
        limit = int(request.query.get("limit", "25"))
    except ValueError:
        return _error("page and limit must be integers")
    if page < 0 or not 1 <= limit <= MAX_LIMIT:
        return _error(f"page must be >= 0 and limit between 1 and {MAX_LIMIT}")
    return page, limit


def _page(items: list[dict[str, Any]], page: int, limit: int, key: str) -> dict[str, Any]:
    return {
        "page": page,
        "limit": limit,
        "morePages": (page + 1) * limit < len(items),
        "subset": False,
        key: items[page * limit : (page + 1) * limit],
    }


def _digest(data: object) -> str:
    return hashlib.blake2b(msgspec.json.encode(data), digest_size=8).hexdigest()


def _tier(points: float) -> str:
    return next(name for name, floor in reversed(TIERS) if points >= floor)


class StampedV3Store:
    """One shop's V3 state. Customers are seeded; everything else starts empty."""

    CUSTOMER_FIELDS = (
        "email",
        "customCustomerId",
        "firstName",
        "lastName",
        "dateOfBirth",
        "datePlatformUpdated",
        "tags",
        "addresses",
    )
    PRODUCT_FIELDS = (
        "customProductId",
        "publishedScope",
        "status",
        "title",
        "htmlProductDescription",
        "vendor",
        "type",
        "handle",
        "datePublished",
        "datePlatformUpdated",
        "tags",
        "variants",
        "images",
    )

    def __init__(
        self, seed: int, shop_id: str, emit: Callable[[str, dict[str, Any]], None] | None = None
    ) -> None:
        self.shop_id = shop_id
        #: Told of each event a webhook would push (points moved, a tier changed).
        self.emit = emit or (lambda topic, payload: None)
        self.customers: dict[str, dict[str, Any]] = {}
        self.orders: dict[str, dict[str, Any]] = {}
        self.products: dict[str, dict[str, Any]] = {}
        self.activities: list[dict[str, Any]] = []
        self.rewards: list[dict[str, Any]] = []
        #: How many times each order was written (created or upserted), by order id.
        self.order_writes: dict[str, int] = {}
        self.order_by_custom: dict[str, str] = {}
        self._ids = itertools.count(1)
        for i in range(1, SEEDED_CUSTOMERS + 1):
            h = _h(seed, "stamped-v3", i)
            points = h % 2000
            self._new_customer(
                {
                    "email": f"customer{i}@example.com",
                    "customCustomerId": f"shop-{i}",
                    "firstName": FIRST[h % len(FIRST)],
                    "lastName": LAST[(h >> 8) % len(LAST)],
                    "tags": [],
                },
                points=points,
            )

    def _next(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):06d}"

    def _stamp(self, record: dict[str, Any], id_key: str, prefix: str) -> dict[str, Any]:
        now = now_iso()
        record.setdefault(id_key, self._next(prefix))
        record.setdefault("accountId", "acc_sandbox")
        record["shopId"] = self.shop_id
        record.setdefault("dateStampedCreated", now)
        record.setdefault("datePlatformCreated", now)
        record["dateStampedUpdated"] = now
        return record

    def _new_customer(self, fields: dict[str, Any], points: float = 0) -> dict[str, Any]:
        record = self._stamp(dict(fields), "customerId", "cus")
        record["referralCode"] = f"REF{record['customerId'][-6:]}"
        record["activity"] = {
            "vipTier": _tier(points),
            "totalPoints": points,
            "totalReviews": 0,
            "totalAffiliateOrders": 0,
        }
        self.customers[record["customerId"]] = record
        return record

    def find(self, table: dict[str, dict[str, Any]], field: str, value: str) -> Any:
        for record in table.values():
            if not record.get("deleted") and str(record.get(field, "")).lower() == value.lower():
                return record
        return None

    def customer(self, customer_id: str) -> dict[str, Any] | None:
        record = self.customers.get(customer_id)
        return None if record is None or record.get("deleted") else record

    def points(self, record: dict[str, Any]) -> float:
        value: float = record["activity"]["totalPoints"]
        return value

    def record_activity(
        self,
        record: dict[str, Any],
        *,
        category: str,
        title: str,
        credit: float = 0,
        debit: float = 0,
        order_id: str | None = None,
        tier: str | None = None,
    ) -> dict[str, Any]:
        standing = record["activity"]
        standing["totalPoints"] = self.points(record) + credit - debit
        standing["dateTotalPointsUpdated"] = now_iso()
        new_tier = tier or _tier(standing["totalPoints"])
        old_tier = standing.get("vipTier")
        if new_tier != old_tier:
            standing["vipTier"] = new_tier
            standing["dateVipTierUpdated"] = now_iso()
        detail: dict[str, Any] = {"pointsCredit": credit, "pointsDebit": debit, "event": title}
        if order_id is not None:
            detail["orderId"] = order_id
        activity = {
            "activityId": self._next("act"),
            "customerId": record["customerId"],
            "dateCreated": now_iso(),
            "rule": {"category": category, "type": category, "title": title},
            "activity": detail,
        }
        self.activities.append(activity)
        who = {"customerEmail": record.get("email"), "dateCreated": activity["dateCreated"]}
        if credit or debit:
            self.emit(
                "points.earned" if credit >= debit else "points.spent",
                {
                    "id": activity["activityId"],
                    **who,
                    "points": credit - debit,
                    "pointsBalance": standing["totalPoints"],
                    "reason": title,
                },
            )
        if new_tier != old_tier:
            self.emit(
                "vip.tier.changed",
                {
                    "id": f"tier_{activity['activityId']}",
                    **who,
                    "oldTier": old_tier,
                    "newTier": new_tier,
                },
            )
        return activity


class RecordKind(msgspec.Struct, frozen=True):
    """A kind of record the V3 sandbox keeps: its table on the store, its path
    parameter and name, its id field and prefix, what an update may change and which
    fields a lookup takes."""

    table: str
    param: str
    what: str
    id_field: str
    prefix: str
    editable: tuple[str, ...]
    lookup: tuple[str, ...]


CUSTOMER = RecordKind(
    "customers",
    "customer_id",
    "Customer",
    "customerId",
    "cus",
    StampedV3Store.CUSTOMER_FIELDS,
    ("email", "customCustomerId", "shopifyId", "bigcommerceId"),
)
ORDER = RecordKind(
    "orders",
    "order_id",
    "Order",
    "orderId",
    "ord",
    (),
    ("customOrderId", "shopifyId", "bigcommerceId"),
)
PRODUCT = RecordKind(
    "products",
    "product_id",
    "Product",
    "productId",
    "prd",
    StampedV3Store.PRODUCT_FIELDS,
    ("customProductId", "shopifyId", "bigcommerceId"),
)


class StampedV3Routes:
    """Handlers over a :class:`StampedV3Store`."""

    def __init__(self, store: StampedV3Store) -> None:
        self.store = store

    def routes(self, store_hash: str) -> list[web.RouteDef]:
        table: list[tuple[Endpoint[Any], Any]] = [
            (loyalty.ADJUST_POINTS, self.adjust_points),
            (loyalty.ADJUST_VIP_TIER, self.adjust_vip_tier),
            (loyalty.CREATE_CUSTOM_ACTIVITY, self.custom_activity),
            (loyalty.FILTER_ACTIVITIES, self.list_activities),
            (loyalty.REDEEM_REWARD, self.redeem),
            (loyalty.FILTER_REWARDS, self.list_rewards),
            (loyalty.TRIGGER_ACTIVITY, self.trigger),
            (loyalty.VOID_COUPON, self.void),
            # lookup before {customer_id}: aiohttp matches in order of registration
            (customers.LOOKUP_CUSTOMER, partial(self.lookup_record, CUSTOMER)),
            (customers.CREATE_CUSTOMER, self.create_customer),
            (customers.FILTER_CUSTOMERS, self.filter_customers),
            (customers.GET_CUSTOMER, partial(self.get_record, CUSTOMER)),
            (customers.UPDATE_CUSTOMER, partial(self.update_record, CUSTOMER)),
            (customers.DELETE_CUSTOMER, partial(self.delete_record, CUSTOMER)),
            (orders.LOOKUP_ORDER, partial(self.lookup_record, ORDER)),
            (orders.CREATE_ORDER, self.create_order),
            (orders.FILTER_ORDERS, self.filter_orders),
            (orders.GET_ORDER, partial(self.get_record, ORDER)),
            (orders.UPDATE_ORDER, self.update_order),
            (orders.DELETE_ORDER, partial(self.delete_record, ORDER)),
            (products.LOOKUP_PRODUCT, partial(self.lookup_record, PRODUCT)),
            (products.CREATE_PRODUCT, self.create_product),
            (products.FILTER_PRODUCTS, self.filter_products),
            (products.GET_PRODUCT, partial(self.get_record, PRODUCT)),
            (products.UPDATE_PRODUCT, partial(self.update_record, PRODUCT)),
            (products.DELETE_PRODUCT, partial(self.delete_record, PRODUCT)),
        ]
        return endpoint_routes(table, store_hash=store_hash)

    # -- loyalty ------------------------------------------------------------------

    def _customer(self, request: web.Request) -> dict[str, Any] | web.Response:
        record = self.store.customer(request.match_info["customer_id"])
        return _error("Customer not found", 404) if record is None else record

    async def adjust_points(self, request: web.Request) -> web.Response:
        record = self._customer(request)
        if isinstance(record, web.Response):
            return record
        data = await _json(request)
        if isinstance(data, web.Response):
            return data
        points = data.get("points")
        if isinstance(points, bool) or not isinstance(points, int | float) or points == 0:
            return _error("points must be a non-zero number")
        if self.store.points(record) + points < 0:
            return _error("Insufficient points")
        activity = self.store.record_activity(
            record,
            category="adjustment",
            title=str(data.get("reason") or "Points adjusted"),
            credit=max(points, 0),
            debit=max(-points, 0),
        )
        return json_response(activity)

    async def adjust_vip_tier(self, request: web.Request) -> web.Response:
        record = self._customer(request)
        if isinstance(record, web.Response):
            return record
        data = await _json(request)
        if isinstance(data, web.Response):
            return data
        names = {name for name, _ in TIERS}
        tier = data.get("tierName")
        if tier not in names:
            return _error(f"tierName must be one of {', '.join(sorted(names))}")
        assert isinstance(tier, str)
        return json_response(
            self.store.record_activity(record, category="vip", title=f"Tier {tier}", tier=tier)
        )

    def _rule(self, rule_id: str | None, title: str | None) -> tuple[str, str, int] | None:
        for key, (name, points) in RULES.items():
            if key == rule_id or (rule_id is None and name == title):
                return key, name, points
        return None

    def _triggered(self, record: dict[str, Any], rule: tuple[str, str, int]) -> web.Response:
        key, name, points = rule
        activity = self.store.record_activity(record, category="custom", title=name, credit=points)
        return json_response(
            {
                "customerId": record["customerId"],
                "ruleId": key,
                "activityId": activity["activityId"],
                "pointsAdded": points,
            }
        )

    async def custom_activity(self, request: web.Request) -> web.Response:
        email = request.query.get("email", "")
        record = self.store.find(self.store.customers, "email", email) if email else None
        if record is None:
            return _error("Customer not found", 404)
        rule = self._rule(request.query.get("campaignId"), None)
        if rule is None or not rule[0].startswith("campaign-"):
            return _error("Campaign not found", 404)
        return self._triggered(record, rule)

    async def trigger(self, request: web.Request) -> web.Response:
        record = self._customer(request)
        if isinstance(record, web.Response):
            return record
        rule = self._rule(request.query.get("ruleId"), request.query.get("title"))
        if rule is None:
            return _error("Rule not found", 404)
        return self._triggered(record, rule)

    async def list_activities(self, request: web.Request) -> web.Response:
        paging = _paging(request)
        if isinstance(paging, web.Response):
            return paging
        return json_response(_page(self.store.activities, *paging, "activities"))

    async def redeem(self, request: web.Request) -> web.Response:
        record = self._customer(request)
        if isinstance(record, web.Response):
            return record
        found = REWARD_RULES.get(request.match_info["reward_id"])
        if found is None:
            return _error("Reward not found", 404)
        title, cost, value = found
        if "points" in request.query:
            try:
                cost = int(float(request.query["points"]))
            except ValueError:
                return _error("points must be a number")
        if cost <= 0 or self.store.points(record) < cost:
            return _error("Insufficient points")
        activity = self.store.record_activity(
            record, category="redemption", title=title, debit=cost
        )
        reward = {
            "rewardId": self.store._next("rwd"),
            "activityId": activity["activityId"],
            "customerId": record["customerId"],
            "status": "active",
            "title": title,
            "description": f"{title} for {cost} points",
            "couponCode": f"STMP-{activity['activityId'][-6:]}",
            "category": "coupon",
            "type": "discount",
            "value": value,
            "dateCreated": now_iso(),
        }
        self.store.rewards.append(reward)
        return json_response(activity)

    async def list_rewards(self, request: web.Request) -> web.Response:
        paging = _paging(request)
        if isinstance(paging, web.Response):
            return paging
        return json_response(_page(self.store.rewards, *paging, "rewards"))

    async def void(self, request: web.Request) -> web.Response:
        record = self._customer(request)
        if isinstance(record, web.Response):
            return record
        code = request.match_info["coupon_code"]
        for reward in self.store.rewards:
            if reward["couponCode"] == code and reward["customerId"] == record["customerId"]:
                reward["status"] = "voided"
                return json_response(reward)
        return _error("Coupon not found", 404)

    # -- merchant data ------------------------------------------------------------

    def _by_id(
        self, request: web.Request, table: dict[str, dict[str, Any]], key: str, what: str
    ) -> dict[str, Any] | web.Response:
        record = table.get(request.match_info[key])
        if record is None or record.get("deleted"):
            return _error(f"{what} not found", 404)
        return record

    def _lookup(
        self, request: web.Request, table: dict[str, dict[str, Any]], fields: tuple[str, ...]
    ) -> web.Response:
        for field in fields:
            value = request.query.get(field)
            if value:
                found = self.store.find(table, field, value)
                return _error("Not found", 404) if found is None else json_response(found)
        return _error(f"one of {', '.join(fields)} is required")

    def _listing(self, request: web.Request, table: dict[str, Any], key: str) -> web.Response:
        paging = _paging(request)
        if isinstance(paging, web.Response):
            return paging
        special = ("page", "limit", "tags", "vipTier", "pointsMin", "pointsMax")
        filters = {k: v for k, v in request.query.items() if k not in special}
        tags = set(request.query.getall("tags", []))
        tier = request.query.get("vipTier")
        try:
            low = float(request.query.get("pointsMin", "-inf"))
            high = float(request.query.get("pointsMax", "inf"))
        except ValueError:
            return _error("pointsMin and pointsMax must be numbers")
        items = []
        for record in table.values():
            if record.get("deleted"):
                continue
            standing = record.get("activity") or {}
            if tier is not None and standing.get("vipTier") != tier:
                continue
            if not low <= float(standing.get("totalPoints") or 0) <= high:
                continue
            if any(
                not str(record.get(k, "")).lower().startswith(v.lower())
                for k, v in filters.items()
                if k in record
            ):
                continue
            if tags and not tags <= set(record.get("tags") or []):
                continue
            items.append(record)
        return json_response(_page(items, *paging, key))

    def _get(
        self, request: web.Request, table: dict[str, dict[str, Any]], key: str, what: str
    ) -> web.Response:
        found = self._by_id(request, table, key, what)
        return found if isinstance(found, web.Response) else json_response(found)

    def _delete(
        self, request: web.Request, table: dict[str, dict[str, Any]], key: str, what: str
    ) -> web.Response:
        found = self._by_id(request, table, key, what)
        if isinstance(found, web.Response):
            return found
        found["deleted"] = "true"
        found["dateDeleted"] = now_iso()
        return json_response({"softDelete": True})

    async def _edit(
        self, request: web.Request, table: dict[str, dict[str, Any]], key: str, what: str
    ) -> tuple[dict[str, Any], dict[str, Any]] | web.Response:
        """The record to update and the request's changes, or the answer refusing them."""
        found = self._by_id(request, table, key, what)
        if isinstance(found, web.Response):
            return found
        data = await _json(request)
        return data if isinstance(data, web.Response) else (found, data)

    def _paged_array(self, request: web.Request, table: dict[str, Any], key: str) -> web.Response:
        # The reference answers the order and product listings with an array of pages.
        response = self._listing(request, table, key)
        if response.status != 200:
            return response
        assert isinstance(response.body, bytes)
        return web.Response(body=b"[" + response.body + b"]", content_type="application/json")

    async def create_customer(self, request: web.Request) -> web.Response:
        data = await _json(request)
        if isinstance(data, web.Response):
            return data
        fields = {k: data[k] for k in StampedV3Store.CUSTOMER_FIELDS if k in data}
        if not fields.get("email") and not fields.get("customCustomerId"):
            return _error("email or customCustomerId is required")
        existing = None
        if fields.get("customCustomerId"):
            existing = self.store.find(
                self.store.customers, "customCustomerId", fields["customCustomerId"]
            )
        if existing is not None:
            existing.update(fields)
            return json_response(self.store._stamp(existing, "customerId", "cus"))
        return json_response(self.store._new_customer(fields))

    async def filter_customers(self, request: web.Request) -> web.Response:
        return self._listing(request, self.store.customers, "customers")

    # -- one kind of record: get, update, delete, look up ---------------------------

    async def get_record(self, kind: RecordKind, request: web.Request) -> web.Response:
        return self._get(request, getattr(self.store, kind.table), kind.param, kind.what)

    async def update_record(self, kind: RecordKind, request: web.Request) -> web.Response:
        edit = await self._edit(request, getattr(self.store, kind.table), kind.param, kind.what)
        if isinstance(edit, web.Response):
            return edit
        found, data = edit
        found.update({k: data[k] for k in kind.editable if k in data})
        return json_response(self.store._stamp(found, kind.id_field, kind.prefix))

    async def delete_record(self, kind: RecordKind, request: web.Request) -> web.Response:
        return self._delete(request, getattr(self.store, kind.table), kind.param, kind.what)

    async def lookup_record(self, kind: RecordKind, request: web.Request) -> web.Response:
        return self._lookup(request, getattr(self.store, kind.table), kind.lookup)

    def _cart(self, cart: object) -> dict[str, Any] | None:
        return cart if isinstance(cart, dict) else None

    async def create_order(self, request: web.Request) -> web.Response:
        data = await _json(request)
        if isinstance(data, web.Response):
            return data
        cart = self._cart(data.get("cart"))
        if cart is None or not isinstance(cart.get("lineItems"), list):
            return _error("cart with lineItems is required")
        customer = None
        if data.get("customerId"):
            customer = self.store.customer(str(data["customerId"]))
        elif data.get("customCustomerId"):
            customer = self.store.find(
                self.store.customers, "customCustomerId", str(data["customCustomerId"])
            )
        if customer is None:
            return _error("Customer not found", 404)
        existing = None
        custom = data.get("customOrderId")
        if custom:
            # An index, not a scan: a push of thousands of orders stays linear.
            known = self.store.orders.get(self.store.order_by_custom.get(str(custom), ""))
            existing = None if known is None or known.get("deleted") else known
        record = existing if existing is not None else {}
        record.update(
            {
                "customerId": customer["customerId"],
                "customOrderId": custom,
                "currency": cart.get("shopCurrency"),
                "tags": data.get("tags") or [],
            }
        )
        record["cartStates"] = [cart]
        record.setdefault("orderEntries", []).append(
            {"cartHash": _digest(cart), "event": "push", "date": now_iso()}
        )
        record = self.store._stamp(record, "orderId", "ord")
        self.store.orders[record["orderId"]] = record
        if custom:
            self.store.order_by_custom[str(custom)] = record["orderId"]
        self.store.order_writes[record["orderId"]] = (
            self.store.order_writes.get(record["orderId"], 0) + 1
        )
        if existing is None:  # a new order earns its points once, as a purchase
            try:
                total = float(cart.get("shopPriceTotal") or 0)
            except (TypeError, ValueError):
                total = 0.0
            self.store.record_activity(
                customer,
                category="purchase",
                title="Placed an order",
                credit=int(total),
                order_id=record["orderId"],
            )
        return json_response(record)

    async def filter_orders(self, request: web.Request) -> web.Response:
        return self._paged_array(request, self.store.orders, "orders")

    async def update_order(self, request: web.Request) -> web.Response:
        edit = await self._edit(request, self.store.orders, "order_id", "Order")
        if isinstance(edit, web.Response):
            return edit
        found, data = edit
        states = found.setdefault("cartStates", [{}])
        states.append({**states[-1], **data})
        found["orderEntries"].append(
            {"cartHash": _digest(data), "event": "update", "date": now_iso()}
        )
        return json_response(self.store._stamp(found, "orderId", "ord"))

    async def create_product(self, request: web.Request) -> web.Response:
        data = await _json(request)
        if isinstance(data, web.Response):
            return data
        fields = {k: data[k] for k in StampedV3Store.PRODUCT_FIELDS if k in data}
        if not fields.get("title") and not fields.get("customProductId"):
            return _error("title or customProductId is required")
        existing = None
        if fields.get("customProductId"):
            existing = self.store.find(
                self.store.products, "customProductId", str(fields["customProductId"])
            )
        record = existing if existing is not None else {}
        record.update(fields)
        record = self.store._stamp(record, "productId", "prd")
        self.store.products[record["productId"]] = record
        return json_response(record)

    async def filter_products(self, request: web.Request) -> web.Response:
        return self._paged_array(request, self.store.products, "products")

    # -- inspection (tests only) --------------------------------------------------

    def inspection_routes(self) -> list[web.RouteDef]:
        """``/__sandbox/v3/...``: what the V3 side holds (orders with how many times
        each was written, customers by id, activities, rewards)."""

        async def state(request: web.Request) -> web.Response:
            what = request.match_info["what"]
            store = self.store
            if what == "orders":
                return json_response(
                    [
                        {**o, "writes": store.order_writes.get(o["orderId"], 0)}
                        for o in store.orders.values()
                    ]
                )
            tables: dict[str, Any] = {
                "customers": list(store.customers.values()),
                "products": list(store.products.values()),
                "activities": store.activities,
                "rewards": store.rewards,
            }
            if what not in tables:
                return _error("unknown", 404)
            return json_response(tables[what])

        return [web.get("/__sandbox/v3/{what}", state)]
