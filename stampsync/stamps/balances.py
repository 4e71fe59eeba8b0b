"""Balances: credit and debit a customer's balance, and cancel an update."""

from __future__ import annotations

from typing import Required, TypedDict, Unpack

from .._endpoint import stamps
from .._validate import positive, positive_amount, text, user_ref
from ._resource import StampsResource
from .pos_models import BalanceResult

__all__ = ["BalanceKeywords", "Balances"]

BALANCES_CREDIT = stamps("POST", "/api/balances/credit", BalanceResult, idempotent=False)
BALANCES_DEBIT = stamps("POST", "/api/balances/debit", BalanceResult, idempotent=False)
BALANCES_CANCEL = stamps("POST", "/api/balances/cancel", BalanceResult, idempotent=True)


class BalanceKeywords(TypedDict, total=False):
    """The keyword arguments of :meth:`Balances.credit` and :meth:`Balances.debit`:
    ``type`` defaults to ``"stamps"``, ``store`` to the client's."""

    user: Required[str | int]
    amount: Required[int | float]
    type: str
    merchant: int | None
    store: int | None


class Balances(StampsResource):
    """``stamps.balances``: move a customer's balance. ``type`` is the balance's kind
    (the documents name one: ``"stamps"``)."""

    def _body(
        self,
        *,
        user: str | int,
        amount: int | float,
        type: str = "stamps",
        merchant: int | None = None,
        store: int | None = None,
    ) -> dict[str, object]:
        return {
            "user": user_ref(user),
            "amount": positive_amount(amount, "amount", limit=self._client.options.max_value),
            "type": text(type, "type"),
            "merchant": self._merchant(merchant),
            "store": self._store(store, required=True),
        }

    async def credit(self, **update: Unpack[BalanceKeywords]) -> BalanceResult:
        """POST /api/balances/credit: add to a customer's balance. **Not idempotent.**"""
        return await self._call(BALANCES_CREDIT, body=self._body(**update))

    async def debit(self, **update: Unpack[BalanceKeywords]) -> BalanceResult:
        """POST /api/balances/debit: take from a customer's balance. **Not idempotent.**"""
        return await self._call(BALANCES_DEBIT, body=self._body(**update))

    async def cancel(self, *, id: int) -> BalanceResult:
        """POST /api/balances/cancel: undo a credit or debit by its id. Idempotent:
        cancelling a cancelled update changes nothing."""
        return await self._call(BALANCES_CANCEL, body={"id": positive(id, "id")})
