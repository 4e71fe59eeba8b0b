"""Stamps (stamps.co.id) data, as msgspec Structs, and the documented enumerations.

Answers are read leniently: unknown fields are ignored, fields may be absent or null,
ids may be numbers or strings, and a few fields change type between endpoints (gender is
``"female"``, ``"f"`` or ``1``; tags are strings or ``{group, tag}`` objects).
"""

from __future__ import annotations

import enum
from typing import Any

import msgspec

__all__ = [
    "AccessToken",
    "AddStampsResult",
    "Award",
    "Child",
    "CodeName",
    "DeductStampsResult",
    "Deduction",
    "FullProfile",
    "FullProfileResult",
    "Gender",
    "LevelRequirement",
    "Location",
    "MemberDetails",
    "Membership",
    "Otp",
    "OtpChannel",
    "PartialRegistration",
    "Pet",
    "PrimaryCard",
    "RegistrationMethod",
    "StampsCustomer",
    "Status",
    "Suggestion",
    "Suggestions",
    "Tag",
    "UpgradeRequirement",
    "User",
]


class Gender(enum.StrEnum):
    """The genders the registration and profile endpoints accept."""

    MALE = "male"
    FEMALE = "female"


class OtpChannel(enum.StrEnum):
    """How an OTP is delivered."""

    SMS = "sms"
    WHATSAPP = "whatsapp"


class RegistrationMethod(enum.IntEnum):
    """Registration method codes (``registration_method``)."""

    MOBILE_WEB = 0
    WEB = 1
    STORE = 2
    API = 3
    MERCHANT = 4
    MOBILE_API = 5
    SMS = 6
    ANDROID = 9
    IOS = 10
    IMPORTED = 12


Id = int | str


class StampsCustomer(msgspec.Struct, frozen=True, kw_only=True):
    """The customer's state after a stamps operation."""

    id: Id | None = None
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


class Tag(msgspec.Struct, frozen=True, kw_only=True):
    """A key-value membership tag."""

    group: str | None = None
    tag: str | None = None


class PrimaryCard(msgspec.Struct, frozen=True, kw_only=True):
    """The member's primary membership card."""

    id: Id | None = None
    number: str | None = None
    is_active: bool | None = None
    activated_time: str | None = None


class Membership(msgspec.Struct, frozen=True, kw_only=True):
    """A customer's membership at the merchant: level, stamps, balance."""

    id: Id | None = None
    group_id: Id | None = None
    tags: list[str | Tag] | None = None
    level: int | None = None
    level_text: str | None = None
    status: int | str | None = None
    status_text: str | None = None
    member_status: str | None = None
    stamps: int | None = None
    stamps_owed: int | None = None
    balance: float | None = None
    is_blocked: bool | None = None
    referral_code: str | None = None
    start_date: str | None = None
    created: str | None = None
    allow_newsletters: bool | None = None
    allow_sms_marketing: bool | None = None
    allow_whatsapp_marketing: bool | None = None
    redemption_allowed: bool | None = None
    primary_card: PrimaryCard | None = None
    extra_data: dict[str, Any] | None = None


class CodeName(msgspec.Struct, frozen=True, kw_only=True):
    """A coded place name (district, regency or province)."""

    id: Id | None = None
    code: str | None = None
    name: str | None = None


class Location(msgspec.Struct, frozen=True, kw_only=True):
    """Where a member lives, as district, regency and province."""

    district: CodeName | None = None
    regency: CodeName | None = None
    province: CodeName | None = None


class SiteActivity(msgspec.Struct, frozen=True, kw_only=True):
    id: Id | None = None
    registration_method: str | int | None = None


class User(msgspec.Struct, frozen=True, kw_only=True):
    """A customer's user record (profile, contact, verification flags)."""

    id: Id | None = None
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    gender: str | int | None = None
    birthday: str | None = None
    address: str | None = None
    postal_code: str | None = None
    is_active: bool | None = None
    picture_url: str | None = None
    member_ids: list[str] | None = None
    primary_membership_id: str | None = None
    email_is_verified: bool | None = None
    phone_is_verified: bool | None = None
    has_incorrect_email: bool | None = None
    has_incorrect_phone: bool | None = None
    has_incorrect_wa_number: bool | None = None
    has_pin: bool | None = None
    pin_is_blocked: bool | None = None
    has_password: bool | None = None
    is_anonymized: bool | None = None
    protected_redemption: bool | None = None
    id_number: str | None = None
    id_card_file_name: str | None = None
    marital_status: int | str | None = None
    religion: int | str | None = None
    wedding_date: str | None = None
    notes: str | None = None
    referral_code: str | None = None
    registration_status: str | None = None
    registering_employee_code: str | None = None
    site_activity: SiteActivity | None = None
    location: Location | None = None
    membership: Membership | None = None
    """Present when an endpoint answers with the customer and their membership in one."""


class MemberDetails(msgspec.Struct, frozen=True, kw_only=True):
    """Answer of ``GET /api/v2/memberships/details``."""

    membership: Membership | None = None
    user: User | None = None
    tags: list[str | Tag] = msgspec.field(default_factory=list)


class Suggestion(msgspec.Struct, frozen=True, kw_only=True):
    """One member suggested for a partial query."""

    id: Id | None = None
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    address: str | None = None
    gender: str | int | None = None
    stamps: int | None = None
    membership: str | None = None
    """The membership level's name."""
    member_ids: list[str] = msgspec.field(default_factory=list)


class Suggestions(msgspec.Struct, frozen=True, kw_only=True):
    """Answer of ``GET /api/memberships/suggestions``: matching members."""

    suggestions: list[Suggestion] = msgspec.field(default_factory=list)


class Child(msgspec.Struct, frozen=True, kw_only=True):
    """A member's child, as the full profile lists them."""

    id: Id | None = None
    name: str | None = None
    gender: str | None = None
    birthday: str | None = None


class Pet(msgspec.Struct, frozen=True, kw_only=True):
    """A member's pet, as the full profile lists them."""

    id: Id | None = None
    name: str | None = None
    birthday: str | None = None
    gender: str | None = None
    type: CodeName | None = None
    breed: CodeName | None = None


class FullProfile(User, frozen=True, kw_only=True):
    """Everything known about a customer: the user record plus family, hobbies, socials."""

    nationality: str | None = None
    hobbies: list[CodeName] | None = None
    children: list[Child] | None = None
    pets: list[Pet] | None = None
    social_media_profile: dict[str, str] | None = None
    has_downloaded_app: bool | None = None


class FullProfileResult(msgspec.Struct, frozen=True, kw_only=True):
    """Answer of ``GET /api/v2/memberships/full-profile``."""

    user: FullProfile | None = None
    tags: list[str | Tag] = msgspec.field(default_factory=list)


class LevelRequirement(msgspec.Struct, frozen=True, kw_only=True):
    """What the member needs to reach the next level, and by when."""

    spending_requirement: float | None = None
    deadline: str | None = None
    next_level: str | None = None


class UpgradeRequirement(msgspec.Struct, frozen=True, kw_only=True):
    """Answer of ``GET /api/memberships/upgrade-requirement``."""

    upgrade_requirement: LevelRequirement | None = None
    downgrade_requirement: LevelRequirement | None = None


class Status(msgspec.Struct, frozen=True, kw_only=True):
    """A bare ``{"status": "ok"}`` answer."""

    status: str | int | None = None

    @property
    def ok(self) -> bool:
        """True when the server said ``"ok"``."""
        return self.status == "ok"


class Otp(msgspec.Struct, frozen=True, kw_only=True):
    """Answer of the OTP request endpoints."""

    otp: str | None = None
    status: str | None = None


class Deduction(msgspec.Struct, frozen=True, kw_only=True):
    """A stamps deduction: its id identifies it in the merchant's records."""

    id: int | None = None
    stamps: int | None = None
    notes: str | None = None
    created: str | None = None
    created_timestamp: int | None = None
    status: int | None = None


class DeductStampsResult(msgspec.Struct, frozen=True, kw_only=True):
    """Answer of ``POST /api/memberships/deduct-stamps``."""

    membership: Membership | None = None
    stamps_deduction: Deduction | None = None


class PartialRegistration(msgspec.Struct, frozen=True, kw_only=True):
    """Answer of ``POST /api/v3/memberships/partial-registration``."""

    membership: Membership | None = None
    user: User | None = None


class AccessToken(msgspec.Struct, frozen=True, kw_only=True):
    """Answer of ``POST /api/auth/get-access-token/``."""

    access_token: str

    def __repr__(self) -> str:
        return "AccessToken(access_token='***')"

    def __rich_repr__(self) -> list[tuple[str, Any]]:
        # msgspec's own __rich_repr__ would hand rich the token itself.
        return [("access_token", "***")]
