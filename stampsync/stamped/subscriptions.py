"""Stamped.io subscriptions: post-purchase surveys and review-request emails."""

from __future__ import annotations

from typing import Any

from .._endpoint import stamped
from .._validate import email as check_email
from ._resource import StampedResource

__all__ = ["Subscriptions"]

SUBSCRIBE = stamped("POST", "/survey/subscribe", Any, idempotent=True)
UNSUBSCRIBE = stamped("POST", "/survey/unsubscribe", Any, idempotent=True)


class Subscriptions(StampedResource):
    """``stamped.subscriptions``: opt a customer in or out of review requests."""

    async def subscribe(self, *, email: str) -> None:
        """POST /api/v2/{store_hash}/survey/subscribe: send this customer review requests.

        Idempotent (subscribing twice changes nothing), so failures are retried.
        """
        await self._call(SUBSCRIBE, body={"email": check_email(email)})

    async def unsubscribe(self, *, email: str) -> None:
        """POST /api/v2/{store_hash}/survey/unsubscribe: stop review requests. Idempotent."""
        await self._call(UNSUBSCRIBE, body={"email": check_email(email)})
