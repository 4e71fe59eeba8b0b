"""Error bodies of every documented shape map to the contract's classes and fields."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aioresponses import aioresponses

from stampsync import StampsClient
from stampsync.errors import (
    AmbiguousWriteError,
    APIError,
    AuthenticationError,
    ConfigurationError,
    DecodeError,
    NotFoundError,
    StampsyncError,
    ThrottleUnavailableError,
    TransportError,
    ValidationError,
)
from stampsync.testing import no_backoff

URL = "https://stamps.example/api/stamps/add"


@pytest.fixture
async def client() -> AsyncIterator[StampsClient]:
    async with StampsClient("tok", api_url="https://stamps.example", store=2) as c:
        yield c


async def call(client: StampsClient) -> Any:
    return await client.stamps.add(user="a@b.co", number_of_stamps=1)


SHAPES: list[tuple[str, int, dict[str, Any], type[APIError], str | None, dict[str, str], str]] = [
    (
        "validation",
        400,
        {
            "detail": "notes: This field is required.",
            "error_message": "This field is required.",
            "error_code": "required",
            "errors": {"notes": "This field is required."},
        },
        ValidationError,
        "required",
        {"notes": "This field is required."},
        "This field is required.",
    ),
    (
        "non-field",
        400,
        {
            "errors": {"__all__": "User not found"},
            "error_message": "User not found",
            "error_code": "invalid_data",
            "detail": "__all__: User not found",
        },
        ValidationError,
        "invalid_data",
        {"__all__": "User not found"},
        "User not found",
    ),
    (
        "legacy list",
        400,
        {"detail": "Invalid data", "errors": [{"subtotal": "This field is required."}]},
        ValidationError,
        None,
        {"subtotal": "This field is required."},
        "Invalid data",
    ),
    (
        "errors only",
        400,
        {"errors": {"info": "Bad info"}},
        ValidationError,
        None,
        {"info": "Bad info"},
        "info: Bad info",
    ),
    (
        "code and detail",
        400,
        {"error_code": "invalid_total_item_price", "detail": "Total does not match"},
        ValidationError,
        "invalid_total_item_price",
        {},
        "Total does not match",
    ),
    (
        "legacy names",
        400,
        {
            "validation_errors": {"store": ["Invalid store", "Unknown"]},
            "error_messages": ["Something else"],
        },
        ValidationError,
        None,
        {"store": "Invalid store; Unknown", "__all__": "Something else"},
        "store: Invalid store; Unknown; __all__: Something else",
    ),
    ("auth 401", 401, {"detail": "Invalid token"}, AuthenticationError, None, {}, "Invalid token"),
    (
        "auth 403",
        403,
        {"detail": "Authentication credentials were not provided."},
        AuthenticationError,
        None,
        {},
        "Authentication credentials were not provided.",
    ),
    (
        "stamped message",
        400,
        {"message": "Email is invalid"},
        ValidationError,
        None,
        {},
        "Email is invalid",
    ),
    ("stamped error", 409, {"error": "Conflict here"}, APIError, None, {}, "Conflict here"),
]


@pytest.mark.parametrize(
    ("status", "body", "cls", "code", "errors", "message"),
    [s[1:] for s in SHAPES],
    ids=[s[0] for s in SHAPES],
)
async def test_error_shapes(
    client: StampsClient,
    status: int,
    body: dict[str, Any],
    cls: type[APIError],
    code: str | None,
    errors: dict[str, str],
    message: str,
) -> None:
    with aioresponses() as mock:
        mock.post(URL, status=status, payload=body)
        with pytest.raises(cls) as info:
            await call(client)
    exc = info.value
    assert type(exc) is cls
    assert exc.status == status
    assert exc.error_code == code
    assert exc.errors == errors
    assert exc.message == message
    assert f"POST /api/stamps/add -> {status}" in str(exc)


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (
            b"<html><head><title>400 Bad Request</title></head><body>x</body></html>",
            "text/html",
            "400 Bad Request",
        ),
        (b"<h1>Server Error (500)</h1>", "text/html", "Server Error (500)"),
        (b"", "text/html", ""),
        (b"plain words", "text/plain", "plain words"),
        (b'"just a string"', "application/json", "just a string"),
        (b"[1, 2]", "application/json", ""),
    ],
)
async def test_non_json_and_odd_error_bodies_are_tolerated(
    client: StampsClient, body: bytes, content_type: str, expected: str
) -> None:
    with aioresponses() as mock:
        mock.post(URL, status=400, body=body, content_type=content_type)
        with pytest.raises(ValidationError) as info:
            await call(client)
    assert info.value.message == expected


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b'{"customer": {"id": 1}, "award": {"id": "not-int"}}',
        b'{"award": null}',
        b"[]",
        b"",
        b'{"customer": {}, "award": {"id": 1}',
        b"\xff\xfe",
    ],
    ids=["broken", "wrong type", "null award", "array", "empty", "truncated", "bytes"],
)
async def test_malformed_success_bodies_raise_decode_error(
    client: StampsClient, body: bytes
) -> None:
    with aioresponses() as mock:
        mock.post(URL, status=200, body=body, content_type="application/json")
        with pytest.raises(DecodeError) as info:
            await call(client)
    assert isinstance(info.value, StampsyncError)
    assert info.value.status == 200
    assert "POST /api/stamps/add" in str(info.value)


async def test_unknown_fields_and_string_ids_are_tolerated(client: StampsClient) -> None:
    body = {
        "customer": {"id": "114807", "stamps": 18, "status": "Blue", "new_field": [1]},
        "award": {"id": 1010, "number_of_stamps": 10, "extra": {"a": 1}},
        "more": True,
    }
    with aioresponses() as mock:
        mock.post(URL, status=200, payload=body)
        result = await call(client)
    assert result.award.id == 1010
    assert result.customer.id == "114807"


async def test_validation_errors_are_not_retried(client: StampsClient) -> None:
    with aioresponses() as mock, no_backoff():
        mock.post(URL, status=400, payload={"errors": {"user": "bad"}})
        mock.post(URL, status=200, payload={"award": {"id": 1}})
        with pytest.raises(ValidationError):
            await call(client)
        assert len(mock.requests) == 1
        assert sum(len(v) for v in mock.requests.values()) == 1


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (AmbiguousWriteError("cut", method="POST", path="/p"), "ambiguous"),
        (TransportError("reset", method="POST", path="/p", sent=True), "ambiguous"),
        (TransportError("refused", method="POST", path="/p", sent=False), "failed"),
        (ValidationError("bad", status=400, method="POST", path="/p"), "failed"),
        (NotFoundError("no such member", status=404, method="POST", path="/p"), "failed"),
        (ConfigurationError("store is required"), "failed"),
        (ThrottleUnavailableError("redis down"), "failed"),
        (RuntimeError("something odd"), "ambiguous"),
        (DecodeError("not JSON", method="POST", path="/p", status=502), "ambiguous"),
    ],
)
def test_a_failed_write_is_only_called_not_applied_when_that_is_certain(
    exc: BaseException, status: str
) -> None:
    from stampsync._engine.writes import classify

    got, text = classify(exc)
    assert got == status
    assert text
    if not isinstance(exc, StampsyncError):
        assert type(exc).__name__ in text


def test_errors_survive_pickling_as_a_job_queue_stores_them() -> None:
    """arq pickles a failed job's exception into its result; errors whose constructors
    take keyword-only arguments could be pickled but not read back, and one such result
    broke every later listing of the queue's results."""
    import pickle

    from stampsync.errors import (
        AmbiguousWriteError,
        QuotaWaitError,
        ServerError,
        TransportError,
    )

    made = [
        TransportError("connection reset", method="POST", path="/api/stamps/add", sent=True),
        QuotaWaitError("GET", "/api/x", 12.5),
        ServerError("busy", status=503, method="GET", path="/v2/x", body=b"{}"),
        AmbiguousWriteError("lost", method="POST", path="/api/stamps/add"),
    ]
    for error in made:
        back = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
        assert type(back) is type(error)
        assert str(back) == str(error)
        assert back.__dict__ == error.__dict__
