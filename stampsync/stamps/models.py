"""Stamps (stamps.co.id) data, as msgspec Structs.

Answers are tolerated loosely: unknown fields are ignored, fields may be absent or
null, and ids may come as numbers or strings.
"""

from __future__ import annotations

import msgspec

__all__ = ["AddStampsResult", "Award", "StampsCustomer"]


class StampsCustomer(msgspec.Struct, frozen=True, kw_only=True):
    """The customer's state after a stamps operation."""

    id: int | str | None = None
    stamps: int | None = None
    status: str | None = None


class Award(msgspec.Struct, frozen=True, kw_only=True):
    """A stamps award: its id is what :meth:`Stamps.cancel` takes."""

    id: int
    number_of_stamps: int | None = None
    status: str | None = None


class AddStampsResult(msgspec.Struct, frozen=True, kw_only=True):
    """Answer of ``POST /api/stamps/add`` and ``/api/stamps/cancel``."""

    customer: StampsCustomer | None = None
    award: Award
