"""Stamped.io subscriptions: post-purchase surveys and review-request emails."""

from __future__ import annotations

from typing import Any

from .._validate import email as check_email
from ._resource import StampedResource

__all__ = ["Subscriptions"]


class Subscriptions(StampedResource):
    """``stamped.subscriptions``: opt a customer in or out of review requests."""

    async def subscribe(self, *, email: str) -> None:
        """POST /api/v2/{store_hash}/survey/subscribe: send this customer review requests.

        Idempotent (subscribing twice changes nothing), so failures are retried.
        """
        await self._call(
            "POST", "/survey/subscribe", Any, body={"email": check_email(email)}, idempotent=True
        )

    async def unsubscribe(self, *, email: str) -> None:
        """POST /api/v2/{store_hash}/survey/unsubscribe: stop review requests. Idempotent."""
        await self._call(
            "POST", "/survey/unsubscribe", Any, body={"email": check_email(email)}, idempotent=True
        )
