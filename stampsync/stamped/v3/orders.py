"""Stamped V3 merchant data: orders (pushed from a custom platform, they drive review
requests and points)."""

from __future__ import annotations

from collections.abc import AsyncIterable, Iterable
from typing import TYPE_CHECKING, Any, Unpack

import msgspec

from ..._admission import QuotaStart
from ..._endpoint import Endpoint, stamped_v3
from ..._validate import amount_text
from ...errors import ConfigurationError
from ._listing import Listing
from ._resource import (
    DEFAULT_LIMIT,
    ListingKeywords,
    V3Resource,
    body,
    check_limit,
    filtered,
    merge_pages,
    query,
)
from .models import (
    Order,
    OrderCartData,
    OrderData,
    OrdersAnswer,
    PaginatedOrders,
    SoftDelete,
)

if TYPE_CHECKING:
    from ..._engine.writes import BatchKeywords, BatchReport, Rejected

__all__ = ["OrderPush", "Orders"]

CREATE_ORDER = stamped_v3("merchant", "POST", "/orders", Order, idempotent=True)
# A union is not a ``type`` to mypy; msgspec decodes it all the same.
FILTER_ORDERS: Endpoint[PaginatedOrders | list[PaginatedOrders]] = stamped_v3(
    "merchant",
    "GET",
    "/orders",
    OrdersAnswer,  # type: ignore[arg-type]
    idempotent=True,
)
GET_ORDER = stamped_v3("merchant", "GET", "/orders/{order_id}", Order, idempotent=True)
UPDATE_ORDER = stamped_v3("merchant", "PATCH", "/orders/{order_id}", Order, idempotent=True)
DELETE_ORDER = stamped_v3("merchant", "DELETE", "/orders/{order_id}", SoftDelete, idempotent=True)
LOOKUP_ORDER = stamped_v3("merchant", "GET", "/orders/lookup", Order, idempotent=True)


class OrderPush(msgspec.Struct, kw_only=True, frozen=True):
    """One order of a push batch (:meth:`Orders.push_many`).

    ``key`` is yours and unique per order (the platform's order id, say): with a
    journal, a key is pushed at most once across runs. An :class:`OrderData` given to
    ``push_many`` on its own is keyed by its ``custom_order_id``.
    """

    key: str
    order: OrderData
    row: int | None = None
    """Where the order came from (the CLI gives the input file's line); reported back."""

    @property
    def user(self) -> str | None:
        """The order's customer, as given (for the report)."""
        return self.order.custom_customer_id or self.order.customer_id


if TYPE_CHECKING:
    Pushable = OrderPush | OrderData | Rejected


class Orders(V3Resource):
    """``stamped.v3.orders``: push orders (one or a journaled batch), read, list,
    update and delete them."""

    async def create(
        self,
        *,
        custom_order_id: str | None = None,
        custom_customer_id: str | None = None,
        customer_id: str | None = None,
        cart: OrderCartData | dict[str, Any] | None = None,
        tags: list[str] | None = None,
    ) -> Order:
        """POST /api/v3/merchant/shops/{store_hash}/orders: push an order.

        With ``custom_order_id`` (the custom platform's order id) it is an upsert keyed
        by that id, safe to repeat and retried; without one a repeat could record the
        order twice, so it is **not** retried once sent. ``cart`` may be a dict with the
        API's field names (``lineItems``, ``shopPriceTotal``, ...).
        """
        data = body(
            OrderData,
            {
                "custom_order_id": custom_order_id,
                "custom_customer_id": custom_customer_id,
                "customer_id": customer_id,
                "cart": cart,
                "tags": tags,
            },
            "order",
        )
        return await self.push(data)

    def check(self, order: OrderData) -> OrderData:
        """Check an order's amounts before it is sent: every price, total, quantity and
        discount must read as a finite number, not negative, at most the client's
        ``max_value``. Returns the order; raises ``ConfigurationError`` naming the field."""
        if not isinstance(order, OrderData):
            raise ConfigurationError(f"push takes an OrderData, got {type(order).__name__}")
        cart = order.cart
        if cart is None:
            return order
        limit = self._client.options.max_value
        for name in (
            "shop_price_discount_total",
            "shop_price_items_total",
            "shop_price_sub_total",
            "shop_price_total",
            "shop_price_shipping",
            "shop_price_tax",
        ):
            amount_text(getattr(cart, name), f"cart.{name}", limit=limit)
        for at, line in enumerate(cart.line_items or ()):
            amount_text(line.price, f"cart.line_items[{at}].price", limit=limit)
            amount_text(line.quantity, f"cart.line_items[{at}].quantity", limit=limit)
        for at, discount in enumerate(cart.discounts_applied or ()):
            if not isinstance(discount.amount, bool):
                amount_text(discount.amount, f"cart.discounts_applied[{at}].amount", limit=limit)
        return order

    async def push(self, order: OrderData, *, start: QuotaStart | None = None) -> Order:
        """POST /api/v3/merchant/shops/{store_hash}/orders: push an :class:`OrderData`
        (what :meth:`create` sends; idempotent with a ``custom_order_id``). Its amounts
        are checked first (:meth:`check`). ``start``: a slot and quota start taken ahead
        (:meth:`StampedClient.take_start`), if any."""
        self.check(order)
        return await self._call(
            CREATE_ORDER, body=order, idempotent=order.custom_order_id is not None, start=start
        )

    async def filter(
        self, *, page: int | None = None, limit: int = DEFAULT_LIMIT
    ) -> PaginatedOrders:
        """GET /api/v3/merchant/shops/{store_hash}/orders: one page of orders.

        The reference answers an array of pages; their orders are joined into one.
        """
        answer = await self._call(FILTER_ORDERS, query=query(page=page, limit=check_limit(limit)))
        return merge_pages(answer, PaginatedOrders, "orders")

    def list(self, **pages: Unpack[ListingKeywords]) -> Listing[Order]:
        """GET /api/v3/merchant/shops/{store_hash}/orders, every page: an async iterator
        over every order (``pages``: :class:`ListingKeywords`)::

            async for order in stamped.v3.orders.list(prefetch=4):
                ...
        """
        return self._listing(
            filtered(self.filter), key=lambda o: o.order_id, what="orders", **pages
        )

    async def get(self, order_id: str | int) -> Order:
        """GET /api/v3/merchant/shops/{store_hash}/orders/{order_id}: one order."""
        return await self._record(GET_ORDER, "order_id", order_id)

    async def update(self, order_id: str | int, **cart: Any) -> Order:
        """PATCH /api/v3/merchant/shops/{store_hash}/orders/{order_id}: replace the
        order's cart fields given (those of :class:`OrderCartData`, e.g.
        ``fulfillment_status="fulfilled"``). Idempotent."""
        if not cart:
            raise ConfigurationError("update needs at least one cart field to change")
        data = body(OrderCartData, cart, "order cart")
        return await self._record(UPDATE_ORDER, "order_id", order_id, body=data)

    async def delete(self, order_id: str | int) -> SoftDelete:
        """DELETE /api/v3/merchant/shops/{store_hash}/orders/{order_id}: delete an
        order. Idempotent."""
        return await self._record(DELETE_ORDER, "order_id", order_id)

    async def lookup(
        self,
        *,
        custom_order_id: str | None = None,
        shopify_id: str | None = None,
        bigcommerce_id: str | None = None,
    ) -> Order:
        """GET /api/v3/merchant/shops/{store_hash}/orders/lookup: the order with this
        platform id (``NotFoundError`` if none)."""
        return await self._lookup(
            LOOKUP_ORDER,
            custom_order_id=custom_order_id,
            shopify_id=shopify_id,
            bigcommerce_id=bigcommerce_id,
        )

    async def push_many(
        self,
        rows: Iterable[Pushable] | AsyncIterable[Pushable],
        *,
        order_ids: dict[str, str] | None = None,
        **batch: Unpack[BatchKeywords],
    ) -> BatchReport:
        """Push many orders (POST /api/v3/merchant/shops/{store_hash}/orders each), each
        key at most once, with the guarantees of the mass award.

        Runs ``concurrent_batch_executions`` pushes at a time through the throttle. With
        ``journal`` every key's intent is recorded before its request and its outcome
        after: a rerun after a crash skips what was pushed, sends again what provably
        failed, and reports what is ambiguous. An order with a ``custom_order_id`` is an
        upsert, so the transport retries it through network failures; one without is
        never resent once it may have arrived; a rerun sends again the upserts an earlier
        run left unsettled (in flight at a crash), so only pushes without a
        ``custom_order_id`` are ever ambiguous. Each row yields one
        :class:`~stampsync.batch.writes.Outcome` (``award_id`` is ``None``: V3 order ids
        are text, see the answer); a bad row fails alone.

        Args:
            rows: :class:`OrderPush` or :class:`OrderData` items (streamed).
            order_ids: filled with the Stamped order id (``order_id``) of each key pushed
                in this run, as the answer gives it; read it in ``on_outcome`` (by the
                outcome's ``key``). The journal does not keep it: a key skipped as
                already pushed has none.
            batch: ``journal``, ``account`` (default: this shop's store hash),
                ``on_outcome``, ``keep_outcomes``, ``stop``, ``check_first`` and
                ``breaker``, as :class:`~stampsync.batch.writes.BatchKeywords` describes.
        """
        from ._order_batch import push_many

        return await push_many(self, rows, batch, order_ids=order_ids)
