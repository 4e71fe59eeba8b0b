"""A lost answer to transactions.add is resolved by the invoice's natural key."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from stampsync import StampsClient
from stampsync.errors import AmbiguousWriteError, TransportError
from stampsync.testing import HTTPRequest, HTTPResponse, MockTransport, no_backoff

WIB = dt.timezone(dt.timedelta(hours=7))
CREATED = dt.datetime(2026, 3, 2, 12, 0, tzinfo=WIB)
ADDED = {"transaction": {"id": 77, "value": 50000.0, "stamps_earned": 5}}
LISTED = {
    "transactions": [
        {"id": 78, "invoice_number": "INV-9", "created": int(CREATED.timestamp())},
        {
            "id": 77,
            "invoice_number": "INV-1",
            "created": int(CREATED.timestamp()),
            "value": 50000.0,
        },
    ],
    "has_next": False,
}
Route = Callable[[HTTPRequest], HTTPResponse]


def lost(request: HTTPRequest) -> HTTPResponse:
    raise TransportError("reset", method=request.method, path=request.url.path, sent=True)


def routes(table: dict[str, Route]) -> MockTransport:
    return MockTransport(lambda request: table[request.url.path](request))


async def add(client: StampsClient, *, user: str | None = "a@b.co", **kwargs: object) -> object:
    return await client.transactions.add(
        invoice_number="INV-1",
        total_value=50000,
        number_of_people=1,
        created=CREATED,
        user=user,
        **kwargs,  # type: ignore[arg-type]
    )


async def test_found_in_the_customers_transactions() -> None:
    mock = routes(
        {
            "/api/v2/transactions/add": lost,
            "/api/transactions/by-user": lambda r: HTTPResponse.json(LISTED),
        }
    )
    async with StampsClient("t", store=1, transport=mock) as client:
        result = await add(client)
    assert result.recovered  # type: ignore[attr-defined]
    assert result.transaction.id == 77  # type: ignore[attr-defined]
    lookup = mock.requests[1].url.query
    assert (lookup["user"], lookup["start_date"], lookup["end_date"]) == (
        "a@b.co",
        "2026-03-02",
        "2026-03-02",
    )
    assert [r.url.path for r in mock.requests] == [
        "/api/v2/transactions/add",
        "/api/transactions/by-user",
    ]


async def test_same_invoice_at_another_instant_is_not_it() -> None:
    other = {
        "transactions": [{"id": 5, "invoice_number": "INV-1", "created": 1}],
        "has_next": False,
    }
    mock = routes(
        {
            "/api/v2/transactions/add": lost,
            "/api/transactions/by-user": lambda r: HTTPResponse.json(other),
            "/api/v2/transactions/add-or-update": lambda r: HTTPResponse.json(ADDED),
        }
    )
    async with StampsClient("t", store=1, transport=mock) as client:
        result = await add(client)
    assert result.recovered  # type: ignore[attr-defined]
    assert result.transaction.id == 77  # type: ignore[attr-defined]
    # Not found: the same body replayed through the upsert, which cannot add twice.
    assert mock.json(0) == mock.json(2)
    assert mock.requests[2].url.path == "/api/v2/transactions/add-or-update"


async def test_an_open_transaction_replays_through_the_upsert() -> None:
    mock = routes(
        {
            "/api/v2/transactions/add": lost,
            "/api/v2/transactions/add-or-update": lambda r: HTTPResponse.json(ADDED),
        }
    )
    async with StampsClient("t", store=1, transport=mock) as client:
        result = await add(client, user=None)
    assert result.recovered  # type: ignore[attr-defined]
    assert len(mock.requests) == 2


async def test_already_complete_means_it_exists() -> None:
    complete = {
        "detail": "Your transaction cannot be completed due to the following error(s)",
        "errors": [{"invoice_number": "This Transaction's detail is already complete."}],
    }
    mock = routes(
        {
            "/api/v2/transactions/add": lost,
            "/api/v2/transactions/add-or-update": lambda r: HTTPResponse.json(complete, 400),
        }
    )
    async with StampsClient("t", store=1, transport=mock) as client:
        result = await add(client, user=None)
    assert result.recovered  # type: ignore[attr-defined]
    assert result.transaction.invoice_number == "INV-1"  # type: ignore[attr-defined]
    assert result.transaction.id is None  # type: ignore[attr-defined]


async def test_ambiguity_remains_when_the_lookup_fails_or_is_refused() -> None:
    down = routes({"/api/v2/transactions/add": lost, "/api/transactions/by-user": lost})
    async with StampsClient("t", store=1, transport=down, max_retries=1) as client:
        with no_backoff(), pytest.raises(AmbiguousWriteError):
            await add(client)
    assert len(down.requests) == 3  # the add once; the read retried once

    refused = routes(
        {
            "/api/v2/transactions/add": lost,
            "/api/v2/transactions/add-or-update": lambda r: HTTPResponse.json(
                {"detail": "items: required", "errors": {"items": "required"}}, 400
            ),
        }
    )
    async with StampsClient("t", store=1, transport=refused) as client:
        with pytest.raises(AmbiguousWriteError):
            await add(client, user=None)


async def test_resolve_false_keeps_the_old_behaviour() -> None:
    mock = routes({"/api/v2/transactions/add": lost})
    async with StampsClient("t", store=1, transport=mock) as client:
        with pytest.raises(AmbiguousWriteError):
            await add(client, resolve=False)
    assert len(mock.requests) == 1


def test_the_natural_key_is_store_invoice_and_local_day() -> None:
    from stampsync.stamps import PosTransaction

    late = dt.datetime(2026, 3, 2, 23, 30, tzinfo=WIB)  # 16:30 UTC: the day is the shop's
    row = PosTransaction(
        invoice_number="INV-1", total_value=1, number_of_people=1, created=late.isoformat()
    )
    assert row.natural_key(4) == "4:INV-1:2026-03-02"
    as_datetime = PosTransaction(
        invoice_number="INV-1",
        total_value=1,
        number_of_people=1,
        created=late,  # type: ignore[arg-type]
        store=2,
    )
    assert as_datetime.natural_key() == "2:INV-1:2026-03-02"
