"""Memberships: member data, registration, profiles, tags, levels, anonymisation."""

from __future__ import annotations

import datetime as dt
from typing import Any

from .._endpoint import stamps
from .._request import compact
from .._validate import (
    choice,
    iso_date,
    non_negative,
    optional_id,
    optional_text,
    pin_pair,
    text,
    user_ref,
)
from .._validate import email as check_email
from ..errors import ConfigurationError
from ._resource import StampsResource
from .models import (
    FullProfileResult,
    Gender,
    MemberDetails,
    Membership,
    PartialRegistration,
    RegistrationMethod,
    Status,
    Suggestions,
    UpgradeRequirement,
    User,
)

__all__ = ["Memberships"]

MEMBERSHIPS_DETAILS = stamps("GET", "/api/v2/memberships/details", MemberDetails, idempotent=True)
MEMBERSHIPS_SUGGESTIONS = stamps(
    "GET", "/api/memberships/suggestions", Suggestions, idempotent=True
)
MEMBERSHIPS_REGISTER = stamps("POST", "/api/v2/memberships/register", User, idempotent=False)
MEMBERSHIPS_CHANGE_PROFILE = stamps(
    "POST", "/api/v2/memberships/change-profile", User, idempotent=True
)
MEMBERSHIPS_FULL_PROFILE = stamps(
    "GET", "/api/v2/memberships/full-profile", FullProfileResult, idempotent=True
)
MEMBERSHIPS_UPGRADE_REQUIREMENT = stamps(
    "GET", "/api/memberships/upgrade-requirement", UpgradeRequirement, idempotent=True
)
MEMBERSHIPS_ADD_KEY_VALUE_TAG = stamps(
    "POST", "/api/v2/memberships/add-key-value-tag", Membership, idempotent=True
)
MEMBERSHIPS_REMOVE_TAG = stamps("POST", "/api/v2/memberships/remove-tag", Status, idempotent=True)
MEMBERSHIPS_ANONYMIZE = stamps("POST", "/api/v2/memberships/anonymize", Status, idempotent=True)
MEMBERSHIPS_SET_PENDING_ANONYMIZATION = stamps(
    "POST", "/api/v2/memberships/set-pending-anonymization", Status, idempotent=True
)
MEMBERSHIPS_SET_LEVEL = stamps("POST", "/api/v2/memberships/set-level", Status, idempotent=True)
MEMBERSHIPS_PARTIAL_REGISTRATION = stamps(
    "POST", "/api/v3/memberships/partial-registration", PartialRegistration, idempotent=False
)


class Memberships(StampsResource):
    """``stamps.memberships``: read and manage customers' memberships."""

    async def details(
        self, *, user: str | int, merchant: int | None = None, verbose: bool | None = None
    ) -> MemberDetails:
        """GET /api/v2/memberships/details: a member's membership, user record and tags.

        ``user`` is an email, member id, mobile number or primary key; ``verbose``
        adds the upgrade requirements.
        """
        query = compact(user=user_ref(user), merchant=self._merchant(merchant), verbose=verbose)
        return await self._call(MEMBERSHIPS_DETAILS, query=query)

    async def suggestions(self, *, query: str, merchant: int | None = None) -> Suggestions:
        """GET /api/memberships/suggestions: members matching a partial name, email or phone."""
        params = {"query": text(query, "query"), "merchant": self._merchant(merchant)}
        return await self._call(MEMBERSHIPS_SUGGESTIONS, query=params)

    async def register(
        self,
        *,
        name: str,
        email: str,
        mobile_number: str,
        birthday: dt.date | str | None = None,
        gender: Gender | str | None = None,
        store: int | None = None,
        member_id: str | None = None,
        address: str | None = None,
        district: int | None = None,
        postal_code: str | None = None,
        password: str | None = None,
        referral_code: str | None = None,
        is_active: bool | None = None,
        religion: int | None = None,
        marital_status: int | None = None,
        wedding_date: dt.date | str | None = None,
        extra_data: dict[str, Any] | None = None,
        registration_method: RegistrationMethod | int | None = None,
        registering_employee_code: str | None = None,
        generate_default_password: bool | None = None,
        allow_whatsapp_marketing: bool | None = None,
        allow_sms_marketing: bool | None = None,
        allow_newsletters: bool | None = None,
        phone_is_verified: bool | None = None,
        email_is_verified: bool | None = None,
        pin: str | None = None,
        confirm_pin: str | None = None,
    ) -> User:
        """POST /api/v2/memberships/register: register a customer. **Not idempotent.**

        A repeat could register twice or fail with ``email_already_used``, so a failure
        after sending raises :class:`~stampsync.errors.AmbiguousWriteError`.
        """
        pin, confirm_pin = pin_pair(pin, confirm_pin)
        method = choice(registration_method, RegistrationMethod, "registration_method")
        body = compact(
            name=text(name, "name"),
            email=check_email(email),
            mobile_number=text(mobile_number, "mobile_number"),
            birthday=iso_date(birthday, "birthday"),
            gender=choice(gender, Gender, "gender"),
            store=optional_id(self._store(store, required=False), "store"),
            member_id=optional_text(member_id, "member_id"),
            address=optional_text(address, "address"),
            district=optional_id(district, "district"),
            postal_code=optional_text(postal_code, "postal_code"),
            password=optional_text(password, "password"),
            referral_code=optional_text(referral_code, "referral_code"),
            is_active=is_active,
            religion=religion,
            marital_status=marital_status,
            wedding_date=iso_date(wedding_date, "wedding_date"),
            extra_data=extra_data,
            registration_method=None if method is None else int(method),
            registering_employee_code=optional_text(
                registering_employee_code, "registering_employee_code"
            ),
            generate_default_password=generate_default_password,
            allow_whatsapp_marketing=allow_whatsapp_marketing,
            allow_sms_marketing=allow_sms_marketing,
            allow_newsletters=allow_newsletters,
            phone_is_verified=phone_is_verified,
            email_is_verified=email_is_verified,
            pin=pin,
            confirm_pin=confirm_pin,
        )
        return await self._call(MEMBERSHIPS_REGISTER, body=body)

    async def change_profile(
        self,
        *,
        user: str | int,
        name: str,
        merchant: int | None = None,
        birthday: dt.date | str | None = None,
        gender: Gender | str | None = None,
        address: str | None = None,
        district: int | None = None,
        postal_code: str | None = None,
        extra_data: dict[str, Any] | None = None,
        has_downloaded_app: bool | None = None,
        phone_is_verified: bool | None = None,
        email_is_verified: bool | None = None,
        notes: str | None = None,
        marital_status: int | None = None,
        wedding_date: dt.date | str | None = None,
        generate_default_password: bool | None = None,
        allow_whatsapp_marketing: bool | None = None,
        allow_sms_marketing: bool | None = None,
        allow_newsletters: bool | None = None,
    ) -> User:
        """POST /api/v2/memberships/change-profile: update a customer's profile. Idempotent.

        ``user`` is the customer's primary key or card number; the fields given replace
        the stored ones, so repeating the call is harmless and failures are retried.
        """
        body = compact(
            user=user_ref(user),
            merchant=self._merchant(merchant),
            name=text(name, "name"),
            birthday=iso_date(birthday, "birthday"),
            gender=choice(gender, Gender, "gender"),
            address=optional_text(address, "address"),
            district=optional_id(district, "district"),
            postal_code=optional_text(postal_code, "postal_code"),
            extra_data=extra_data,
            has_downloaded_app=has_downloaded_app,
            phone_is_verified=phone_is_verified,
            email_is_verified=email_is_verified,
            notes=optional_text(notes, "notes"),
            marital_status=marital_status,
            wedding_date=iso_date(wedding_date, "wedding_date"),
            generate_default_password=generate_default_password,
            allow_whatsapp_marketing=allow_whatsapp_marketing,
            allow_sms_marketing=allow_sms_marketing,
            allow_newsletters=allow_newsletters,
        )
        return await self._call(MEMBERSHIPS_CHANGE_PROFILE, body=body)

    async def full_profile(self, *, user: str | int) -> FullProfileResult:
        """GET /api/v2/memberships/full-profile: everything known about a customer.

        The API documents this as a GET *with a JSON body*. Some proxies drop GET
        bodies, so ``user`` is sent both in the body (as documented) and in the query.
        """
        ref = user_ref(user)
        return await self._call(
            MEMBERSHIPS_FULL_PROFILE,
            query={"user": ref},
            body={"user": ref},
        )

    async def upgrade_requirement(self, *, user: str | int) -> UpgradeRequirement:
        """GET /api/memberships/upgrade-requirement: what the member needs for the next level."""
        return await self._call(
            MEMBERSHIPS_UPGRADE_REQUIREMENT,
            query={"user": user_ref(user)},
        )

    async def add_tag(
        self, *, user: str | int, key: str, value: str, merchant: int | None = None
    ) -> Membership:
        """POST /api/v2/memberships/add-key-value-tag: tag a membership. Idempotent."""
        body = {
            "user": user_ref(user),
            "merchant": self._merchant(merchant),
            "key": text(key, "key"),
            "value": text(value, "value"),
        }
        return await self._call(
            MEMBERSHIPS_ADD_KEY_VALUE_TAG,
            body=body,
        )

    async def remove_tag(
        self, *, user: str | int, key: str, value: str, merchant: int | None = None
    ) -> Status:
        """POST /api/v2/memberships/remove-tag: remove a tag from a membership. Idempotent.

        (The API's own text for this endpoint says it *adds* a tag; it removes one.)
        """
        body = {
            "user": user_ref(user),
            "merchant": self._merchant(merchant),
            "key": text(key, "key"),
            "value": text(value, "value"),
        }
        return await self._call(MEMBERSHIPS_REMOVE_TAG, body=body)

    async def anonymize(self, *, identifier: str | int) -> Status:
        """POST /api/v2/memberships/anonymize: erase a customer's personal data. Idempotent."""
        return await self._call(
            MEMBERSHIPS_ANONYMIZE,
            body={"identifier": user_ref(identifier, "identifier")},
        )

    async def set_pending_anonymization(self, *, identifier: str | int) -> Status:
        """POST /api/v2/memberships/set-pending-anonymization: schedule anonymisation.

        Idempotent.
        """
        return await self._call(
            MEMBERSHIPS_SET_PENDING_ANONYMIZATION,
            body={"identifier": user_ref(identifier, "identifier")},
        )

    async def set_level(
        self,
        *,
        user: str | int,
        level: int,
        upgrade_only: bool | None = None,
        end_date: dt.date | str | None = None,
        store: int | None = None,
    ) -> Status:
        """POST /api/v2/memberships/set-level: override a member's level. Idempotent.

        With ``upgrade_only=True`` a lower level is refused by the server with
        ``error_code == "downgrade_not_allowed"``; a member without membership gives
        ``"user_has_no_membership"``.
        """
        body = compact(
            user=user_ref(user),
            level=non_negative(level, "level"),
            upgrade_only=upgrade_only,
            end_date=iso_date(end_date, "end_date"),
            store=optional_id(self._store(store, required=False), "store"),
        )
        return await self._call(MEMBERSHIPS_SET_LEVEL, body=body)

    async def partial_registration(
        self,
        *,
        user: str,
        send_registration_message: bool | None = None,
        registering_employee_code: str | None = None,
    ) -> PartialRegistration:
        """POST /api/v3/memberships/partial-registration: register by email or phone only.

        **Not idempotent**: never retried once sent.
        """
        if not isinstance(user, str):
            raise ConfigurationError("user must be the member's email or mobile number")
        body = compact(
            user=user_ref(user),
            send_registration_message=send_registration_message,
            registering_employee_code=optional_text(
                registering_employee_code, "registering_employee_code"
            ),
        )
        return await self._call(
            MEMBERSHIPS_PARTIAL_REGISTRATION,
            body=body,
        )
