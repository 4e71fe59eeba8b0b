"""Stamped.io customers."""

from __future__ import annotations

from .._transport import path_segment
from ._resource import StampedResource
from .models import Customer

__all__ = ["Customers"]


class Customers(StampedResource):
    """``stamped.customers``: create, read, update and export customers."""

    async def get(self, customer_id: int | str) -> Customer:
        """GET /api/v2/{store_hash}/dashboard/customers/{id}: one customer by Stamped id."""
        path_segment(customer_id, "customer_id")
        return await self._call(
            "GET", "/dashboard/customers/{id}", Customer, params={"id": customer_id}
        )
