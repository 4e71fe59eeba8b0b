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


def details(store: int = 1, created: object = None, value: float = 50000.0) -> Route:
    """``GET /api/transactions/details`` showing a transaction of ``store``."""
    stamp = int(CREATED.timestamp()) if created is None else created
    return lambda r: HTTPResponse.json(
        {"transaction": {"store": {"id": store}, "created": stamp, "value": value}}
    )


def paths(mock: MockTransport) -> list[str]:
    return [r.url.path for r in mock.requests]


async def test_found_in_the_customers_transactions() -> None:
    mock = routes(
        {
            "/api/v2/transactions/add": lost,
            "/api/transactions/by-user": lambda r: HTTPResponse.json(LISTED),
            "/api/transactions/details": details(),
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
    # The listing names no store id: the details of the match prove the store.
    assert paths(mock) == [
        "/api/v2/transactions/add",
        "/api/transactions/by-user",
        "/api/transactions/details",
    ]
    assert mock.requests[2].url.query["transaction_id"] == "77"


async def test_same_invoice_at_another_instant_is_not_it() -> None:
    other = {"id": 5, "invoice_number": "INV-1", "created": 1, "value": 50000.0}
    listing = {"transactions": [other], "has_next": False}

    def upsert(request: HTTPRequest) -> HTTPResponse:
        # The upsert adds the sale: from now on the customer's listing shows it.
        listing["transactions"] = [LISTED["transactions"][1], other]  # type: ignore[index]
        return HTTPResponse.json(ADDED)

    mock = routes(
        {
            "/api/v2/transactions/add": lost,
            "/api/transactions/by-user": lambda r: HTTPResponse.json(listing),
            "/api/v2/transactions/add-or-update": upsert,
            "/api/transactions/details": details(),
        }
    )
    async with StampsClient("t", store=1, transport=mock) as client:
        result = await add(client)
    assert result.recovered  # type: ignore[attr-defined]
    assert result.transaction.id == 77  # type: ignore[attr-defined]
    # Not found: the same body replayed through the upsert, which cannot add twice,
    # and what it answered proven the customer's sale by the listing and the details.
    assert mock.json(0) == mock.json(2)
    assert paths(mock)[2:] == [
        "/api/v2/transactions/add-or-update",
        "/api/transactions/by-user",
        "/api/transactions/details",
    ]


async def test_an_upsert_landing_on_another_customers_sale_is_not_proof() -> None:
    # The customer has no such sale before or after: the upsert's transaction 77 is
    # someone else's (another customer's sale of the same invoice and store).
    empty = {"transactions": [], "has_next": False}
    mock = routes(
        {
            "/api/v2/transactions/add": lost,
            "/api/transactions/by-user": lambda r: HTTPResponse.json(empty),
            "/api/v2/transactions/add-or-update": lambda r: HTTPResponse.json(ADDED),
        }
    )
    async with StampsClient("t", store=1, transport=mock) as client:
        with pytest.raises(AmbiguousWriteError, match="landed on transaction 77"):
            await add(client)


async def test_an_open_transaction_replays_through_the_upsert() -> None:
    mock = routes(
        {
            "/api/v2/transactions/add": lost,
            "/api/v2/transactions/add-or-update": lambda r: HTTPResponse.json(ADDED),
            "/api/transactions/details": details(),
        }
    )
    async with StampsClient("t", store=1, transport=mock) as client:
        result = await add(client, user=None)
    assert result.recovered  # type: ignore[attr-defined]
    assert paths(mock)[1:] == [
        "/api/v2/transactions/add-or-update",
        "/api/transactions/details",
    ]


@pytest.mark.parametrize(
    ("answer", "shown", "why"),
    [
        (ADDED, details(created=1), "another instant"),
        (ADDED, details(store=2), "another store"),
        (ADDED, details(value=7.0), "another value"),
        (ADDED, details(created="yesterday"), "landed on transaction 77"),
        ({**ADDED, "customer": {"id": 3}}, details(), "has a customer"),
        ({"transaction": {"value": 1.0}}, details(), "names no transaction"),
    ],
)
async def test_an_open_transactions_upsert_must_land_on_this_sale(
    answer: object, shown: Route, why: str
) -> None:
    mock = routes(
        {
            "/api/v2/transactions/add": lost,
            "/api/v2/transactions/add-or-update": lambda r: HTTPResponse.json(answer),
            "/api/transactions/details": shown,
        }
    )
    async with StampsClient("t", store=1, transport=mock) as client:
        with pytest.raises(AmbiguousWriteError, match=why):
            await add(client, user=None)


COMPLETE = {
    "detail": "Your transaction cannot be completed due to the following error(s)",
    "errors": [{"invoice_number": "This Transaction's detail is already complete."}],
}


@pytest.mark.parametrize("user", [None, "a@b.co"])
async def test_already_complete_is_not_proof(user: str | None) -> None:
    # "Already complete" says the (store, invoice) transaction has its items; it may be
    # another customer's sale, or another day's: the row stays ambiguous.
    empty = {"transactions": [], "has_next": False}
    mock = routes(
        {
            "/api/v2/transactions/add": lost,
            "/api/transactions/by-user": lambda r: HTTPResponse.json(empty),
            "/api/v2/transactions/add-or-update": lambda r: HTTPResponse.json(COMPLETE, 400),
        }
    )
    async with StampsClient("t", store=1, transport=mock) as client:
        with pytest.raises(AmbiguousWriteError, match="already complete"):
            await add(client, user=user)


@pytest.mark.parametrize("created", [None, "02/03/2026 12:00", "2026-03-02T12:00:00"])
async def test_a_listing_without_a_readable_created_is_not_proof(created: object) -> None:
    listed: dict[str, object] = {"id": 9, "invoice_number": "INV-1", "value": 50000.0}
    if created is not None:
        listed["created"] = created
    mock = routes(
        {
            "/api/v2/transactions/add": lost,
            "/api/transactions/by-user": lambda r: HTTPResponse.json(
                {"transactions": [listed], "has_next": False}
            ),
            "/api/transactions/details": details(store=2),
        }
    )
    async with StampsClient("t", store=1, transport=mock) as client:
        with pytest.raises(AmbiguousWriteError, match="cannot be told apart"):
            await add(client)
    # Nothing written to find out: the upsert could land on that very transaction.
    assert "/api/v2/transactions/add-or-update" not in paths(mock)


async def test_same_invoice_instant_and_value_at_another_store_is_not_it() -> None:
    mock = routes(
        {
            "/api/v2/transactions/add": lost,
            "/api/transactions/by-user": lambda r: HTTPResponse.json(LISTED),
            "/api/transactions/details": details(store=2),
            "/api/v2/transactions/add-or-update": lambda r: HTTPResponse.json(COMPLETE, 400),
        }
    )
    async with StampsClient("t", store=1, transport=mock) as client:
        with pytest.raises(AmbiguousWriteError):
            await add(client)
    assert "/api/v2/transactions/add-or-update" in paths(mock)


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


def test_the_natural_key_is_store_invoice_and_utc_day() -> None:
    from stampsync.stamps import PosTransaction

    late = dt.datetime(2026, 3, 2, 23, 30, tzinfo=WIB)  # 16:30 UTC, the same date
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
    # One instant, written in two offsets, is one key: the day is the UTC date.
    early = dt.datetime(2026, 3, 3, 1, 0, tzinfo=WIB)  # 2026-03-02 18:00 UTC
    keys = {
        PosTransaction(
            invoice_number="INV-1", total_value=1, number_of_people=1, created=text, store=1
        ).natural_key()
        for text in (early.isoformat(), early.astimezone(dt.UTC).isoformat(), "2026-03-02T18:00Z")
    }
    assert keys == {"1:INV-1:2026-03-02"}
