"""The sandbox's Stamped.io v2 routes, written from the API documents."""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web

from .._codec import JSON_ERRORS
from .._endpoint import Endpoint
from ..stamped import customers, loyalty, reviews, subscriptions
from ._data import TIERS, StampedStore, now_iso
from ._middleware import json_response
from ._routes import endpoint_routes

WRITABLE = (
    "email",
    "firstName",
    "lastName",
    "customerId",
    "points",
    "pointsExpiry",
    "tier",
    "totalSpend",
    "totalOrders",
    "tags",
)


def _error(message: str, status: int = 400, errors: dict[str, str] | None = None) -> web.Response:
    body: dict[str, Any] = {"message": message}
    if errors:
        body["errors"] = errors
    return json_response(body, status)


async def _body(request: web.Request) -> dict[str, Any] | web.Response:
    try:
        data = msgspec.json.decode(await request.read())
    except JSON_ERRORS:
        return _error("Body must be JSON")
    if not isinstance(data, dict):
        return _error("Body must be a JSON object")
    return data


async def _body_with_email(
    request: web.Request, invalid: str
) -> tuple[dict[str, Any], str] | web.Response:
    """The JSON body and its valid ``email``, or the 400 answer (``invalid`` its message)."""
    data = await _body(request)
    if isinstance(data, web.Response):
        return data
    email = data.get("email")
    if not _valid_email(email):
        return _error(invalid, errors={"email": "A valid email is required."})
    assert isinstance(email, str)
    return data, email


def _paging(request: web.Request) -> tuple[int, int] | web.Response:
    try:
        page = int(request.query.get("page", "1"))
        limit = int(request.query.get("limit", "20"))
    except ValueError:
        return _error("page and limit must be integers")
    if page < 1 or not 1 <= limit <= 100:
        return _error("page must be >= 1 and limit between 1 and 100")
    return page, limit


def _valid_email(value: object) -> bool:
    return isinstance(value, str) and "@" in value and "." in value.rsplit("@", 1)[-1]


def _answer(found: tuple[int, dict[str, Any]] | web.Response) -> web.Response:
    """The customer found, or the refusal that stands for it."""
    return found if isinstance(found, web.Response) else json_response(found[1])


class StampedRoutes:
    """Handlers for one store; ``store`` holds the state."""

    def __init__(self, store: StampedStore) -> None:
        self.store = store

    def routes(self, store_hash: str) -> list[web.RouteDef]:
        table: list[tuple[Endpoint[Any], Any]] = [
            (customers.CREATE_CUSTOMER, self.create),
            (customers.LIST_DASHBOARD_CUSTOMERS, self.list),
            (customers.GET_CUSTOMER, self.get),
            (customers.UPDATE_CUSTOMER, self.update),
            (customers.ADJUST_POINTS, self.points),
            (customers.UPSERT_CUSTOMER, self.upsert),
            (customers.LIST_CUSTOMERS, self.list),
            (customers.GET_CUSTOMER_BY_EMAIL, self.get_by_email),
            (customers.DELETE_CUSTOMER, self.delete),
            (subscriptions.SUBSCRIBE, self.subscribe),
            (subscriptions.UNSUBSCRIBE, self.unsubscribe),
            (loyalty.CREATE_LOYALTY_TRANSACTION, self.transaction),
            (loyalty.LIST_TIERS, self.tiers),
            (reviews.LIST_REVIEWS, self.reviews),
        ]
        return endpoint_routes(table, store_hash=store_hash)

    def _fields(self, data: dict[str, Any]) -> dict[str, Any]:
        return {k: data[k] for k in WRITABLE if k in data}

    def _customer(self, email: str) -> tuple[int, dict[str, Any]] | web.Response:
        i = self.store.id_for_email(email)
        record = None if i is None else self.store.get(i)
        if i is None or record is None:
            return _error("Customer not found", 404)
        return i, record

    async def create(self, request: web.Request) -> web.Response:
        parsed = await _body_with_email(request, "Invalid customer")
        if isinstance(parsed, web.Response):
            return parsed
        data, email = parsed
        if self.store.id_for_email(email) is not None:
            return _error("Customer exists", errors={"email": "Email is already in use."})
        return json_response(self.store.create(self._fields(data)))

    async def list(self, request: web.Request) -> web.Response:
        paging = _paging(request)
        if isinstance(paging, web.Response):
            return paging
        page, limit = paging
        return json_response(
            {"data": self.store.page(page, limit), "total": self.store.count(), "page": page}
        )

    def _by_id(self, request: web.Request) -> tuple[int, dict[str, Any]] | web.Response:
        raw = request.match_info["id"]
        if not raw.isdigit():
            return _error("Customer not found", 404)
        record = self.store.get(int(raw))
        if record is None:
            return _error("Customer not found", 404)
        return int(raw), record

    async def get(self, request: web.Request) -> web.Response:
        return _answer(self._by_id(request))

    async def update(self, request: web.Request) -> web.Response:
        found = self._by_id(request)
        if isinstance(found, web.Response):
            return found
        data = await _body(request)
        if isinstance(data, web.Response):
            return data
        i, record = found
        if "email" in data and not _valid_email(data["email"]):
            return _error("Invalid customer", errors={"email": "A valid email is required."})
        return json_response(self.store.save(i, {**record, **self._fields(data)}))

    async def upsert(self, request: web.Request) -> web.Response:
        parsed = await _body_with_email(request, "Invalid customer")
        if isinstance(parsed, web.Response):
            return parsed
        data, email = parsed
        found = self._customer(email)
        if isinstance(found, web.Response):
            return json_response(self.store.create(self._fields(data)))
        i, record = found
        return json_response(self.store.save(i, {**record, **self._fields(data)}))

    def _by_email(self, request: web.Request) -> tuple[int, dict[str, Any]] | web.Response:
        return self._customer(request.match_info["email"])

    async def get_by_email(self, request: web.Request) -> web.Response:
        return _answer(self._by_email(request))

    async def delete(self, request: web.Request) -> web.Response:
        found = self._by_email(request)
        if isinstance(found, web.Response):
            return found
        self.store.delete(found[0])
        return json_response({"success": True, "message": "Customer deleted."})

    async def points(self, request: web.Request) -> web.Response:
        data = await _body(request)
        if isinstance(data, web.Response):
            return data
        email, points, action = data.get("email"), data.get("points"), data.get("action")
        errors = {}
        if not _valid_email(email):
            errors["email"] = "A valid email is required."
        if isinstance(points, bool) or not isinstance(points, int | float) or points < 0:
            errors["points"] = "A number >= 0 is required."
        if action not in ("add", "subtract", "set"):
            errors["action"] = "One of add, subtract, set."
        if errors:
            return _error("Invalid points adjustment", errors=errors)
        assert isinstance(email, str)
        assert isinstance(points, int | float)
        found = self._customer(email)
        if isinstance(found, web.Response):
            return found
        i, record = found
        balance = record.get("points") or 0
        new = {"add": balance + points, "subtract": balance - points, "set": points}[str(action)]
        if new < 0:
            return _error("Insufficient points", errors={"points": "Balance would go below 0."})
        saved = self.store.save(i, {**record, "points": new})
        return json_response(
            {"email": saved["email"], "points": new, "updatedAt": saved["updatedAt"]}
        )

    async def _subscription(self, request: web.Request, subscribed: bool) -> web.Response:
        parsed = await _body_with_email(request, "Invalid subscription")
        if isinstance(parsed, web.Response):
            return parsed
        _, email = parsed
        self.store.subscribed[email.lower()] = subscribed
        return json_response({"success": True, "email": email, "subscribed": subscribed})

    async def subscribe(self, request: web.Request) -> web.Response:
        return await self._subscription(request, True)

    async def unsubscribe(self, request: web.Request) -> web.Response:
        return await self._subscription(request, False)

    async def transaction(self, request: web.Request) -> web.Response:
        data = await _body(request)
        if isinstance(data, web.Response):
            return data
        email, kind, points = data.get("email"), data.get("type"), data.get("points", 0)
        if not _valid_email(email) or not isinstance(kind, str) or not kind:
            return _error("Invalid transaction", errors={"email": "Required.", "type": "Required."})
        assert isinstance(email, str)
        found = self._customer(email)
        if isinstance(found, web.Response):
            return found
        i, record = found
        if isinstance(points, int | float) and not isinstance(points, bool):
            self.store.save(i, {**record, "points": (record.get("points") or 0) + points})
        txn = {
            "transactionId": f"txn_{len(self.store.transactions) + 1:06d}",
            "email": email,
            "points": points,
            "type": kind,
            "note": data.get("note"),
            "at": now_iso(),
        }
        self.store.transactions.append(txn)
        return json_response(txn)

    async def tiers(self, request: web.Request) -> web.Response:
        return json_response({"tiers": [{"name": n, "minPoints": p} for n, p in TIERS]})

    async def reviews(self, request: web.Request) -> web.Response:
        paging = _paging(request)
        if isinstance(paging, web.Response):
            return paging
        page, limit = paging
        email = request.query.get("email")
        if email is not None:
            i = self.store.id_for_email(email)
            items = [] if i is None else self.store.reviews_of(i)
            total = len(items)
            items = items[(page - 1) * limit : page * limit]
        else:
            per = max(self.store.reviews_per_customer, 1)
            start = (page - 1) * limit
            customers = self.store.window(start // per, -(-limit // per) + 1)
            reviews = [r for c in customers for r in self.store.reviews_of(int(c["id"]))]
            items = reviews[start % per : start % per + limit]
            total = self.store.count() * self.store.reviews_per_customer
        return json_response({"data": items, "total": total, "page": page})
