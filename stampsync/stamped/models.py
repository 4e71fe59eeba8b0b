"""Stamped.io data, as msgspec Structs with snake_case attributes over camelCase JSON.

The API's answers are only partly documented: ids may come as numbers or strings,
fields may be missing or null, and new fields appear without notice. Every field is
therefore optional and unknown fields are ignored.
"""

from __future__ import annotations

import msgspec

__all__ = ["Customer"]


class Customer(msgspec.Struct, rename="camel", frozen=True, kw_only=True):
    """A Stamped.io customer (reviews and loyalty record), keyed by email."""

    id: int | str | None = None
    """Stamped.io's own id for the customer (the ``{id}`` of dashboard paths)."""
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    customer_id: int | str | None = None
    """The shop platform's id for the customer (e.g. a Shopify customer id)."""
    points: float | None = None
    points_expiry: str | None = None
    tier: str | None = None
    total_spend: float | None = None
    total_orders: int | None = None
    tags: list[str] | None = None
    created_at: str | None = None
    updated_at: str | None = None
