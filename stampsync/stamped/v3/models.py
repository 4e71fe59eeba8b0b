"""Stamped V3 data, as msgspec Structs with snake_case attributes over camelCase JSON.

One Struct per schema of the V3 reference (Loyalty Operations and Merchant Data).
Unknown fields are ignored and every field is optional but a record's own id
(``Customer.customer_id``, ``Order.order_id``, ``Product.product_id``,
``Activity.activity_id``, ``Reward.reward_id``): the reference is harvested from
per-operation pages and the API changes without notice, but a record without its id is
unusable, so an answer without it is a :class:`~stampsync.errors.DecodeError`.

Answers are read leniently, as the reference types them: every id is a ``str`` (a
number sent for one reads as its digits); points and money (``total_points``,
``price``, the carts' ``..._price_...`` totals) are ``float``, sent as a number or a
numeric string (a non-numeric string is a ``DecodeError`` naming the field). Other
fields the reference types as strings but that carry numbers or flags (``quantity``,
``taxable``...) accept a string, a number or a boolean as sent.

Request bodies (``...Data``) leave out what is not set (``omit_defaults``).
"""

from __future__ import annotations

from typing import TypeVar

import msgspec

from ..._codec import lenient

__all__ = [
    "Activity",
    "ActivityDetail",
    "ActivityRule",
    "ActivityTriggered",
    "CartItem",
    "CartItemData",
    "Customer",
    "CustomerActivity",
    "CustomerAddress",
    "CustomerData",
    "CustomerNotification",
    "DiscountApplied",
    "Order",
    "OrderBreakdown",
    "OrderCart",
    "OrderCartData",
    "OrderData",
    "OrderEntry",
    "Paginated",
    "PaginatedActivities",
    "PaginatedCustomers",
    "PaginatedOrders",
    "PaginatedProducts",
    "PaginatedRewards",
    "Product",
    "ProductData",
    "ProductImage",
    "ProductVariant",
    "ProductVariantData",
    "Reward",
    "SoftDelete",
]

#: What ids were typed as before they became ``str``; kept importable for old annotations.
Id = str | int
#: A value the reference calls a string that servers send as a number or flag too.
Loose = str | int | float | bool
T = TypeVar("T")


@lenient
class _Model(msgspec.Struct, rename="camel", frozen=True, kw_only=True):
    pass


class _Body(msgspec.Struct, rename="camel", omit_defaults=True, kw_only=True):
    pass


# --------------------------------------------------------------------------- loyalty


class ActivityRule(_Model, frozen=True):
    """The rule an activity was recorded under."""

    category: str | None = None
    type: str | None = None
    title: str | None = None
    description: str | None = None


class OrderBreakdown(_Model, frozen=True):
    """The money of the order behind an activity."""

    total_spent: float | None = None
    total_spent_with_exclusions: float | None = None
    total_shipping: float | None = None
    total_tax: float | None = None
    total_discount: float | None = None
    total_refunded: float | None = None


class ActivityDetail(_Model, frozen=True):
    """What an activity did: points debited or credited, the event, the order."""

    points_debit: float | None = None
    points_credit: float | None = None
    event: str | None = None
    order_id: str | None = None
    order_breakdown: OrderBreakdown | None = None


class Activity(_Model, frozen=True):
    """A loyalty activity (``ActivityResponse``): one entry of a customer's history."""

    activity_id: str
    customer_id: str | None = None
    date_created: str | None = None
    rule: ActivityRule | None = None
    activity: ActivityDetail | None = None


class ActivityTriggered(_Model, frozen=True):
    """Answer of creating a custom activity or triggering one for a customer."""

    customer_id: str | None = None
    rule_id: str | None = None
    activity_id: str | None = None
    points_added: float | None = None


class Reward(_Model, frozen=True):
    """A reward a customer redeemed (``RewardResponse``), with its coupon code."""

    reward_id: str
    activity_id: str | None = None
    customer_id: str | None = None
    status: str | None = None
    title: str | None = None
    description: str | None = None
    coupon_code: str | None = None
    category: str | None = None
    type: str | None = None
    value: Loose | None = None
    date_created: str | None = None
    date_of_expiry: str | None = None


class Paginated(_Model, frozen=True):
    """What every V3 listing page carries: ``page``, ``limit``, ``morePages``, ``subset``."""

    page: int | None = None
    limit: int | None = None
    more_pages: bool | None = None
    subset: bool | None = None


class PaginatedActivities(Paginated, frozen=True):
    """A page of activities."""

    activities: list[Activity] = msgspec.field(default_factory=list)

    @property
    def items(self) -> list[Activity]:
        """The page's activities."""
        return self.activities


class PaginatedRewards(Paginated, frozen=True):
    """A page of redeemed rewards."""

    rewards: list[Reward] = msgspec.field(default_factory=list)

    @property
    def items(self) -> list[Reward]:
        """The page's rewards."""
        return self.rewards


# --------------------------------------------------------------------------- customers


class CustomerAddress(msgspec.Struct, rename="camel", omit_defaults=True, kw_only=True):
    """A customer's address (sent in bodies and answered alike)."""

    label: str | None = None
    phone: str | None = None
    address1: str | None = None
    address2: str | None = None
    city: str | None = None
    province: str | None = None
    country: str | None = None
    country_code: str | None = None
    zip: str | None = None
    default: Loose | None = None


class CustomerNotification(_Model, frozen=True):
    """A notification sent to a customer."""

    notification_type: str | None = None
    reference_id: str | None = None
    date_notified: str | None = None


class CustomerActivity(_Model, frozen=True):
    """A customer's loyalty standing: VIP tier, points, affiliate orders, reviews."""

    vip_tier: str | None = None
    date_vip_tier_updated: str | None = None
    total_points: float | None = None
    date_total_points_updated: str | None = None
    total_affiliate_orders: Loose | None = None
    date_affiliate_orders_updated: str | None = None
    total_reviews: Loose | None = None
    date_reviews_updated: str | None = None


class Customer(_Model, frozen=True):
    """A V3 customer (``CustomerResponse``), keyed by ``customer_id``."""

    customer_id: str
    email: str | None = None
    account_id: str | None = None
    shop_id: str | None = None
    shopify_id: str | None = None
    bigcommerce_id: str | None = None
    custom_customer_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    date_platform_updated: str | None = None
    date_platform_created: str | None = None
    date_stamped_updated: str | None = None
    date_stamped_created: str | None = None
    date_of_birth: str | None = None
    tags: list[str] | None = None
    referral_code: str | None = None
    addresses: list[CustomerAddress] | None = None
    deleted: Loose | None = None
    date_deleted: str | None = None
    notifications: list[CustomerNotification] | None = None
    unsubscribed: list[str] | None = None
    activity: CustomerActivity | None = None

    @property
    def points(self) -> float:
        """The customer's points balance (``activity.total_points``), 0.0 when the
        answer carries none."""
        standing = self.activity
        if standing is None or standing.total_points is None:
            return 0.0
        return standing.total_points


class CustomerData(_Body):
    """The writable fields of a customer (``CustomerRequest``)."""

    email: str | None = None
    custom_customer_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    date_of_birth: str | None = None
    date_platform_updated: str | None = None
    tags: list[str] | None = None
    addresses: list[CustomerAddress] | None = None


class PaginatedCustomers(Paginated, frozen=True):
    """A page of customers."""

    customers: list[Customer] = msgspec.field(default_factory=list)

    @property
    def items(self) -> list[Customer]:
        """The page's customers."""
        return self.customers


class SoftDelete(_Model, frozen=True):
    """Answer of a V3 delete: whether the record was only marked deleted."""

    soft_delete: bool | None = None


# --------------------------------------------------------------------------- orders


class DiscountApplied(msgspec.Struct, rename="camel", omit_defaults=True, kw_only=True):
    """A discount on an order's cart."""

    code: str | None = None
    amount: Loose | None = None
    type: str | None = None


class CartItem(_Model, frozen=True):
    """A line of an order's cart, as answered."""

    product_id: str | None = None
    variant_id: str | None = None
    custom_product_id: str | None = None
    custom_variant_id: str | None = None
    shopify_product_id: str | None = None
    shopify_variant_id: str | None = None
    bigcommerce_product_id: str | None = None
    bigcommerce_variant_id: str | None = None
    name: str | None = None
    gift_card: Loose | None = None
    quantity: Loose | None = None
    sku: str | None = None
    title: str | None = None
    variant_title: str | None = None
    fulfillment_status: str | None = None
    price: float | None = None
    taxable: Loose | None = None


class CartItemData(_Body):
    """A line of an order's cart, as sent (``CartItemRequest``)."""

    product_id: str | None = None
    variant_id: str | None = None
    custom_product_id: str | None = None
    custom_variant_id: str | None = None
    name: str | None = None
    gift_card: str | None = None
    quantity: str | None = None
    sku: str | None = None
    title: str | None = None
    variant_title: str | None = None
    fulfillment_status: str | None = None
    price: str | None = None
    taxable: str | None = None


class OrderCart(_Model, frozen=True):
    """A state of an order's cart, in the customer's and the shop's currency."""

    line_items: list[CartItem] | None = None
    financial_status: str | None = None
    fulfillment_status: str | None = None
    discounts_applied: list[DiscountApplied] | None = None
    customer_currency: str | None = None
    customer_price_discount_total: float | None = None
    customer_price_items_total: float | None = None
    customer_price_sub_total: float | None = None
    customer_price_total: float | None = None
    customer_price_shipping: float | None = None
    customer_price_tax: float | None = None
    shop_currency: str | None = None
    shop_price_discount_total: float | None = None
    shop_price_items_total: float | None = None
    shop_price_sub_total: float | None = None
    shop_price_total: float | None = None
    shop_price_shipping: float | None = None
    shop_price_tax: float | None = None


class OrderCartData(_Body):
    """An order's cart, as sent (``OrderCartRequest``; also the body of an update)."""

    line_items: list[CartItemData] | None = None
    financial_status: str | None = None
    fulfillment_status: str | None = None
    discounts_applied: list[DiscountApplied] | None = None
    shop_currency: str | None = None
    shop_price_discount_total: str | None = None
    shop_price_items_total: str | None = None
    shop_price_sub_total: str | None = None
    shop_price_total: str | None = None
    shop_price_shipping: str | None = None
    shop_price_tax: str | None = None


class OrderEntry(_Model, frozen=True):
    """An event in an order's life (its cart at that moment by hash)."""

    cart_hash: str | None = None
    event: str | None = None
    date: str | None = None


class Order(_Model, frozen=True):
    """A V3 order (``OrderResponse``), keyed by ``order_id``."""

    order_id: str
    account_id: str | None = None
    shop_id: str | None = None
    customer_id: str | None = None
    shopify_id: str | None = None
    bigcommerce_id: str | None = None
    custom_order_id: str | None = None
    currency: str | None = None
    referring_site: str | None = None
    source_name: str | None = None
    source_url: str | None = None
    client_accept_language: str | None = None
    client_user_agent: str | None = None
    client_ip: str | None = None
    date_platform_created: str | None = None
    date_platform_updated: str | None = None
    date_stamped_created: str | None = None
    date_stamped_updated: str | None = None
    order_entries: list[OrderEntry] | None = None
    cart_states: list[OrderCart] | None = None
    discount_applications: Loose | list[object] | None = None
    tags: list[str] | None = None


class OrderData(_Body):
    """An order as pushed (``OrderRequest``); ``custom_order_id`` makes the push an
    upsert, safe to repeat."""

    custom_order_id: str | None = None
    custom_customer_id: str | None = None
    customer_id: str | None = None
    cart: OrderCartData | None = None
    tags: list[str] | None = None


class PaginatedOrders(Paginated, frozen=True):
    """A page of orders."""

    orders: list[Order] = msgspec.field(default_factory=list)

    @property
    def items(self) -> list[Order]:
        """The page's orders."""
        return self.orders


# --------------------------------------------------------------------------- products


class ProductImage(msgspec.Struct, rename="camel", omit_defaults=True, kw_only=True):
    """A product image (sent in bodies and answered alike)."""

    variant_matches: list[str] | None = None
    position: Loose | None = None
    alt_text: str | None = None
    width: Loose | None = None
    height: Loose | None = None
    url_src: str | None = None


class ProductVariant(_Model, frozen=True):
    """A product variant, as answered."""

    custom_variant_id: str | None = None
    shopify_variant_id: str | None = None
    bigcommerce_variant_id: str | None = None
    title: str | None = None
    price: float | None = None
    sku: str | None = None
    position: Loose | None = None
    taxable: Loose | None = None
    barcode: str | None = None
    grams: Loose | None = None
    weight: Loose | None = None
    weight_unit: str | None = None
    requires_shipping: Loose | None = None
    inventory_policy: str | None = None
    inventory_management: str | None = None
    inventory_quantity: Loose | None = None


class ProductVariantData(_Body):
    """A product variant, as sent (``ProductVariantRequest``)."""

    custom_variant_id: str | None = None
    title: str | None = None
    price: str | None = None
    sku: str | None = None
    position: str | None = None
    taxable: str | None = None
    barcode: str | None = None
    weight: str | None = None
    weight_unit: str | None = None
    requires_shipping: str | None = None
    inventory_quantity: str | None = None


class Product(_Model, frozen=True):
    """A V3 product (``ProductResponse``), keyed by ``product_id``."""

    product_id: str
    account_id: str | None = None
    shop_id: str | None = None
    shopify_id: str | None = None
    bigcommerce_id: str | None = None
    custom_product_id: str | None = None
    published_scope: str | None = None
    status: str | None = None
    title: str | None = None
    html_product_description: str | None = None
    vendor: str | None = None
    type: str | None = None
    handle: str | None = None
    date_published: str | None = None
    date_platform_created: str | None = None
    date_platform_updated: str | None = None
    date_stamped_created: str | None = None
    date_stamped_updated: str | None = None
    tags: list[str] | None = None
    variants: list[ProductVariant] | None = None
    images: list[ProductImage] | None = None


class ProductData(_Body):
    """The writable fields of a product (``ProductRequest``)."""

    custom_product_id: str | None = None
    published_scope: str | None = None
    status: str | None = None
    title: str | None = None
    html_product_description: str | None = None
    vendor: str | None = None
    type: str | None = None
    handle: str | None = None
    date_published: str | None = None
    date_platform_updated: str | None = None
    tags: list[str] | None = None
    variants: list[ProductVariantData] | None = None
    images: list[ProductImage] | None = None


class PaginatedProducts(Paginated, frozen=True):
    """A page of products."""

    products: list[Product] = msgspec.field(default_factory=list)

    @property
    def items(self) -> list[Product]:
        """The page's products."""
        return self.products


#: The reference answers the order and product listings with an array of pages; a
#: server may answer one page object too. Both decode.
OrdersAnswer = PaginatedOrders | list[PaginatedOrders]
ProductsAnswer = PaginatedProducts | list[PaginatedProducts]


def one_page(answer: T | list[T], empty: T) -> T:
    """The page of an answer that may be a page or a list of pages (the first)."""
    if isinstance(answer, list):
        return answer[0] if answer else empty
    return answer
