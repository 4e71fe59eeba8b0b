"""Stamped V3 merchant data: products."""

from __future__ import annotations

from typing import Any

from ..._endpoint import Endpoint, stamped_v3
from ...errors import ConfigurationError
from ._listing import Listing
from ._resource import (
    DEFAULT_LIMIT,
    V3Resource,
    body,
    check_limit,
    filtered,
    merge_pages,
    query,
)
from .models import (
    PaginatedProducts,
    Product,
    ProductData,
    ProductsAnswer,
    SoftDelete,
)

__all__ = ["Products"]

CREATE_PRODUCT = stamped_v3("merchant", "POST", "/products", Product, idempotent=True)
# A union is not a ``type`` to mypy; msgspec decodes it all the same.
FILTER_PRODUCTS: Endpoint[PaginatedProducts | list[PaginatedProducts]] = stamped_v3(
    "merchant",
    "GET",
    "/products",
    ProductsAnswer,  # type: ignore[arg-type]
    idempotent=True,
)
GET_PRODUCT = stamped_v3("merchant", "GET", "/products/{product_id}", Product, idempotent=True)
UPDATE_PRODUCT = stamped_v3("merchant", "PATCH", "/products/{product_id}", Product, idempotent=True)
DELETE_PRODUCT = stamped_v3(
    "merchant", "DELETE", "/products/{product_id}", SoftDelete, idempotent=True
)
LOOKUP_PRODUCT = stamped_v3("merchant", "GET", "/products/lookup", Product, idempotent=True)


class Products(V3Resource):
    """``stamped.v3.products``: push, read, filter, update and delete products."""

    async def create(self, **fields: Any) -> Product:
        """POST /api/v3/merchant/shops/{store_hash}/products: push a product.

        ``fields`` are those of :class:`ProductData` (``custom_product_id``, ``title``,
        ``variants``, ...). With ``custom_product_id`` it is an upsert keyed by that id,
        retried; without one it is **not** retried once sent.
        """
        data = body(ProductData, fields, "product")
        return await self._call(
            CREATE_PRODUCT, body=data, idempotent=data.custom_product_id is not None
        )

    async def filter(
        self,
        *,
        page: int | None = None,
        limit: int = DEFAULT_LIMIT,
        shopify_id: str | None = None,
        bigcommerce_id: str | None = None,
        custom_product_id: str | None = None,
        published_scope: str | None = None,
        status: str | None = None,
        title: str | None = None,
        vendor: str | None = None,
        type: str | None = None,
        handle: str | None = None,
        tags: list[str] | None = None,
    ) -> PaginatedProducts:
        """GET /api/v3/merchant/shops/{store_hash}/products: one page of the products
        matching the filters.

        The reference answers an array of pages; their products are joined into one.
        """
        answer = await self._call(
            FILTER_PRODUCTS,
            query=query(
                page=page,
                limit=check_limit(limit),
                shopify_id=shopify_id,
                bigcommerce_id=bigcommerce_id,
                custom_product_id=custom_product_id,
                published_scope=published_scope,
                status=status,
                title=title,
                vendor=vendor,
                type=type,
                handle=handle,
                tags=tags,
            ),
        )
        return merge_pages(answer, PaginatedProducts, "products")

    def list(
        self,
        *,
        limit: int = DEFAULT_LIMIT,
        start_page: int | None = None,
        prefetch: int | None = None,
        **filters: Any,
    ) -> Listing[Product]:
        """GET /api/v3/merchant/shops/{store_hash}/products, every page: an async
        iterator over every matching product (``filters``: those of :meth:`filter`)."""
        return self._listing(
            filtered(self.filter, filters),
            limit=limit,
            start_page=start_page,
            prefetch=prefetch,
            key=lambda p: p.product_id,
            what="products",
        )

    async def get(self, product_id: str | int) -> Product:
        """GET /api/v3/merchant/shops/{store_hash}/products/{product_id}: one product."""
        return await self._record(GET_PRODUCT, "product_id", product_id)

    async def update(self, product_id: str | int, **fields: Any) -> Product:
        """PATCH /api/v3/merchant/shops/{store_hash}/products/{product_id}: change the
        fields given (those of :class:`ProductData`). Idempotent."""
        if not fields:
            raise ConfigurationError("update needs at least one field to change")
        data = body(ProductData, fields, "product")
        return await self._record(UPDATE_PRODUCT, "product_id", product_id, body=data)

    async def delete(self, product_id: str | int) -> SoftDelete:
        """DELETE /api/v3/merchant/shops/{store_hash}/products/{product_id}: delete a
        product. Idempotent."""
        return await self._record(DELETE_PRODUCT, "product_id", product_id)

    async def lookup(
        self,
        *,
        custom_product_id: str | None = None,
        shopify_id: str | None = None,
        bigcommerce_id: str | None = None,
    ) -> Product:
        """GET /api/v3/merchant/shops/{store_hash}/products/lookup: the product with this
        platform id (``NotFoundError`` if none)."""
        return await self._lookup(
            LOOKUP_PRODUCT,
            custom_product_id=custom_product_id,
            shopify_id=shopify_id,
            bigcommerce_id=bigcommerce_id,
        )
