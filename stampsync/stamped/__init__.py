"""Stamped.io (reviews and loyalty): the client, its API sections and models."""

from . import v3
from .client import StampedClient
from .customers import CustomerData, Customers
from .loyalty import Loyalty
from .models import (
    Customer,
    CustomerPage,
    DeleteResult,
    LoyaltyTransaction,
    Page,
    PointsAction,
    Review,
    ReviewPage,
    Tier,
    Tiers,
)
from .reviews import Reviews
from .subscriptions import Subscriptions
from .v3 import StampedV3

__all__ = [
    "Customer",
    "CustomerData",
    "CustomerPage",
    "Customers",
    "DeleteResult",
    "Loyalty",
    "LoyaltyTransaction",
    "Page",
    "PointsAction",
    "Review",
    "ReviewPage",
    "Reviews",
    "StampedClient",
    "StampedV3",
    "Subscriptions",
    "Tier",
    "Tiers",
    "v3",
]
