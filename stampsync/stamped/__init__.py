"""Stamped.io (reviews and loyalty): the client, its API sections and models."""

from .client import StampedClient
from .customers import CustomerData
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

__all__ = [
    "Customer",
    "CustomerData",
    "CustomerPage",
    "DeleteResult",
    "LoyaltyTransaction",
    "Page",
    "PointsAction",
    "Review",
    "ReviewPage",
    "StampedClient",
    "Tier",
    "Tiers",
]
