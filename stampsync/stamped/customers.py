"""Stamped.io customers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypedDict, TypeVar, Unpack

import msgspec

from .._endpoint import stamped
from .._engine.export import Export, export_listing
from .._request import compact, path_segment
from .._validate import choice, optional_text, positive
from .._validate import email as check_email
from ..errors import ConfigurationError
from ._resource import StampedResource
from .models import Customer, CustomerPage, DeleteResult, Page, PointsAction

__all__ = ["CustomerData", "Customers"]

CREATE_CUSTOMER = stamped("POST", "/dashboard/customers/add", Customer, idempotent=False)
LIST_DASHBOARD_CUSTOMERS = stamped("GET", "/dashboard/customers", CustomerPage, idempotent=True)
LIST_CUSTOMERS = stamped("GET", "/customers", CustomerPage, idempotent=True)
GET_CUSTOMER = stamped("GET", "/dashboard/customers/{id}", Customer, idempotent=True)
UPDATE_CUSTOMER = stamped("POST", "/dashboard/customers/{id}", Customer, idempotent=True)
UPSERT_CUSTOMER = stamped("POST", "/customers", Customer, idempotent=True)
GET_CUSTOMER_BY_EMAIL = stamped("GET", "/customers/{email}", Customer, idempotent=True)
DELETE_CUSTOMER = stamped("DELETE", "/customers/{email}", DeleteResult, idempotent=True)
ADJUST_POINTS = stamped("POST", "/customers/points", Customer, idempotent=False)

MAX_PAGE_SIZE = 100


def check_paging(page: object, limit: object) -> tuple[int, int]:
    """``page`` >= 1 and ``limit`` in 1..100, or a ConfigurationError naming which."""
    page = positive(page, "page")
    limit = positive(limit, "limit")
    if limit > MAX_PAGE_SIZE:
        raise ConfigurationError(f"limit must be at most {MAX_PAGE_SIZE}, got {limit}")
    return page, limit


T = TypeVar("T")


def export_pages(
    resource: StampedResource,
    list_page: Callable[..., Awaitable[Page[T]]],
    key: Callable[[T], Hashable | None],
    what: str,
    page_size: int,
    start_page: int,
    prefetch: int | None,
) -> Export[T]:
    """The export behind ``customers.export`` and ``reviews.export``: every page of
    ``list_page(page=, limit=page_size)``, the page size and start page checked now."""
    page_size = check_paging(1, page_size)[1]
    start_page = positive(start_page, "start_page")

    async def fetch(number: int) -> Page[T]:
        return await list_page(page=number, limit=page_size)

    return export_listing(
        resource._client,
        fetch,
        page_size=page_size,
        start_page=start_page,
        prefetch=prefetch,
        key=key,
        what=what,
    )


class CustomerData(msgspec.Struct, rename="camel", omit_defaults=True, kw_only=True):
    """The writable fields of a customer, as sent in create, update and upsert bodies."""

    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    customer_id: str | None = None
    points: float | None = None
    points_expiry: str | None = None
    tier: str | None = None
    total_spend: float | None = None
    total_orders: int | None = None
    tags: list[str] | None = None


class ProfileFields(TypedDict, total=False):
    """Writable customer fields beyond the name, email, id and tags (for editors)."""

    points: float
    points_expiry: str
    tier: str
    total_spend: float
    total_orders: int


class CustomerFields(ProfileFields, total=False):
    """Every writable customer field but the email, as keyword arguments."""

    first_name: str
    last_name: str
    customer_id: str
    tags: list[str]


def _customer_key(customer: Customer) -> Hashable | None:
    if customer.id is not None:
        return ("id", customer.id)
    return ("email", customer.email.lower()) if customer.email else None


class Customers(StampedResource):
    """``stamped.customers``: create, read, update, delete and export customers."""

    def _body(self, *, require_email: bool, **fields: Any) -> CustomerData:
        unknown = set(fields) - set(CustomerData.__struct_fields__)
        if unknown:
            raise ConfigurationError(f"unknown customer fields: {', '.join(sorted(unknown))}")
        address = fields.pop("email", None)
        if require_email or address is not None:
            address = check_email(address, "email")
        for name in ("first_name", "last_name", "customer_id", "tier", "points_expiry"):
            optional_text(fields.get(name), name)
        tags = fields.get("tags")
        if tags is not None and (
            not isinstance(tags, list) or not all(isinstance(t, str) for t in tags)
        ):
            raise ConfigurationError("tags must be a list of strings")
        return CustomerData(email=address, **compact(**fields))

    async def create(
        self,
        *,
        email: str,
        first_name: str | None = None,
        last_name: str | None = None,
        customer_id: str | None = None,
        tags: list[str] | None = None,
        **more: Unpack[ProfileFields],
    ) -> Customer:
        """POST /api/v2/{store_hash}/dashboard/customers/add: create a customer.

        **Not idempotent** (a repeat may create a second record): never retried once
        sent. Use :meth:`upsert` where a repeat must be harmless. ``more`` takes the
        other writable fields of :class:`CustomerData` (``points``, ``tier``, ...).
        """
        body = self._body(
            require_email=True,
            email=email,
            first_name=first_name,
            last_name=last_name,
            customer_id=customer_id,
            tags=tags,
            **more,
        )
        return await self._call(CREATE_CUSTOMER, body=body)

    async def list(self, *, page: int = 1, limit: int = MAX_PAGE_SIZE) -> CustomerPage:
        """GET /api/v2/{store_hash}/dashboard/customers: one page of customers.

        ``page`` starts at 1; ``limit`` is at most 100. The answer carries ``total``.
        """
        page, limit = check_paging(page, limit)
        return await self._call(LIST_DASHBOARD_CUSTOMERS, query={"page": page, "limit": limit})

    async def list_customers(self, *, page: int = 1, limit: int = MAX_PAGE_SIZE) -> CustomerPage:
        """GET /api/v2/{store_hash}/customers: one page of customers.

        The user-management guide's path for the same listing; :meth:`list` calls the
        integration endpoint list's path, the default.
        """
        page, limit = check_paging(page, limit)
        return await self._call(LIST_CUSTOMERS, query={"page": page, "limit": limit})

    async def get(self, customer_id: int | str) -> Customer:
        """GET /api/v2/{store_hash}/dashboard/customers/{id}: one customer by Stamped id."""
        path_segment(customer_id, "customer_id")
        return await self._call(GET_CUSTOMER, params={"id": customer_id})

    async def update(
        self,
        customer_id: int | str,
        /,
        *,
        email: str | None = None,
        **fields: Unpack[CustomerFields],
    ) -> Customer:
        """POST /api/v2/{store_hash}/dashboard/customers/{id}: change a customer's fields.

        Idempotent (the fields given replace the stored ones). ``fields`` are those of
        :class:`CustomerData`, e.g. ``first_name="Ann"``.
        """
        path_segment(customer_id, "customer_id")
        if not fields and email is None:
            raise ConfigurationError("update needs at least one field to change")
        body = self._body(require_email=False, email=email, **fields)
        return await self._call(
            UPDATE_CUSTOMER,
            params={"id": customer_id},
            body=body,
        )

    async def upsert(self, *, email: str, **fields: Unpack[CustomerFields]) -> Customer:
        """POST /api/v2/{store_hash}/customers: create or update the customer with this email.

        Idempotent (keyed by email), so failures are retried.
        """
        body = self._body(require_email=True, email=email, **fields)
        return await self._call(UPSERT_CUSTOMER, body=body)

    async def get_by_email(self, address: str) -> Customer:
        """GET /api/v2/{store_hash}/customers/{email}: one customer by email."""
        return await self._call(
            GET_CUSTOMER_BY_EMAIL, params={"email": check_email(address, "email")}
        )

    async def delete(self, address: str) -> DeleteResult:
        """DELETE /api/v2/{store_hash}/customers/{email}: delete a customer and their
        loyalty data, permanently. Idempotent."""
        return await self._call(
            DELETE_CUSTOMER,
            params={"email": check_email(address, "email")},
        )

    async def adjust_points(
        self, *, email: str, points: int | float, action: PointsAction | str
    ) -> Customer:
        """POST /api/v2/{store_hash}/customers/points: add, subtract or set a balance.

        ``add`` and ``subtract`` are **not idempotent** (never retried once sent);
        ``set`` is, and is retried.
        """
        verb = choice(action, PointsAction, "action")
        assert verb is not None
        if isinstance(points, bool) or not isinstance(points, int | float) or points < 0:
            raise ConfigurationError(f"points must be a number >= 0, got {points!r}")
        body = {"email": check_email(email, "email"), "points": points, "action": verb.value}
        return await self._call(ADJUST_POINTS, body=body, idempotent=verb is PointsAction.SET)

    def export(
        self,
        *,
        page_size: int = MAX_PAGE_SIZE,
        start_page: int = 1,
        prefetch: int | None = None,
    ) -> Export[Customer]:
        """Every customer: GET /api/v2/{store_hash}/dashboard/customers, page after page.

        Pages after the first are fetched concurrently, at most ``prefetch`` ahead
        (default: the client's ``concurrent_batch_executions``), all through the
        throttle, and yielded in page order, de-duplicated by id. ``start_page``
        resumes an interrupted export (see ``Export.stats.next_page``)::

            async with stamped.customers.export() as customers:
                async for customer in customers:
                    ...
        """
        return export_pages(
            self, self.list, _customer_key, "customers", page_size, start_page, prefetch
        )
