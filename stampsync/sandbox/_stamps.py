"""The sandbox's Stamps routes, written from the API documents."""

from __future__ import annotations

import base64
import datetime as dt
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from aiohttp import web

from .._codec import JSON_ERRORS
from .._endpoint import Endpoint
from ..stamps import accounts, auth, memberships, stamps
from ._data import Member, StampsStore
from ._middleware import Gate, json_response
from ._routes import endpoint_routes

TEMPLATES = frozenset({"OTP_1", "OTP_2"})
GENDERS = frozenset({"male", "female"})


class Refused(Exception):
    """A request the sandbox refuses; :meth:`response` is its answer."""

    def response(self) -> web.Response:
        raise NotImplementedError


def json_route(
    handler: Callable[[dict[str, Any]], dict[str, Any]],
    params: Callable[[web.Request], dict[str, Any]],
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """``handler`` as an aiohttp handler: it takes the request's ``params`` with the JSON
    object body (if any) over them, and answers JSON, or the :class:`Refused` it raises."""

    async def run(request: web.Request) -> web.StreamResponse:
        data = params(request)
        raw = await request.read()
        if raw:
            try:
                body = msgspec.json.decode(raw)
            except JSON_ERRORS:
                return json_response({"detail": "JSON parse error"}, 400)
            if not isinstance(body, dict):
                return json_response({"detail": "Expected a JSON object"}, 400)
            data.update(body)
        try:
            result = handler(data)
        except Refused as refused:
            return refused.response()
        return json_response(result)

    return run


class Invalid(Refused):
    """A validation failure, answered in the documented v2 shape."""

    def __init__(self, field: str, message: str, code: str) -> None:
        self.field, self.message, self.code = field, message, code

    def response(self) -> web.Response:
        return json_response(
            {
                "detail": f"{self.field}: {self.message}",
                "error_message": self.message,
                "error_code": self.code,
                "errors": {self.field: self.message},
            },
            400,
        )


def _required(data: dict[str, Any], name: str) -> Any:
    value = data.get(name)
    if value is None or value == "":
        raise Invalid(name, "This field is required.", "required")
    return value


def _int(data: dict[str, Any], name: str, *, minimum: int = 1, required: bool = True) -> int | None:
    value = data.get(name)
    if value is None and not required:
        return None
    value = _required(data, name) if required else value
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise Invalid(name, f"Ensure this value is an integer >= {minimum}.", "invalid_data")
    return value


def _date(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    try:
        if not isinstance(value, str) or len(value) != 10:
            raise ValueError
        return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        raise Invalid(name, "Date has wrong format. Use YYYY-MM-DD.", "invalid_data") from None


class StampsRoutes:
    """Handlers for one merchant; ``store`` holds the state."""

    def __init__(self, store: StampsStore, gate: Gate) -> None:
        self.store = store
        self.gate = gate
        self.merchant = gate.config.merchant

    def routes(self) -> list[web.RouteDef]:
        h = self._wrap
        table: list[tuple[Endpoint[Any], Any]] = [
            (stamps.STAMPS_ADD, h(self.add)),
            (stamps.STAMPS_CANCEL, h(self.cancel)),
            (stamps.MEMBERSHIPS_DEDUCT_STAMPS, h(self.deduct)),
            (memberships.MEMBERSHIPS_DETAILS, h(self.details)),
            (memberships.MEMBERSHIPS_SUGGESTIONS, h(self.suggestions)),
            (memberships.MEMBERSHIPS_REGISTER, h(self.register)),
            (memberships.MEMBERSHIPS_CHANGE_PROFILE, h(self.change_profile)),
            (memberships.MEMBERSHIPS_FULL_PROFILE, h(self.full_profile)),
            (memberships.MEMBERSHIPS_UPGRADE_REQUIREMENT, h(self.upgrade_requirement)),
            (memberships.MEMBERSHIPS_ADD_KEY_VALUE_TAG, h(self.add_tag)),
            (memberships.MEMBERSHIPS_REMOVE_TAG, h(self.remove_tag)),
            (memberships.MEMBERSHIPS_ANONYMIZE, h(self.anonymize)),
            (memberships.MEMBERSHIPS_SET_PENDING_ANONYMIZATION, h(self.pending)),
            (memberships.MEMBERSHIPS_SET_LEVEL, h(self.set_level)),
            (memberships.MEMBERSHIPS_PARTIAL_REGISTRATION, h(self.partial)),
            (accounts.ACCOUNTS_REQUEST_CHANGE_MOBILE_NUMBER_OTP, h(self.mobile_otp)),
            (accounts.ACCOUNTS_CHANGE_MOBILE_NUMBER, h(self.change_mobile)),
            (accounts.ACCOUNTS_REQUEST_OTP_FOR_EMAIL, h(self.email_otp)),
            (accounts.ACCOUNTS_CHANGE_EMAIL, h(self.change_email)),
            (auth.AUTH_GET_ACCESS_TOKEN, h(self.access_token)),
            (auth.PING, h(self.ping)),
        ]
        # Imported here: the point-of-sale module builds on this one's helpers.
        from ._stamps_pos import PosRoutes

        pos = PosRoutes(self.store, self.gate)
        return endpoint_routes(table + pos.table()) + pos.inspection_routes()

    def _wrap(self, handler: Any) -> Any:
        return json_route(handler, lambda request: dict(request.query))

    # -- helpers ------------------------------------------------------------------

    def _member(self, data: dict[str, Any], name: str = "user") -> Member:
        member = self.store.find(_required(data, name))
        if member is None or member.anonymized:
            raise Invalid("__all__", "User not found", "invalid_data")
        return member

    def _merchant(self, data: dict[str, Any]) -> None:
        if _int(data, "merchant") != self.merchant:
            raise Invalid("merchant", "Merchant not found", "invalid_data")

    def _store(self, data: dict[str, Any], required: bool) -> int | None:
        store = _int(data, "store", required=required)
        if store is not None and store not in self.store.stores:
            raise Invalid("store", "Store not found", "store_not_found")
        return store

    @staticmethod
    def _customer(member: Member) -> dict[str, Any]:
        return {"id": member.pk, "stamps": member.stamps, "status": member.level_text()}

    # -- stamps -------------------------------------------------------------------

    def add(self, data: dict[str, Any]) -> dict[str, Any]:
        member = self._member(data)
        store = self._store(data, required=True)
        stamps = _int(data, "number_of_stamps")
        _date(data, "expiration_date")
        assert store is not None
        assert stamps is not None
        award = self.store.new_award(member, store, stamps, data.get("notes"))
        return {
            "customer": self._customer(member),
            "award": {"id": award.id, "number_of_stamps": award.stamps},
        }

    def cancel(self, data: dict[str, Any]) -> dict[str, Any]:
        member = self._member(data)
        award_id = _int(data, "id")
        award = self.store.awards.get(award_id or 0)
        if award is None or award.pk != member.pk:
            raise Invalid("id", "Award not found", "invalid_data")
        if award.status != "Canceled":
            award.status = "Canceled"
            member.stamps -= award.stamps
        return {
            "customer": self._customer(member),
            "award": {"id": award.id, "number_of_stamps": award.stamps, "status": award.status},
        }

    def deduct(self, data: dict[str, Any]) -> dict[str, Any]:
        member = self._member(data)
        stamps = _int(data, "stamps")
        notes = _required(data, "notes")
        assert stamps is not None
        if stamps > member.stamps:
            raise Invalid("stamps", "Insufficient stamps", "invalid_data")
        member.stamps -= stamps
        deduction = {
            "id": len(self.store.deductions) + 1,
            "stamps": stamps,
            "notes": notes,
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "created_timestamp": int(time.time()),
            "status": 1,
            "user": member.pk,
        }
        self.store.deductions.append(deduction)
        membership = {**member.membership(), "group_id": 1}
        return {
            "membership": membership,
            "stamps_deduction": {k: v for k, v in deduction.items() if k != "user"},
        }

    # -- memberships --------------------------------------------------------------

    def details(self, data: dict[str, Any]) -> dict[str, Any]:
        self._merchant(data)
        member = self._member(data)
        return {"membership": member.membership(), "tags": member.tags, "user": member.user()}

    def suggestions(self, data: dict[str, Any]) -> dict[str, Any]:
        self._merchant(data)
        query = str(_required(data, "query")).lower()
        found = []
        candidates = list(range(1, min(self.store.generated, 2000) + 1))
        candidates += [pk for pk in self.store.members if pk > self.store.generated]
        for pk in candidates:
            member = self.store.get(pk)
            if member is None or member.anonymized:
                continue
            if (
                query in member.name.lower()
                or query in member.email.lower()
                or (query in member.phone)
            ):
                found.append(
                    {
                        "id": member.pk,
                        "name": member.name,
                        "email": member.email,
                        "phone": member.phone,
                        "stamps": member.stamps,
                        "membership": member.level_text(),
                        "gender": 1 if member.gender == "male" else 2,
                        "member_ids": [member.member_id],
                        "address": member.address,
                    }
                )
                if len(found) == 10:
                    break
        return {"suggestions": found}

    def _check_profile(self, data: dict[str, Any]) -> dict[str, Any]:
        gender = data.get("gender")
        if gender is not None and gender not in GENDERS:
            raise Invalid("gender", f'"{gender}" is not a valid choice.', "invalid_choice")
        return {
            "gender": gender,
            "birthday": _date(data, "birthday"),
            "address": data.get("address"),
        }

    def register(self, data: dict[str, Any]) -> dict[str, Any]:
        name = _required(data, "name")
        email = _required(data, "email")
        phone = _required(data, "mobile_number")
        profile = self._check_profile(data)
        self._store(data, required=False)
        if ("pin" in data or "confirm_pin" in data) and data.get("pin") != data.get("confirm_pin"):
            raise Invalid("confirm_pin", "PIN and confirmation do not match", "pin_mismatch")
        if self.store.email_in_use(str(email)):
            raise Invalid("email", f"{email} is already used", "email_already_used")
        member = self.store.register(str(name), str(email), str(phone), **profile)
        return {
            **member.user(),
            "membership": member.membership(),
            "registering_employee_code": data.get("registering_employee_code"),
        }

    def change_profile(self, data: dict[str, Any]) -> dict[str, Any]:
        self._merchant(data)
        member = self._member(data)
        member.name = str(_required(data, "name"))
        for key, value in self._check_profile(data).items():
            if value is not None:
                setattr(member, key, value)
        return {**member.user(), "membership": member.membership()}

    def full_profile(self, data: dict[str, Any]) -> dict[str, Any]:
        member = self._member(data)
        return {
            "user": {
                **member.user(),
                "id": member.pk,
                "hobbies": [],
                "children": [],
                "pets": [],
                "has_downloaded_app": False,
            },
            "tags": member.tags,
        }

    def upgrade_requirement(self, data: dict[str, Any]) -> dict[str, Any]:
        member = self._member(data)
        year_end = f"{dt.date.today().year}-12-31"
        return {
            "upgrade_requirement": {
                "spending_requirement": 500000 + member.level * 1000,
                "deadline": year_end,
                "next_level": "Gold",
            },
            "downgrade_requirement": {
                "spending_requirement": 100000,
                "deadline": year_end,
                "next_level": "Silver",
            },
        }

    def add_tag(self, data: dict[str, Any]) -> dict[str, Any]:
        self._merchant(data)
        member = self._member(data)
        tag = {"group": str(_required(data, "key")), "tag": str(_required(data, "value"))}
        if tag not in member.tags:
            member.tags.append(tag)
        membership = member.membership()
        return {
            k: membership[k]
            for k in (
                "tags",
                "status",
                "status_text",
                "stamps",
                "balance",
                "is_blocked",
                "referral_code",
                "start_date",
                "created",
            )
        } | {"extra_data": {}}

    def remove_tag(self, data: dict[str, Any]) -> dict[str, Any]:
        self._merchant(data)
        member = self._member(data)
        tag = {"group": str(_required(data, "key")), "tag": str(_required(data, "value"))}
        if tag in member.tags:
            member.tags.remove(tag)
        return {"status": "ok"}

    def anonymize(self, data: dict[str, Any]) -> dict[str, Any]:
        member = self.store.find(_required(data, "identifier"))
        if member is None:
            raise Invalid("__all__", "User not found", "invalid_data")
        if not member.anonymized:
            member.anonymized = True
            member.name = "Anonymous"
            self.store.rename_email(member, f"anonymized-{member.pk}@anonymized.invalid")
        return {"status": "ok"}

    def pending(self, data: dict[str, Any]) -> dict[str, Any]:
        self._member(data, "identifier").pending_anonymization = True
        return {"status": "ok"}

    def set_level(self, data: dict[str, Any]) -> dict[str, Any]:
        member = self.store.find(_required(data, "user"))
        if member is None or member.anonymized:
            raise Invalid(
                "user",
                "User does not have membership in Sandbox Merchant",
                "user_has_no_membership",
            )
        level = _int(data, "level", minimum=0)
        _date(data, "end_date")
        self._store(data, required=False)
        assert level is not None
        if data.get("upgrade_only") is True and level < member.level:
            raise Invalid(
                "__all__",
                "Level is lower than user's current level and downgrade is not allowed",
                "downgrade_not_allowed",
            )
        member.level = level
        return {"status": "ok"}

    def partial(self, data: dict[str, Any]) -> dict[str, Any]:
        ref = str(_required(data, "user"))
        if self.store.find(ref) is not None:
            raise Invalid("user", f"{ref} is already used", "email_already_used")
        email, phone = (ref, "") if "@" in ref else ("", ref)
        member = self.store.register("", email, phone, registration_status="Partial")
        user = member.user()
        return {
            "membership": member.membership(),
            "user": {
                **user,
                "id": member.pk,
                "primary_membership_id": member.member_id,
                "registering_employee_code": data.get("registering_employee_code"),
            },
        }

    # -- accounts -----------------------------------------------------------------

    def _template(self, data: dict[str, Any], required: bool) -> None:
        code = data.get("template_code")
        if code is None and not required:
            return
        if code not in TEMPLATES:
            raise Invalid("template_code", "Messages template not found", "invalid_template_code")

    def mobile_otp(self, data: dict[str, Any]) -> dict[str, Any]:
        number = str(_required(data, "mobile_number"))
        channel = _required(data, "type")
        if channel not in ("sms", "whatsapp"):
            raise Invalid("type", f'"{channel}" is not a valid choice.', "invalid_choice")
        self._template(data, required=True)
        if channel == "whatsapp" and not number.startswith("+"):
            raise Invalid(
                "type",
                "User does not have mobile number or invalid whatsapp number",
                "invalid_user_whatsapp_number",
            )
        return {"otp": self.store.new_otp(number)[-4:]}

    def change_mobile(self, data: dict[str, Any]) -> dict[str, Any]:
        member = self._member(data, "identifier")
        number = str(_required(data, "new_number"))
        otp = str(_required(data, "otp"))
        expected = self.store.otps.get(number)
        if expected is None or otp != expected[-4:]:
            raise Invalid("otp", "Invalid OTP", "invalid_otp")
        del self.store.otps[number]
        self.store.rename_phone(member, number)
        return {"status": "ok"}

    def email_otp(self, data: dict[str, Any]) -> dict[str, Any]:
        email = str(_required(data, "new_email"))
        self._template(data, required=False)
        if self.store.email_in_use(email):
            raise Invalid("new_email", f"{email} is already used", "email_already_used")
        return {"otp": self.store.new_otp(email)}

    def change_email(self, data: dict[str, Any]) -> dict[str, Any]:
        member = self._member(data)
        email = str(_required(data, "new_email"))
        otp = str(_required(data, "otp"))
        if self.store.email_in_use(email):
            raise Invalid("new_email", f"{email} is already used", "email_already_used")
        if self.store.otps.get(email) != otp:
            raise Invalid("otp", "Invalid OTP", "invalid_otp")
        del self.store.otps[email]
        self.store.rename_email(member, email)
        return {"status": "ok"}

    # -- auth ---------------------------------------------------------------------

    def access_token(self, data: dict[str, Any]) -> dict[str, Any]:
        if data.get("token") != self.gate.config.stamps_token:
            raise Invalid("token", "Invalid token", "invalid_data")
        if _int(data, "crm_merchant_id") != self.merchant:
            raise Invalid("crm_merchant_id", "Merchant not found", "invalid_data")
        expires = time.time() + 24 * 3600
        claims = msgspec.json.encode(
            {"merchant": self.merchant, "exp": int(expires), "n": len(self.gate.jwts)}
        )
        token = ".".join(
            base64.urlsafe_b64encode(part).decode().rstrip("=")
            for part in (b'{"alg":"none"}', claims, b"sandbox")
        )
        self.gate.jwts[token] = expires
        return {"access_token": token}

    def ping(self, data: dict[str, Any]) -> dict[str, Any]:
        return {"pong": {"merchant": "Sandbox Merchant", "merchant_id": self.merchant}}
