"""What the sandbox's inspection helpers return, typed: one ``TypedDict`` per record.

They are plain dicts at run time (index them as before); the types say which keys the
sandbox sends and what each holds, so mypy --strict checks a test that reads them.
``NotRequired`` keys are those a record may lack: fields a client did not send, and
``deleted``/``dateDeleted`` until a V3 record is deleted. Keys are spelled as the
sandbox sends them: snake_case for Stamps, camelCase for Stamped.io.
"""

# No ``from __future__ import annotations``: TypedDict reads NotRequired from evaluated
# annotations only (on Python 3.11 a string annotation makes every key required).
from typing import Any, NotRequired, TypedDict

__all__ = [
    "AwardRecord",
    "CustomerRecord",
    "DeductionRecord",
    "MemberRecord",
    "MemberTag",
    "RequestRecord",
    "TransactionRecord",
    "V3ActivityDetail",
    "V3ActivityRecord",
    "V3ActivityRule",
    "V3CustomerRecord",
    "V3CustomerStanding",
    "V3OrderEntry",
    "V3OrderRecord",
    "V3ProductRecord",
    "V3RewardRecord",
]


class RequestRecord(TypedDict):
    """One API request the sandbox saw (:meth:`Sandbox.requests`)."""

    method: str
    path: str
    status: int
    #: The injected fault's kind (``"503"``, ``"drop_after"``...), or None.
    fault: str | None
    #: Whose quota it counted against (``stamped:<public key>``, ``stamps:<merchant>``;
    #: never a secret), None when refused before.
    credential: str | None


# --------------------------------------------------------------------------- Stamps


class AwardRecord(TypedDict):
    """A stamps award the sandbox applied (:meth:`Sandbox.awards`)."""

    id: int
    #: The member's primary key.
    pk: int
    store: int
    stamps: int
    notes: str | None
    #: ``"Active"`` or ``"Canceled"``.
    status: str
    email: str | None


class DeductionRecord(TypedDict):
    """A stamps deduction the sandbox applied (:meth:`Sandbox.deductions`)."""

    id: int
    stamps: int
    notes: str
    #: ISO 8601, UTC.
    created: str
    created_timestamp: int
    status: int
    #: The member's primary key.
    user: int


class TransactionRecord(TypedDict):
    """A Stamps transaction the sandbox recorded (:meth:`Sandbox.transactions`)."""

    id: int
    #: The member's primary key, None for a sale without a member.
    user: int | None
    store: int
    invoice_number: str
    #: The UTC date of ``created`` (``YYYY-MM-DD``): with store and invoice, the sale's key.
    day: str
    value: float
    stamps: int
    #: 1 new, 2 canceled, 3 open.
    status: int
    #: How many items the sale has.
    items: int


class MemberTag(TypedDict):
    """A key-value tag on a Stamps member (``memberships.add_tag(key=, value=)``)."""

    group: str
    tag: str


class MemberRecord(TypedDict):
    """A Stamps member's state (:meth:`Sandbox.member`)."""

    pk: int
    name: str
    email: str
    phone: str
    member_id: str
    stamps: int
    level: int
    level_text: str
    gender: str | None
    birthday: str | None
    address: str | None
    tags: list[MemberTag]
    anonymized: bool
    pending_anonymization: bool
    #: ``"Full"``, or ``"Partial"`` for a member made by a partial registration.
    registration_status: str
    #: Profile fields given at registration beyond the ones above.
    extra: dict[str, Any]


# --------------------------------------------------------------------------- Stamped.io V2


class CustomerRecord(TypedDict):
    """A Stamped.io (V2) customer as the sandbox stores it (:meth:`Sandbox.customer`);
    the keys a client did not send are absent from a customer it created."""

    id: int
    email: str
    points: int | float
    tags: list[str]
    createdAt: str
    updatedAt: str
    #: Subscribed to review requests: True, False, or None when never set.
    subscribed: bool | None
    firstName: NotRequired[str]
    lastName: NotRequired[str]
    customerId: NotRequired[str]
    tier: NotRequired[str]
    totalSpend: NotRequired[float]
    totalOrders: NotRequired[int]
    pointsExpiry: NotRequired[str]


# --------------------------------------------------------------------------- Stamped V3


class _V3Stamped(TypedDict):
    # What the sandbox adds to every V3 record it stores.
    accountId: str
    shopId: str
    dateStampedCreated: str
    datePlatformCreated: str
    dateStampedUpdated: str
    #: ``"true"`` once deleted (a soft delete).
    deleted: NotRequired[str]
    dateDeleted: NotRequired[str]


class V3CustomerStanding(TypedDict):
    """A V3 customer's ``activity``: tier and points."""

    vipTier: str
    totalPoints: int | float
    totalReviews: int
    totalAffiliateOrders: int
    dateTotalPointsUpdated: NotRequired[str]
    dateVipTierUpdated: NotRequired[str]


class V3CustomerRecord(_V3Stamped):
    """A V3 customer (``await sandbox.v3("customers")``)."""

    customerId: str
    referralCode: str
    activity: V3CustomerStanding
    email: NotRequired[str]
    customCustomerId: NotRequired[str]
    firstName: NotRequired[str]
    lastName: NotRequired[str]
    dateOfBirth: NotRequired[str]
    datePlatformUpdated: NotRequired[str]
    tags: NotRequired[list[str]]
    addresses: NotRequired[list[dict[str, Any]]]


class V3OrderEntry(TypedDict):
    """One push or update of a V3 order."""

    cartHash: str
    event: str
    date: str


class V3OrderRecord(_V3Stamped):
    """A V3 order (``await sandbox.v3("orders")``)."""

    orderId: str
    customerId: str
    customOrderId: str | None
    currency: str | None
    tags: list[str]
    #: The carts as pushed and updated, in the API's spelling, the latest last.
    cartStates: list[dict[str, Any]]
    orderEntries: list[V3OrderEntry]
    #: How many times the order was written (created or upserted).
    writes: int


class V3ProductRecord(_V3Stamped):
    """A V3 product (``await sandbox.v3("products")``)."""

    productId: str
    customProductId: NotRequired[str]
    publishedScope: NotRequired[str]
    status: NotRequired[str]
    title: NotRequired[str]
    htmlProductDescription: NotRequired[str]
    vendor: NotRequired[str]
    type: NotRequired[str]
    handle: NotRequired[str]
    datePublished: NotRequired[str]
    datePlatformUpdated: NotRequired[str]
    tags: NotRequired[list[str]]
    variants: NotRequired[list[dict[str, Any]]]
    images: NotRequired[list[dict[str, Any]]]


class V3ActivityRule(TypedDict):
    """The rule a V3 activity was recorded under."""

    category: str
    type: str
    title: str


class V3ActivityDetail(TypedDict):
    """What a V3 activity did."""

    pointsCredit: int | float
    pointsDebit: int | float
    event: str
    orderId: NotRequired[str]


class V3ActivityRecord(TypedDict):
    """A V3 loyalty activity (``await sandbox.v3("activities")``)."""

    activityId: str
    customerId: str
    dateCreated: str
    rule: V3ActivityRule
    activity: V3ActivityDetail


class V3RewardRecord(TypedDict):
    """A reward redeemed into a coupon (``await sandbox.v3("rewards")``)."""

    rewardId: str
    activityId: str
    customerId: str
    #: ``"active"`` or ``"voided"``.
    status: str
    title: str
    description: str
    couponCode: str
    category: str
    type: str
    #: The coupon's value: an amount (``"5.00"``) or ``"shipping"``.
    value: str
    dateCreated: str


class WebhookPushRecord(TypedDict):
    """One webhook push the sandbox made (``await sandbox.webhooks()``)."""

    topic: str
    #: The event's id (a redelivered event is listed once per push).
    id: str
    #: Tries this push took (the receiver answered 2xx on the last, if ``ok``).
    tries: int
    ok: bool


class WebhooksRecord(TypedDict):
    """The sandbox's webhook pushes: those made, and how many wait (queued or delayed)."""

    pending: int
    pushes: list[WebhookPushRecord]


class ReviewRecord(TypedDict):
    """A review a shopper wrote (``await sandbox.write_review(...)``): the pushed payload."""

    id: str
    customerEmail: str | None
    author: str | None
    reviewRating: float
    reviewTitle: str | None
    reviewMessage: str | None
    productId: str | int | None
