"""Stamped V3 merchant data: customers."""

from __future__ import annotations

from typing import Any

from ..._endpoint import stamped_v3
from ...errors import ConfigurationError
from ._listing import Listing
from ._resource import (
    DEFAULT_LIMIT,
    V3Resource,
    body,
    check_limit,
    filtered,
    query,
)
from .models import Customer, CustomerAddress, CustomerData, PaginatedCustomers, SoftDelete

__all__ = ["Customers"]

CREATE_CUSTOMER = stamped_v3("merchant", "POST", "/customers", Customer, idempotent=True)
FILTER_CUSTOMERS = stamped_v3("merchant", "GET", "/customers", PaginatedCustomers, idempotent=True)
GET_CUSTOMER = stamped_v3("merchant", "GET", "/customers/{customer_id}", Customer, idempotent=True)
UPDATE_CUSTOMER = stamped_v3(
    "merchant", "PATCH", "/customers/{customer_id}", Customer, idempotent=True
)
DELETE_CUSTOMER = stamped_v3(
    "merchant", "DELETE", "/customers/{customer_id}", SoftDelete, idempotent=True
)
LOOKUP_CUSTOMER = stamped_v3("merchant", "GET", "/customers/lookup", Customer, idempotent=True)


class Customers(V3Resource):
    """``stamped.v3.customers``: push, read, filter, update and delete customers."""

    async def create(
        self,
        *,
        email: str | None = None,
        custom_customer_id: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        date_of_birth: str | None = None,
        date_platform_updated: str | None = None,
        tags: list[str] | None = None,
        addresses: list[CustomerAddress | dict[str, Any]] | None = None,
    ) -> Customer:
        """POST /api/v3/merchant/shops/{store_hash}/customers: push a customer.

        With ``custom_customer_id`` (the custom platform's id) it is an upsert keyed by
        that id, safe to repeat and retried; without one a repeat could create a second
        record, so it is **not** retried once sent.
        """
        data = body(
            CustomerData,
            {
                "email": email,
                "custom_customer_id": custom_customer_id,
                "first_name": first_name,
                "last_name": last_name,
                "date_of_birth": date_of_birth,
                "date_platform_updated": date_platform_updated,
                "tags": tags,
                "addresses": addresses,
            },
            "customer",
        )
        if data.email is None and data.custom_customer_id is None:
            raise ConfigurationError("a customer needs an email or a custom_customer_id")
        return await self._call(
            CREATE_CUSTOMER, body=data, idempotent=data.custom_customer_id is not None
        )

    async def filter(
        self,
        *,
        page: int | None = None,
        limit: int = DEFAULT_LIMIT,
        shopify_id: str | None = None,
        bigcommerce_id: str | None = None,
        custom_customer_id: str | None = None,
        email: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        last_first: bool | None = None,
        date_platform_created: str | None = None,
        date_platform_created_end: str | None = None,
        reviews_min: int | float | None = None,
        reviews_max: int | float | None = None,
        points_min: int | float | None = None,
        points_max: int | float | None = None,
        vip_tier: str | None = None,
        tags: list[str] | None = None,
    ) -> PaginatedCustomers:
        """GET /api/v3/merchant/shops/{store_hash}/customers: one page of the customers
        matching the filters (``email``, ``first_name``, ``last_name`` match the start).

        ``page`` left out asks for the first page.
        """
        return await self._call(
            FILTER_CUSTOMERS,
            query=query(
                page=page,
                limit=check_limit(limit),
                shopify_id=shopify_id,
                bigcommerce_id=bigcommerce_id,
                custom_customer_id=custom_customer_id,
                email=email,
                first_name=first_name,
                last_name=last_name,
                last_first=last_first,
                date_platform_created=date_platform_created,
                date_platform_created_end=date_platform_created_end,
                reviews_min=reviews_min,
                reviews_max=reviews_max,
                points_min=points_min,
                points_max=points_max,
                vip_tier=vip_tier,
                tags=tags,
            ),
        )

    def list(
        self,
        *,
        limit: int = DEFAULT_LIMIT,
        start_page: int | None = None,
        prefetch: int | None = None,
        **filters: Any,
    ) -> Listing[Customer]:
        """GET /api/v3/merchant/shops/{store_hash}/customers, every page: an async
        iterator over every matching customer (``filters``: those of :meth:`filter`),
        pages fetched at most ``prefetch`` ahead (default: the client's
        ``concurrent_batch_executions``)::

            async for customer in stamped.v3.customers.list(vip_tier="Gold"):
                ...
        """
        return self._listing(
            filtered(self.filter, filters),
            limit=limit,
            start_page=start_page,
            prefetch=prefetch,
            key=lambda c: c.customer_id,
            what="customers",
        )

    async def get(self, customer_id: str | int) -> Customer:
        """GET /api/v3/merchant/shops/{store_hash}/customers/{customer_id}: one customer."""
        return await self._record(GET_CUSTOMER, "customer_id", customer_id)

    async def update(self, customer_id: str | int, **fields: Any) -> Customer:
        """PATCH /api/v3/merchant/shops/{store_hash}/customers/{customer_id}: change the
        fields given (those of :class:`CustomerData`). Idempotent."""
        if not fields:
            raise ConfigurationError("update needs at least one field to change")
        data = body(CustomerData, fields, "customer")
        return await self._record(UPDATE_CUSTOMER, "customer_id", customer_id, body=data)

    async def delete(self, customer_id: str | int) -> SoftDelete:
        """DELETE /api/v3/merchant/shops/{store_hash}/customers/{customer_id}: delete a
        customer (the answer says whether only softly). Idempotent."""
        return await self._record(DELETE_CUSTOMER, "customer_id", customer_id)

    async def lookup(
        self,
        *,
        email: str | None = None,
        custom_customer_id: str | None = None,
        shopify_id: str | None = None,
        bigcommerce_id: str | None = None,
    ) -> Customer:
        """GET /api/v3/merchant/shops/{store_hash}/customers/lookup: the customer with
        this email or platform id (``NotFoundError`` if none)."""
        return await self._lookup(
            LOOKUP_CUSTOMER,
            email=email,
            custom_customer_id=custom_customer_id,
            shopify_id=shopify_id,
            bigcommerce_id=bigcommerce_id,
        )
