"""Stamped.io data, as msgspec Structs with snake_case attributes over camelCase JSON.

The API's answers are only partly documented: ids may come as numbers or strings,
fields may be missing or null, and new fields appear without notice. Every field is
therefore optional and unknown fields are ignored.
"""

from __future__ import annotations

import enum
import warnings
from typing import Generic, TypeVar

import msgspec

__all__ = [
    "Customer",
    "CustomerPage",
    "DeleteResult",
    "LoyaltyTransaction",
    "Page",
    "PointsAction",
    "Review",
    "ReviewPage",
    "Tier",
    "Tiers",
]

Id = int | str
T = TypeVar("T")


class PointsAction(enum.StrEnum):
    """How ``customers.adjust_points`` changes a balance."""

    ADD = "add"
    SUBTRACT = "subtract"
    SET = "set"


class Customer(msgspec.Struct, rename="camel", frozen=True, kw_only=True):
    """A Stamped.io customer (reviews and loyalty record), keyed by email."""

    id: Id | None = None
    """Stamped.io's own id for the customer (the ``{id}`` of dashboard paths)."""
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    customer_id: Id | None = None
    """The shop platform's id for the customer (e.g. a Shopify customer id)."""
    points: float | None = None
    points_expiry: str | None = None
    tier: str | None = None
    total_spend: float | None = None
    total_orders: int | None = None
    tags: list[str] | None = None
    created_at: str | None = None
    updated_at: str | None = None


class Page(msgspec.Struct, Generic[T], rename="camel", frozen=True, kw_only=True):
    """One page of a listing: its :attr:`items`, and the listing's ``total``.

    The server sends the items under ``data``, ``results`` or ``customers``, depending on
    the endpoint; :attr:`items` is the one name for them. The three wire names stay
    readable for old code and warn (``DeprecationWarning``).
    """

    wire_data: list[T] | None = msgspec.field(default=None, name="data")
    wire_results: list[T] | None = msgspec.field(default=None, name="results")
    wire_customers: list[T] | None = msgspec.field(default=None, name="customers")
    total: int | None = None
    page: int | None = None
    total_pages: int | None = None

    @property
    def items(self) -> list[T]:
        """The page's items, whichever key the server used."""
        for items in (self.wire_data, self.wire_results, self.wire_customers):
            if items is not None:
                return items
        return []

    @property
    def data(self) -> list[T] | None:
        """Deprecated: use :attr:`items`."""
        _renamed("data")
        return self.wire_data

    @property
    def results(self) -> list[T] | None:
        """Deprecated: use :attr:`items`."""
        _renamed("results")
        return self.wire_results

    @property
    def customers(self) -> list[T] | None:
        """Deprecated: use :attr:`items`."""
        _renamed("customers")
        return self.wire_customers


def _renamed(name: str) -> None:
    warnings.warn(
        f"Page.{name} is deprecated: use Page.items (the same items, whichever key the "
        "server sent them under)",
        DeprecationWarning,
        stacklevel=3,
    )


CustomerPage = Page[Customer]


class DeleteResult(msgspec.Struct, frozen=True, kw_only=True):
    """Answer of ``DELETE /customers/{email}``."""

    success: bool | None = None
    message: str | None = None


class LoyaltyTransaction(msgspec.Struct, rename="camel", frozen=True, kw_only=True):
    """A loyalty transaction (a reward event) as recorded."""

    transaction_id: Id | None = None
    email: str | None = None
    points: float | None = None
    type: str | None = None
    note: str | None = None


class Tier(msgspec.Struct, rename="camel", frozen=True, kw_only=True):
    """A loyalty tier and the points it starts at."""

    name: str | None = None
    min_points: float | None = None


class Tiers(msgspec.Struct, frozen=True, kw_only=True):
    """The loyalty program's tiers."""

    tiers: list[Tier] = msgspec.field(default_factory=list)


class Review(msgspec.Struct, rename="camel", frozen=True, kw_only=True):
    """A product review."""

    review_id: Id | None = None
    id: Id | None = None
    rating: float | None = None
    title: str | None = None
    body: str | None = None
    author: str | None = None
    email: str | None = None
    product_id: Id | None = None
    product_name: str | None = None
    date_created: str | None = None

    @property
    def key(self) -> Id | None:
        """The review's id, whichever field carried it."""
        return self.review_id if self.review_id is not None else self.id


ReviewPage = Page[Review]
