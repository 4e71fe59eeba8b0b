"""Stamped V3 (Loyalty 2.0): loyalty operations and merchant data, ``stamped-api-key`` auth.

Reached as ``client.v3`` of a :class:`~stampsync.StampedClient` made with ``api_key``::

    async with StampedClient(store_hash="270392", api_key="...") as stamped:
        await stamped.v3.loyalty.adjust_points("customer-id", points=25, reason="review")
        async for order in stamped.v3.orders.list():
            ...
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import models
from ._listing import Listing, ListingStats
from ._resource import ListingKeywords
from .customers import Customers
from .loyalty import AdjustPointsBody, Loyalty, PointsAdjustment
from .models import (
    Activity,
    ActivityTriggered,
    CartItemData,
    Customer,
    CustomerAddress,
    CustomerData,
    Order,
    OrderCartData,
    OrderData,
    Product,
    ProductData,
    Reward,
    SoftDelete,
)
from .orders import OrderPush, Orders
from .products import Products

if TYPE_CHECKING:
    from ..._client import BaseClient

__all__ = [
    "Activity",
    "ActivityTriggered",
    "AdjustPointsBody",
    "CartItemData",
    "Customer",
    "CustomerAddress",
    "CustomerData",
    "Customers",
    "Listing",
    "ListingKeywords",
    "ListingStats",
    "Loyalty",
    "Order",
    "OrderCartData",
    "OrderData",
    "OrderPush",
    "Orders",
    "PointsAdjustment",
    "Product",
    "ProductData",
    "Products",
    "Reward",
    "SoftDelete",
    "StampedV3",
    "models",
]


class StampedV3:
    """``client.v3``: the Stamped V3 sections, one per part of the reference."""

    loyalty: Loyalty
    """Loyalty operations: points, VIP tiers, activities, rewards, coupons."""
    customers: Customers
    """Merchant data: customers."""
    orders: Orders
    """Merchant data: orders (and the journaled order push)."""
    products: Products
    """Merchant data: products."""

    def __init__(self, client: BaseClient, store_hash: str) -> None:
        self.loyalty = Loyalty(client, store_hash)
        self.customers = Customers(client, store_hash)
        self.orders = Orders(client, store_hash)
        self.products = Products(client, store_hash)

    def __repr__(self) -> str:
        return "StampedV3(loyalty, customers, orders, products)"
