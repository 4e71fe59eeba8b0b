"""Stamps point-of-sale data: transactions, redemptions, rewards, vouchers, balances,
stores, activities and expiration journals, as msgspec Structs, with the documented
code mappings as enums.

The enums are open: a code the documents do not list decodes into a member named
``UNKNOWN_<code>`` instead of failing, because the vendor adds channels and types
without notice. Request parts (:class:`Item`, :class:`Payment`, ...) leave out what is
not set.
"""

from __future__ import annotations

import enum
from typing import Any, Self

import msgspec

from .models import Membership, User

__all__ = [
    "Activity",
    "ActivityEntry",
    "ActivityPage",
    "ActivityType",
    "BalanceCustomer",
    "BalanceResult",
    "BalanceUpdate",
    "Channel",
    "EarningsPreview",
    "ExpirationJournal",
    "ExpirationJournalPage",
    "IssueVoucher",
    "IssueVoucherResult",
    "Item",
    "MultipleRewardRedemption",
    "NamedRef",
    "Payment",
    "Redemption",
    "RedemptionCustomer",
    "RedemptionResult",
    "Reward",
    "RewardList",
    "RewardRedemption",
    "RewardType",
    "RewardVoucher",
    "RewardsCustomer",
    "Store",
    "StoreRef",
    "StoreResult",
    "TokenPayload",
    "Transaction",
    "TransactionCustomer",
    "TransactionDetails",
    "TransactionItem",
    "TransactionMeta",
    "TransactionModification",
    "TransactionPayment",
    "TransactionRef",
    "TransactionResult",
    "TransactionStatus",
    "TransactionType",
    "UserTransactions",
    "Voucher",
    "VoucherConstraint",
    "VoucherCount",
    "VoucherCustomer",
    "VoucherList",
    "VoucherRedemption",
    "VoucherTemplate",
    "VoucherTemplateType",
    "VoucherValidation",
]


class _OpenIntEnum(enum.IntEnum):
    """An IntEnum that keeps an undocumented code as ``UNKNOWN_<code>`` (msgspec and
    the constructor both go through ``_missing_``)."""

    @classmethod
    def _missing_(cls, value: object) -> Self | None:
        if isinstance(value, int) and not isinstance(value, bool):
            member = int.__new__(cls, value)
            member._name_ = f"UNKNOWN_{value}"
            member._value_ = value
            return member
        return None


class Channel(_OpenIntEnum):
    """Where a transaction or redemption happened (transaction_api.rst, Channel Mapping)."""

    MOBILE_APP = 1
    POS = 2
    KIOSK = 3
    WEB = 4
    ANDROID = 5
    IOS = 6
    CALL_CENTER = 7
    GRABFOOD = 8
    GOFOOD = 9


class TransactionType(_OpenIntEnum):
    """How an order was served (transaction_api.rst, Type Mapping)."""

    DELIVERY = 1
    DINE_IN = 2
    TAKE_OUT = 3
    E_COMMERCE = 4
    PICKUP = 5


class TransactionStatus(_OpenIntEnum):
    """A transaction's state in listings (transaction_api.rst, Status Mapping)."""

    NEW = 1
    CANCELED = 2
    OPEN = 3


class RewardType(_OpenIntEnum):
    """reward_api.rst, Reward Type."""

    PRODUCT = 1
    BENEFIT = 3
    VOUCHER = 4
    FLEXIBLE = 5


class VoucherTemplateType(_OpenIntEnum):
    """voucher_api.rst, Voucher Template Type Mapping."""

    CROSS_PROMOTION = 1
    REGULAR = 2
    PROMOTION = 3
    SIGNUP = 4
    BIRTHDAY = 5
    REFERRAL = 6
    PREGENERATED = 7
    ANNIVERSARY = 8


class ActivityType(_OpenIntEnum):
    """activity_api.rst, Activity Type."""

    TRANSACTION = 0
    REDEMPTION = 1
    AWARDED_STAMPS = 2
    MEMBERSHIP_UPGRADE = 5
    MEMBERSHIP_DOWNGRADE = 6
    CHANGE_BALANCE = 7
    SURVEY_SUBMISSION = 8
    COMPLETED_REGISTRATION = 9
    DEDUCT_STAMPS = 10
    RETURN_TRANSACTION = 11
    MEMBERSHIP_LEVEL_OVERRIDE = 12
    MERGED_WITH_LEGACY_MEMBER = 13
    LEGACY_MEMBER_ACTIVATED = 14
    STAMPS_EXPIRED = 15
    REFUND_STAMPS = 16


Id = int | str
Number = int | float

# -- request parts -------------------------------------------------------------------


class Item(msgspec.Struct, omit_defaults=True, kw_only=True, frozen=True):
    """One line of a transaction. ``subtotal`` is quantity x unit price."""

    product_name: str
    quantity: Number
    subtotal: Number | None = None
    price: Number | None = None
    """The documents' other name for ``subtotal``."""
    stamps_subtotal: int | None = None
    eligible_for_stamps: bool | None = None
    extra_data: dict[str, Any] | None = None


class Payment(msgspec.Struct, omit_defaults=True, kw_only=True, frozen=True):
    """One payment of a transaction; ``payment_method`` is the merchant's code for it."""

    value: Number
    payment_method: int | str
    eligible_for_membership: bool | None = None


class RewardRedemption(msgspec.Struct, omit_defaults=True, kw_only=True, frozen=True):
    """A reward redeemed with a transaction (``reward``: id or code)."""

    request_id: str
    reward: int | str
    stamps: int | None = None
    """Required for a flexible reward."""


class VoucherRedemption(msgspec.Struct, omit_defaults=True, kw_only=True, frozen=True):
    """A voucher redeemed with a transaction."""

    request_id: str
    voucher_code: str


class IssueVoucher(msgspec.Struct, omit_defaults=True, kw_only=True, frozen=True):
    """A voucher issued with a transaction."""

    template_id: int
    value: Number | None = None


class MultipleRewardRedemption(msgspec.Struct, omit_defaults=True, kw_only=True, frozen=True):
    """One reward of ``redeem-multiple-rewards`` (``code``: the reward's id or code)."""

    code: int | str
    qty: int | None = None
    stamps: int | None = None
    request_id: str | None = None


# -- transactions --------------------------------------------------------------------


class StoreRef(msgspec.Struct, frozen=True, kw_only=True):
    """The store a transaction or a redemption belongs to."""

    id: Id | None = None
    name: str | None = None
    display_name: str | None = None


class NamedRef(msgspec.Struct, frozen=True, kw_only=True):
    """A reference by id and name (a merchant, a product category)."""

    id: Id | None = None
    name: str | None = None


class TransactionMeta(msgspec.Struct, frozen=True, kw_only=True):
    """How a transaction was made: its channel."""

    channel: Channel | None = None
    channel_text: str | None = None


class TransactionItem(msgspec.Struct, frozen=True, kw_only=True):
    """One line of a transaction: a product, its quantity and price."""

    id: Id | None = None
    name: str | None = None
    product_name: str | None = None
    quantity: Number | None = None
    subtotal: Number | None = None
    stamps_subtotal: Number | None = None


class TransactionPayment(msgspec.Struct, frozen=True, kw_only=True):
    """One payment of a transaction and whether it earns stamps."""

    id: Id | None = None
    value: Number | None = None
    eligible_for_stamps: Number | bool | None = None
    payment_method: int | str | None = None
    payment_method_code: str | int | None = None


class Transaction(msgspec.Struct, frozen=True, kw_only=True):
    """A transaction as the endpoints show it (each shows a subset of these fields).

    ``status`` is a :class:`TransactionStatus` code in listings and a word
    (``"Canceled"``, ``"Created"``) in cancel and details answers; ``created`` is a Unix
    time in listings.
    """

    id: int | None = None
    value: Number | None = None
    stamps_earned: int | None = None
    stamps: int | None = None
    number_of_people: int | None = None
    discount: Number | None = None
    subtotal: Number | None = None
    service_charge: Number | None = None
    tax: Number | None = None
    type: int | str | None = None
    invoice_number: str | None = None
    created: int | str | None = None
    merchant: str | None = None
    merchant_id: int | None = None
    status: int | str | None = None
    notes: str | None = None
    meta: TransactionMeta | None = None
    store: StoreRef | None = None
    items: list[TransactionItem] | None = None
    payments: list[TransactionPayment] | None = None

    @property
    def canceled(self) -> bool:
        """True when either form of the status says canceled."""
        return self.status in (TransactionStatus.CANCELED, "Canceled")


class TransactionCustomer(msgspec.Struct, frozen=True, kw_only=True):
    """The customer after a transaction."""

    id: Id | None = None
    mobile_phone: str | None = None
    stamps_remaining: int | None = None
    balance: Number | None = None
    status: str | int | None = None


class VoucherConstraint(msgspec.Struct, frozen=True, kw_only=True):
    """Where a voucher may be used (its channels)."""

    channels: list[Channel] = msgspec.field(default_factory=list)


class VoucherTemplate(msgspec.Struct, frozen=True, kw_only=True):
    """The template a voucher was issued from: its name and type."""

    id: Id | None = None
    name: str | None = None
    type: VoucherTemplateType | None = None
    short_description: str | None = None
    description: str | None = None
    instructions: str | None = None
    terms_and_conditions: str | None = None
    picture_url: str | None = None
    landscape_picture_url: str | None = None
    merchant_id: Id | None = None
    merchant_code: str | None = None
    extra_data: dict[str, Any] | None = None


class Voucher(msgspec.Struct, frozen=True, kw_only=True):
    """A customer's voucher (each endpoint shows a subset of these fields)."""

    id: int | None = None
    code: str | None = None
    name: str | None = None
    is_active: bool | None = None
    quantity: int | None = None
    value: Number | None = None
    notes: str | None = None
    start_date: str | None = None
    end_date: str | None = None
    validity: str | None = None
    type: int | str | None = None
    picture_url: str | None = None
    short_description: str | None = None
    description: str | None = None
    instructions: str | None = None
    terms_and_conditions: str | None = None
    extra_data: dict[str, Any] | None = None
    constraint: VoucherConstraint | None = None
    template: VoucherTemplate | None = None


class TransactionResult(msgspec.Struct, frozen=True, kw_only=True):
    """Answer of the transaction writes (add, add-or-update, add-with-redemptions,
    cancel, modify).

    ``recovered`` is set by the client, never by the server: the connection was lost
    after sending :meth:`~stampsync.stamps.Transactions.add`, and the transaction was
    then found by its invoice (or written by the upsert) and shown to be this sale
    (store, customer, value, ``created`` instant); see *Ambiguity resolved* in the
    retries guide. A recovered result carries what the lookup could tell.
    """

    transaction: Transaction | None = None
    customer: TransactionCustomer | None = None
    membership: Membership | None = None
    issued_voucher: Voucher | None = None
    recovered: bool = False


class TransactionDetails(msgspec.Struct, frozen=True, kw_only=True):
    """Answer of ``GET /api/transactions/details``."""

    transaction: Transaction


class EarningsPreview(msgspec.Struct, frozen=True, kw_only=True):
    """Answer of ``preview-earnings``: the stamps the transaction would earn."""

    stamps: int


class UserTransactions(msgspec.Struct, frozen=True, kw_only=True):
    """One page of ``GET /api/transactions/by-user`` (newest first)."""

    transactions: list[Transaction] = msgspec.field(default_factory=list)
    has_next: bool = False


# -- rewards and redemptions ----------------------------------------------------------


class Reward(msgspec.Struct, frozen=True, kw_only=True):
    """A reward (each endpoint shows a subset of these fields). ``type`` is a
    :class:`RewardType` code in listings and a word (``"reward"``) in redemptions."""

    id: int | None = None
    name: str | None = None
    code: str | None = None
    stamps_to_redeem: int | None = None
    type: RewardType | str | None = None
    description: str | None = None
    membership: str | None = None
    price: Number | None = None
    image_url: str | None = None
    landscape_url: str | None = None
    picture_url: str | None = None
    merchant_code: str | None = None
    redeemable: bool | None = None
    is_visible: bool | None = None
    is_active: bool | None = None
    is_cross_promo: bool | None = None
    terms: str | None = None
    redemption_url: str | None = None
    get_absolute_url: str | None = None
    available_at: list[str] | None = None
    extra_data: dict[str, Any] | None = None


class RewardVoucher(msgspec.Struct, frozen=True, kw_only=True):
    """A voucher offered in the rewards listing."""

    id: int | None = None
    name: str | None = None
    code: str | None = None
    type: str | int | None = None
    quantity: int | None = None
    image_url: str | None = None
    landscape_url: str | None = None
    expires_on: str | None = None
    terms: str | None = None
    constraint: VoucherConstraint | None = None
    extra_data: dict[str, Any] | None = None


class RewardsCustomer(msgspec.Struct, frozen=True, kw_only=True):
    """The customer a reward listing was made for, with their stamps."""

    id: Id | None = None
    stamps: int | None = None
    membership_status: str | None = None


class RewardList(msgspec.Struct, frozen=True, kw_only=True):
    """One page of ``GET /api/rewards/`` or ``/api/rewards/by-merchant-group``."""

    rewards: list[Reward] = msgspec.field(default_factory=list)
    vouchers: list[RewardVoucher] = msgspec.field(default_factory=list)
    customer: RewardsCustomer | None = None


class Redemption(msgspec.Struct, frozen=True, kw_only=True):
    """A redemption. ``reward`` is the reward's name, or (in ``redeem-multiple-rewards``)
    the reward itself, which then comes with its ``voucher``."""

    id: int | None = None
    reward: str | Reward | None = None
    stamps_used: int | None = None
    status: str | int | None = None
    extra_data: dict[str, Any] | None = None
    voucher: Voucher | None = None


class RedemptionCustomer(msgspec.Struct, frozen=True, kw_only=True):
    """The customer of a redemption, with the stamps left after it."""

    id: Id | None = None
    status: str | int | None = None
    stamps_remaining: int | None = None


class RedemptionResult(msgspec.Struct, frozen=True, kw_only=True):
    """Answer of the redemption endpoints (each fills a subset)."""

    redemption: Redemption | None = None
    membership: Membership | None = None
    customer: RedemptionCustomer | None = None
    reward: Reward | None = None
    voucher: Voucher | None = None
    user: User | None = None


# -- vouchers -----------------------------------------------------------------------


class VoucherCustomer(msgspec.Struct, frozen=True, kw_only=True):
    """The customer a voucher was issued to."""

    id: Id | None = None
    email: str | None = None
    name: str | None = None
    phone: str | None = None


class IssueVoucherResult(msgspec.Struct, frozen=True, kw_only=True):
    """Answer of ``POST /api/vouchers/issue``."""

    voucher: Voucher
    customer: VoucherCustomer | None = None


class VoucherValidation(msgspec.Struct, frozen=True, kw_only=True):
    """Answer of ``GET /api/vouchers/validate``."""

    is_redeemable: bool | None = None
    user: VoucherCustomer | None = None
    voucher: Voucher | None = None


class VoucherList(msgspec.Struct, frozen=True, kw_only=True):
    """A list of vouchers."""

    vouchers: list[Voucher] = msgspec.field(default_factory=list)


class VoucherCount(msgspec.Struct, frozen=True, kw_only=True):
    """How many vouchers match (``vouchers.count_by_merchant_group``)."""

    count: int


# -- balances, stores ------------------------------------------------------------------


class BalanceCustomer(msgspec.Struct, frozen=True, kw_only=True):
    """The customer whose balance a balance operation changed."""

    id: Id | None = None
    balance: Number | None = None
    status: str | int | None = None


class BalanceUpdate(msgspec.Struct, frozen=True, kw_only=True):
    """A credit or debit; its ``id`` is what :meth:`Balances.cancel` takes."""

    id: int
    amount: Number | None = None
    status: str | int | None = None


class BalanceResult(msgspec.Struct, frozen=True, kw_only=True):
    """Answer of the balance endpoints."""

    customer: BalanceCustomer | None = None
    balance_update: BalanceUpdate


class Store(msgspec.Struct, frozen=True, kw_only=True):
    """A store, as ``stores.add_or_update`` answers it."""

    id: Id | None = None
    name: str | None = None
    code: str | None = None
    display_name: str | None = None
    area: str | None = None
    address: str | None = None
    phone: str | None = None
    email: str | None = None
    slug: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    photo_url: str | None = None
    is_active: bool | None = None


class StoreResult(msgspec.Struct, frozen=True, kw_only=True):
    """Answer of ``POST /api/stores/add-or-update``."""

    store: Store


# -- activities, journals, tokens -------------------------------------------------------


class ActivityEntry(msgspec.Struct, frozen=True, kw_only=True):
    """The transaction, redemption, award, deduction, balance update or survey an
    activity is about (each shows a subset of these fields)."""

    stamps: int | None = None
    name: str | None = None
    status: int | str | None = None
    invoice_number: str | None = None
    channel: str | int | None = None
    notes: str | None = None
    transaction_number: str | None = None
    amount: Number | None = None
    balance_type: int | str | None = None
    transaction_id: int | None = None


class TransactionRef(msgspec.Struct, frozen=True, kw_only=True):
    """A transaction named by its id and invoice number."""

    id: int | None = None
    invoice_number: str | None = None


class TransactionModification(msgspec.Struct, frozen=True, kw_only=True):
    """What ``transactions.modify`` changed: the original and the new transaction."""

    root_transaction: TransactionRef | None = None
    original_transaction: TransactionRef | None = None
    modified_transaction: TransactionRef | None = None
    stamps_delta: int | None = None
    stamps_delta_override: int | None = None
    stamps_refund_from_payments: int | None = None
    total_stamps_delta: int | None = None
    subtotal_delta: Number | None = None
    grand_total_delta: Number | None = None
    invoice_number: str | None = None
    channel: str | int | None = None


class Activity(msgspec.Struct, frozen=True, kw_only=True):
    """One entry of a member's activity list; which parts are set depends on ``type``."""

    id: int
    type: ActivityType | None = None
    created: int | None = None
    notes: str | None = None
    stamps: int | None = None
    expired_stamps: int | None = None
    merchant: NamedRef | None = None
    store: StoreRef | None = None
    transaction: ActivityEntry | None = None
    redemption: ActivityEntry | None = None
    award: ActivityEntry | None = None
    balance_update: ActivityEntry | None = None
    survey: ActivityEntry | None = None
    stamps_deduction: ActivityEntry | None = None
    transaction_modification: TransactionModification | None = None


class ActivityPage(msgspec.Struct, frozen=True, kw_only=True):
    """One page (at most 20, newest first) of a member's activities."""

    activities: list[Activity] = msgspec.field(default_factory=list)


class ExpirationJournal(msgspec.Struct, frozen=True, kw_only=True):
    """Stamps due to expire on a date, as the expiration journal lists them."""

    id: int | None = None
    stamps_to_expire: int | None = None
    expiration_date: str | None = None


class ExpirationJournalPage(msgspec.Struct, frozen=True, kw_only=True):
    """Answer of ``GET /api/v2/expiration-journals/``."""

    expiration_journals: list[ExpirationJournal] = msgspec.field(default_factory=list)


class TokenPayload(msgspec.Struct, frozen=True, kw_only=True):
    """Answer of ``POST /api/auth/verify-token/``: the JWT's claims."""

    token_type: str | None = None
    exp: int | None = None
    iat: int | None = None
    jti: str | None = None
    user_id: int | None = None
    merchant_id: int | None = None
