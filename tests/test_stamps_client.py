"""Every Stamps endpoint: method, path, query or body, auth header, decoded answer."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from aioresponses import aioresponses
from yarl import URL

from stampsync import StampsClient
from stampsync.errors import (
    AmbiguousWriteError,
    AuthenticationError,
    ConfigurationError,
    ValidationError,
)
from stampsync.stamps import Gender, OtpChannel, RegistrationMethod
from stampsync.testing import no_backoff
from tests._server import RecordingServer, drop_connection

BASE = "https://stamps.example"
DETAILS = {
    "membership": {
        "tags": [],
        "level": 0,
        "level_text": "Silver",
        "stamps": 3,
        "balance": 0,
        "primary_card": {"id": 7, "number": "A5MHG", "is_active": True, "activated_time": None},
    },
    "tags": [],
    "user": {
        "id": "454",
        "email": "j@x.co",
        "gender": "female",
        "member_ids": ["R1"],
        "site_activity": {"id": 1, "registration_method": "API"},
    },
}
USER = {
    "id": "620",
    "name": "John",
    "email": "j@x.co",
    "gender": "male",
    "location": {"district": {"id": 1, "name": "Kebayoran Baru"}},
    "membership": {"status": 0, "level": 0, "stamps": 0},
}
OK = {"status": "ok"}


@dataclass
class Case:
    name: str
    call: Callable[[StampsClient], Awaitable[Any]]
    method: str
    path: str
    query: dict[str, str] | None
    body: dict[str, Any] | None
    answer: dict[str, Any]
    check: Callable[[Any], bool]
    idempotent: bool


CASES = [
    Case(
        "stamps.add",
        lambda c: c.stamps.add(
            user="a@b.co",
            number_of_stamps=10,
            notes="bonus",
            expiration_date=dt.date(2030, 1, 2),
            require_email_notification=False,
        ),
        "POST",
        "/api/stamps/add",
        None,
        {
            "user": "a@b.co",
            "store": 2,
            "number_of_stamps": 10,
            "notes": "bonus",
            "expiration_date": "2030-01-02",
            "require_email_notification": False,
        },
        {
            "customer": {"id": 114807, "stamps": 18, "status": "Blue"},
            "award": {"id": 1010, "number_of_stamps": 10},
        },
        lambda r: r.award.id == 1010 and r.customer.stamps == 18,
        False,
    ),
    Case(
        "stamps.cancel",
        lambda c: c.stamps.cancel(user="a@b.co", award_id=1010),
        "POST",
        "/api/stamps/cancel",
        None,
        {"user": "a@b.co", "id": 1010, "store": 2},
        {"customer": {"id": 1, "stamps": 8}, "award": {"id": 1010, "status": "Canceled"}},
        lambda r: r.award.status == "Canceled",
        True,
    ),
    Case(
        "stamps.deduct",
        lambda c: c.stamps.deduct(user=1865, stamps=1, notes="test"),
        "POST",
        "/api/memberships/deduct-stamps",
        None,
        {"user": 1865, "stamps": 1, "notes": "test"},
        {
            "membership": {"id": 1864, "stamps": 7},
            "stamps_deduction": {"id": 9, "stamps": 1, "created_timestamp": 1657701670},
        },
        lambda r: r.stamps_deduction.id == 9 and r.membership.stamps == 7,
        False,
    ),
    Case(
        "memberships.details",
        lambda c: c.memberships.details(user="j@x.co", verbose=True),
        "GET",
        "/api/v2/memberships/details",
        {"user": "j@x.co", "merchant": "14", "verbose": "true"},
        None,
        DETAILS,
        lambda r: r.user.id == "454" and r.membership.primary_card.number == "A5MHG",
        True,
    ),
    Case(
        "memberships.suggestions",
        lambda c: c.memberships.suggestions(query="ste"),
        "GET",
        "/api/memberships/suggestions",
        {"query": "ste", "merchant": "14"},
        None,
        {"suggestions": [{"id": 12, "membership": "Gold", "gender": 2, "member_ids": ["1"]}]},
        lambda r: r.suggestions[0].membership == "Gold" and r.suggestions[0].gender == 2,
        True,
    ),
    Case(
        "memberships.register",
        lambda c: c.memberships.register(
            name="John",
            email="j@x.co",
            mobile_number="+62811",
            birthday="1991-10-19",
            gender=Gender.FEMALE,
            registration_method=RegistrationMethod.STORE,
            pin="1234",
            confirm_pin="1234",
        ),
        "POST",
        "/api/v2/memberships/register",
        None,
        {
            "name": "John",
            "email": "j@x.co",
            "mobile_number": "+62811",
            "birthday": "1991-10-19",
            "gender": "female",
            "store": 2,
            "registration_method": 2,
            "pin": "1234",
            "confirm_pin": "1234",
        },
        USER,
        lambda r: r.id == "620" and r.location.district.name == "Kebayoran Baru",
        False,
    ),
    Case(
        "memberships.change_profile",
        lambda c: c.memberships.change_profile(
            user=123, name="me", gender="male", allow_newsletters=False
        ),
        "POST",
        "/api/v2/memberships/change-profile",
        None,
        {"user": 123, "merchant": 14, "name": "me", "gender": "male", "allow_newsletters": False},
        USER,
        lambda r: r.membership.level == 0,
        True,
    ),
    Case(
        "memberships.full_profile",
        lambda c: c.memberships.full_profile(user=123),
        "GET",
        "/api/v2/memberships/full-profile",
        {"user": "123"},
        {"user": 123},
        {
            "user": {
                "id": 319,
                "gender": "f",
                "pets": [{"id": 5, "type": {"code": "79"}}],
                "hobbies": [{"id": 30, "code": "28", "name": "Film"}],
            },
            "tags": [{"group": "category", "tag": "vvip"}],
        },
        lambda r: r.user.pets[0].type.code == "79" and r.tags[0].tag == "vvip",
        True,
    ),
    Case(
        "memberships.upgrade_requirement",
        lambda c: c.memberships.upgrade_requirement(user="me@mail.com"),
        "GET",
        "/api/memberships/upgrade-requirement",
        {"user": "me@mail.com"},
        None,
        {
            "upgrade_requirement": {"spending_requirement": 590000, "next_level": "Gold"},
            "downgrade_requirement": {"spending_requirement": 1000000},
        },
        lambda r: r.upgrade_requirement.next_level == "Gold",
        True,
    ),
    Case(
        "memberships.add_tag",
        lambda c: c.memberships.add_tag(user=123, key="category", value="vvip"),
        "POST",
        "/api/v2/memberships/add-key-value-tag",
        None,
        {"user": 123, "merchant": 14, "key": "category", "value": "vvip"},
        {"tags": ["vvip"], "status": 1, "stamps": 100, "extra_data": {}},
        lambda r: r.tags == ["vvip"],
        True,
    ),
    Case(
        "memberships.remove_tag",
        lambda c: c.memberships.remove_tag(user=123, key="category", value="vvip"),
        "POST",
        "/api/v2/memberships/remove-tag",
        None,
        {"user": 123, "merchant": 14, "key": "category", "value": "vvip"},
        OK,
        lambda r: r.ok,
        True,
    ),
    Case(
        "memberships.anonymize",
        lambda c: c.memberships.anonymize(identifier=123),
        "POST",
        "/api/v2/memberships/anonymize",
        None,
        {"identifier": 123},
        OK,
        lambda r: r.ok,
        True,
    ),
    Case(
        "memberships.set_pending_anonymization",
        lambda c: c.memberships.set_pending_anonymization(identifier="a@b.co"),
        "POST",
        "/api/v2/memberships/set-pending-anonymization",
        None,
        {"identifier": "a@b.co"},
        OK,
        lambda r: r.ok,
        True,
    ),
    Case(
        "memberships.set_level",
        lambda c: c.memberships.set_level(
            user=123, level=200, end_date="2030-12-31", upgrade_only=True
        ),
        "POST",
        "/api/v2/memberships/set-level",
        None,
        {"user": 123, "level": 200, "upgrade_only": True, "end_date": "2030-12-31", "store": 2},
        OK,
        lambda r: r.ok,
        True,
    ),
    Case(
        "memberships.partial_registration",
        lambda c: c.memberships.partial_registration(
            user="p@mail.com", send_registration_message=False
        ),
        "POST",
        "/api/v3/memberships/partial-registration",
        None,
        {"user": "p@mail.com", "send_registration_message": False},
        {
            "membership": {"level": 100},
            "user": {"id": 140, "member_ids": ["RRR"], "primary_membership_id": "RRR"},
        },
        lambda r: r.user.primary_membership_id == "RRR",
        False,
    ),
    Case(
        "accounts.request_mobile_number_otp",
        lambda c: c.accounts.request_mobile_number_otp(
            mobile_number="+62812", type=OtpChannel.WHATSAPP, template_code="OTP_1"
        ),
        "POST",
        "/api/v2/accounts/request-change-mobile-number-otp",
        None,
        {"mobile_number": "+62812", "type": "whatsapp", "template_code": "OTP_1"},
        {"otp": "1234"},
        lambda r: r.otp == "1234",
        False,
    ),
    Case(
        "accounts.change_mobile_number",
        lambda c: c.accounts.change_mobile_number(identifier=123, new_number="+62813", otp="1234"),
        "POST",
        "/api/v2/accounts/change-mobile-number",
        None,
        {"identifier": 123, "new_number": "+62813", "otp": "1234"},
        OK,
        lambda r: r.ok,
        False,
    ),
    Case(
        "accounts.request_email_otp",
        lambda c: c.accounts.request_email_otp(new_email="al@x.co", template_code="OTP_1"),
        "POST",
        "/api/v2/accounts/request-otp-for-email",
        None,
        {"new_email": "al@x.co", "template_code": "OTP_1"},
        {"otp": "123456"},
        lambda r: r.otp == "123456",
        False,
    ),
    Case(
        "accounts.change_email",
        lambda c: c.accounts.change_email(user=123, new_email="al@x.co", otp="123456"),
        "POST",
        "/api/v2/accounts/change-email",
        None,
        {"user": 123, "new_email": "al@x.co", "otp": "123456"},
        OK,
        lambda r: r.ok,
        False,
    ),
]


def test_there_are_nineteen_documented_endpoints() -> None:
    assert len({(c.method, c.path) for c in CASES}) == 19


@pytest.fixture
async def client() -> AsyncIterator[StampsClient]:
    async with StampsClient("tok-123456", api_url=BASE, merchant=14, store=2) as c:
        yield c


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_endpoint_request_and_answer(client: StampsClient, case: Case) -> None:
    with aioresponses() as mock:
        mock.add(
            re.compile(re.escape(BASE + case.path) + r"(\?.*)?$"), case.method, payload=case.answer
        )
        result = await case.call(client)
        [(key, calls)] = list(mock.requests.items())
    method, url = key
    assert method == case.method
    assert URL(str(url)).path == case.path
    assert dict(URL(str(url)).query) == (case.query or {})
    kwargs = calls[0].kwargs
    assert kwargs["headers"]["Authorization"] == "Token tok-123456"
    sent = kwargs.get("data")
    assert (json.loads(sent) if sent is not None else None) == case.body
    if case.body is not None:
        assert kwargs["headers"]["Content-Type"] == "application/json"
    assert case.check(result)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_idempotency_table_is_enforced(server: RecordingServer, case: Case) -> None:
    """A reset after the server read the request: reads and idempotent writes are
    retried, non-idempotent writes raise AmbiguousWriteError after one request."""

    async def respond(request: web.Request, n: int) -> web.StreamResponse:
        if n == 0:
            return await drop_connection(request, n)
        return web.json_response(case.answer)

    server.responder = respond
    async with StampsClient("tok-123456", api_url=server.url, merchant=14, store=2) as c:
        with no_backoff():
            if case.idempotent:
                assert case.check(await case.call(c))
                assert len(server.arrivals) == 2
            else:
                with pytest.raises(AmbiguousWriteError):
                    await case.call(c)
                assert len(server.arrivals) == 1


BAD_INPUT = [
    (lambda c: c.stamps.add(user="a@b.co", number_of_stamps=0), "number_of_stamps"),
    (lambda c: c.stamps.add(user="a@b.co", number_of_stamps=-3), "number_of_stamps"),
    (lambda c: c.stamps.add(user="", number_of_stamps=1), "user"),
    (
        lambda c: c.stamps.add(user="a@b.co", number_of_stamps=1, expiration_date="2030-1-2"),
        "expiration_date",
    ),
    (
        lambda c: c.stamps.add(user="a@b.co", number_of_stamps=1, expiration_date="31/12/2030"),
        "expiration_date",
    ),
    (lambda c: c.stamps.cancel(user="a@b.co", award_id=0), "award_id"),
    (lambda c: c.stamps.deduct(user="a@b.co", stamps=2, notes=""), "notes"),
    (lambda c: c.memberships.register(name="A", email="not-an-email", mobile_number="1"), "email"),
    (lambda c: c.memberships.register(name="", email="a@b.co", mobile_number="1"), "name"),
    (
        lambda c: c.memberships.register(
            name="A", email="a@b.co", mobile_number="1", gender="other"
        ),
        "gender",
    ),
    (
        lambda c: c.memberships.register(
            name="A", email="a@b.co", mobile_number="1", pin="1234", confirm_pin="4321"
        ),
        "confirm_pin",
    ),
    (
        lambda c: c.memberships.register(name="A", email="a@b.co", mobile_number="1", pin="1234"),
        "confirm_pin",
    ),
    (
        lambda c: c.memberships.register(
            name="A", email="a@b.co", mobile_number="1", birthday="1991-13-01"
        ),
        "birthday",
    ),
    (
        lambda c: c.memberships.register(
            name="A", email="a@b.co", mobile_number="1", registration_method=7
        ),
        "registration_method",
    ),
    (lambda c: c.memberships.set_level(user=1, level=-1), "level"),
    (lambda c: c.memberships.add_tag(user=1, key="", value="v"), "key"),
    (
        lambda c: c.accounts.request_mobile_number_otp(
            mobile_number="1", type="email", template_code="T"
        ),
        "type",
    ),
    (lambda c: c.accounts.change_email(user=1, new_email="x", otp="1"), "new_email"),
]


@pytest.mark.parametrize(("call", "field"), BAD_INPUT)
async def test_bad_input_names_the_field_and_sends_nothing(
    client: StampsClient, call: Callable[[StampsClient], Awaitable[Any]], field: str
) -> None:
    with aioresponses() as mock:
        with pytest.raises(ConfigurationError, match=field):
            await call(client)
        assert mock.requests == {}


async def test_merchant_and_store_defaults_are_required_when_missing() -> None:
    async with StampsClient("tok", api_url=BASE) as c:
        with pytest.raises(ConfigurationError, match="merchant"):
            await c.memberships.details(user="a@b.co")
        with pytest.raises(ConfigurationError, match="store"):
            await c.stamps.add(user="a@b.co", number_of_stamps=1)


async def test_documented_error_codes_are_reachable(client: StampsClient) -> None:
    body = {
        "detail": "__all__: Level is lower",
        "error_message": "Level is lower",
        "error_code": "downgrade_not_allowed",
        "errors": {"__all__": "Level is lower"},
    }
    with aioresponses() as mock:
        mock.post(BASE + "/api/v2/memberships/set-level", status=400, payload=body)
        with pytest.raises(ValidationError) as info:
            await client.memberships.set_level(user=1, level=100, upgrade_only=True)
    assert info.value.error_code == "downgrade_not_allowed"
    assert info.value.errors == {"__all__": "Level is lower"}


def _jwt(exp: float) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'HS256'})}.{part({'exp': exp})}.signature"


async def test_token_exchange_carries_no_authorization_even_with_a_fixed_token(
    server: RecordingServer,
) -> None:
    async def respond(request: web.Request, n: int) -> web.StreamResponse:
        return web.json_response({"access_token": _jwt(4_000_000_000)})

    server.responder = respond
    async with StampsClient("static-token-1", api_url=server.url, merchant=14) as c:
        await c.auth.get_access_token()
        await c.memberships.anonymize(identifier=1)
    exchange, write = server.arrivals
    assert "Authorization" not in exchange.headers
    assert exchange.headers["Content-Type"] == "application/json"
    assert write.headers["Authorization"] == "Token static-token-1"
    assert write.headers["Content-Type"] == "application/json"
    assert write.headers["Accept"] == "application/json"


async def test_jwt_is_fetched_once_and_sent_as_bearer(server: RecordingServer) -> None:
    token = _jwt(4_000_000_000)

    async def respond(request: web.Request, n: int) -> web.StreamResponse:
        if request.path == "/api/auth/get-access-token/":
            return web.json_response({"access_token": token})
        return web.json_response({"status": "ok"})

    server.responder = respond
    async with StampsClient("static-token-1", api_url=server.url, merchant=14, jwt=True) as c:
        for _ in range(3):
            await c.memberships.anonymize(identifier=1)
    exchange, *calls = server.arrivals
    assert exchange.path == "/api/auth/get-access-token/"
    assert "Authorization" not in exchange.headers
    assert json.loads(exchange.body) == {"token": "static-token-1", "crm_merchant_id": 14}
    assert [a.headers["Authorization"] for a in calls] == [f"Bearer {token}"] * 3


async def test_jwt_is_renewed_once_after_a_401(server: RecordingServer) -> None:
    tokens = [_jwt(4_000_000_000), _jwt(4_000_000_001)]

    async def respond(request: web.Request, n: int) -> web.StreamResponse:
        if request.path == "/api/auth/get-access-token/":
            return web.json_response({"access_token": tokens.pop(0)})
        if request.headers["Authorization"].endswith(".signature") and n == 1:
            return web.json_response({"detail": "Token expired"}, status=401)
        return web.json_response({"status": "ok"})

    server.responder = respond
    async with StampsClient("static-token-1", api_url=server.url, merchant=14, jwt=True) as c:
        assert (await c.memberships.anonymize(identifier=1)).ok
    paths = [a.path for a in server.arrivals]
    assert paths == [
        "/api/auth/get-access-token/",
        "/api/v2/memberships/anonymize",
        "/api/auth/get-access-token/",
        "/api/v2/memberships/anonymize",
    ]
    assert (
        server.arrivals[1].headers["Authorization"] != server.arrivals[3].headers["Authorization"]
    )


async def test_jwt_is_renewed_before_it_expires(server: RecordingServer) -> None:
    import time

    # A 1 s token is renewed at 80 % of its lifetime (a 5-minute margin would mean
    # before every call); the second call comes after that point.
    expiring = _jwt(time.time() + 1.0)
    fresh = _jwt(time.time() + 86_400)
    tokens = [expiring, fresh]

    async def respond(request: web.Request, n: int) -> web.StreamResponse:
        if request.path == "/api/auth/get-access-token/":
            return web.json_response({"access_token": tokens.pop(0)})
        return web.json_response({"status": "ok"})

    server.responder = respond
    async with StampsClient("static-token-1", api_url=server.url, merchant=14, jwt=True) as c:
        await c.memberships.anonymize(identifier=1)
        await asyncio.sleep(0.9)
        await c.memberships.anonymize(identifier=1)
    auth = [a.headers.get("Authorization") for a in server.arrivals]
    assert auth == [None, f"Bearer {expiring}", None, f"Bearer {fresh}"]


async def test_persistent_401_is_an_authentication_error(server: RecordingServer) -> None:
    async def respond(request: web.Request, n: int) -> web.StreamResponse:
        return web.json_response({"detail": "Invalid token"}, status=401)

    server.responder = respond
    async with StampsClient("static-token-1", api_url=server.url, store=2) as c:
        with pytest.raises(AuthenticationError, match="Invalid token"):
            await c.stamps.add(user="u@x.co", number_of_stamps=1)
    assert len(server.arrivals) == 1


def test_jwt_needs_a_merchant() -> None:
    with pytest.raises(ConfigurationError, match="merchant"):
        StampsClient("tok", jwt=True)


async def test_ping(client: StampsClient) -> None:
    with aioresponses() as mock:
        mock.post(BASE + "/api/ping", payload={"pong": {"merchant": "M", "merchant_id": 14}})
        pong = await client.auth.ping()
    assert pong.merchant_id == 14
