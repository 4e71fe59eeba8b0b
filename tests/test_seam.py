"""The transport seam, the options object and MockTransport, as a user meets them."""

from __future__ import annotations

import asyncio

import pytest

from stampsync import StampedClient, StampsClient
from stampsync._options import ClientOptions
from stampsync.errors import (
    AmbiguousWriteError,
    ClientStateError,
    ConfigurationError,
    NotFoundError,
    ServerError,
    TokenExchangeError,
    TransportError,
)
from stampsync.testing import HTTPRequest, HTTPResponse, MockTransport, max_in_window, no_backoff
from stampsync.throttle import LocalThrottle

ADDED = {"award": {"id": 7, "number_of_stamps": 2}}


async def test_a_mock_transport_answers_and_records() -> None:
    mock = MockTransport(lambda request: HTTPResponse.json(ADDED))
    async with StampsClient("secret-token", store=3, transport=mock) as stamps:
        result = await stamps.stamps.add(user="a@b.co", number_of_stamps=2)
    assert result.award.id == 7
    (sent,) = mock.requests
    assert (sent.method, sent.url.path) == ("POST", "/api/stamps/add")
    assert sent.path_template == "/api/stamps/add"
    assert sent.headers["Authorization"] == "Token secret-token"
    assert mock.json() == {"user": "a@b.co", "store": 3, "number_of_stamps": 2}


async def test_the_clients_rules_apply_to_mock_answers() -> None:
    answers = iter([HTTPResponse.json({"detail": "down"}, status=503), HTTPResponse.json(ADDED)])
    mock = MockTransport(lambda request: next(answers))
    async with StampsClient("secret-token", store=3, transport=mock) as stamps:
        with no_backoff():
            result = await stamps.stamps.add(user="a@b.co", number_of_stamps=2)
    assert result.award.id == 7
    assert len(mock.requests) == 2  # an API-worded 503 was not applied: retried

    def reset(request: HTTPRequest) -> HTTPResponse:
        raise TransportError("reset", method=request.method, path=request.url.path, sent=True)

    mock = MockTransport(reset)
    async with StampsClient("secret-token", store=3, transport=mock) as stamps:
        with pytest.raises(AmbiguousWriteError, match="reset"):
            await stamps.stamps.add(user="a@b.co", number_of_stamps=2)
    assert len(mock.requests) == 1  # sent, then lost: a write is never repeated


async def test_an_async_handler_is_awaited() -> None:
    async def handler(request: HTTPRequest) -> HTTPResponse:
        return HTTPResponse.json({"tiers": []})

    async with StampedClient("pub", "private-key", "1", transport=MockTransport(handler)) as c:
        assert (await c.loyalty.tiers()).tiers == []


async def test_with_options_shares_the_session_and_throttle() -> None:
    mock = MockTransport(lambda request: HTTPResponse.json({"message": "boom"}, status=500))
    async with StampedClient("pub", "private-key", "1", transport=mock, max_retries=3) as client:
        impatient = client.with_options(max_retries=0, timeout=5)
        assert impatient.throttle is client.throttle
        assert impatient.options.timeout == 5
        assert client.options.timeout == 30
        with no_backoff():
            with pytest.raises(ServerError):
                await impatient.loyalty.tiers()
            assert len(mock.requests) == 1
            with pytest.raises(ServerError):
                await client.loyalty.tiers()
            assert len(mock.requests) == 5
        assert client.stats.retries == 3  # one set of counters for both
        await impatient.aclose()  # leaves the connections to the client it came from
        with no_backoff(), pytest.raises(ServerError):
            await client.loyalty.tiers()
    with pytest.raises(ConfigurationError, match="throttle_limit"):
        client.with_options(throttle_limit=5)  # type: ignore[call-arg]


def test_options_are_checked_once_and_shared() -> None:
    options = ClientOptions(throttle_limit=40, throttle_seconds=2, timeout=5)
    a = StampsClient("secret-token", options=options)
    b = StampedClient("pub", "private-key", "1", options=options, timeout=9)
    assert a.options is options
    assert (b.options.throttle_limit, b.options.timeout) == (40, 9)
    assert a.throttle is not b.throttle  # each client its own quota unless given one
    with pytest.raises(ConfigurationError, match="concurrent_connections must be a positive"):
        ClientOptions(concurrent_connections=0)
    with pytest.raises(ConfigurationError, match="unknown client settings: throttle_limt"):
        StampsClient("secret-token", throttle_limt=5)  # type: ignore[call-arg]
    with pytest.raises(ConfigurationError, match="transport must provide"):
        StampsClient("secret-token", transport=object())  # type: ignore[arg-type]


async def test_a_failing_token_exchange_is_retried_by_one_loop_only() -> None:
    def handler(request: HTTPRequest) -> HTTPResponse:
        return HTTPResponse.json({"detail": "down"}, status=502)

    mock = MockTransport(handler)
    client = StampsClient("static-token", jwt=True, merchant=1, transport=mock, max_retries=3)
    async with client:
        with no_backoff(), pytest.raises(TokenExchangeError, match="not sent"):
            await client.memberships.details(user="a@b.co")
    paths = [r.url.path for r in mock.requests]
    # The exchange's own 1 + 3 attempts; before, each of the request's 4 attempts ran
    # the exchange's 4: 16 attempts, each spending a throttle token.
    assert paths == ["/api/auth/get-access-token/"] * 4


async def test_a_closed_client_refuses_through_the_mock() -> None:
    mock = MockTransport(lambda request: HTTPResponse.json({"tiers": []}))
    client = StampedClient("pub", "private-key", "1", transport=mock)
    async with client:
        pass
    with pytest.raises(ClientStateError, match="closed"):
        await client.loyalty.tiers()


async def test_errors_keep_the_raw_answer_scrubbed() -> None:
    body = {"detail": "no such member", "echo": "sent secret-token back"}
    headers = {"X-Request-Id": "req-42", "Set-Cookie": "session=abc", "X-Echo": "secret-token"}
    mock = MockTransport(lambda request: HTTPResponse.json(body, status=404, headers=headers))
    async with StampsClient("secret-token", merchant=1, transport=mock) as stamps:
        with pytest.raises(NotFoundError) as info:
            await stamps.memberships.details(user="a@b.co")
    error = info.value
    assert error.request_id == "req-42"
    assert error.headers["X-Echo"] == "***"
    assert "Set-Cookie" not in error.headers
    assert b"secret-token" not in error.body
    assert b"no such member" in error.body
    assert (error.method, error.path) == ("GET", "/api/v2/memberships/details")


async def test_an_ambiguous_5xx_keeps_the_status_error_as_its_cause() -> None:
    mock = MockTransport(lambda request: HTTPResponse.json({"message": "boom"}, status=502))
    async with StampsClient("secret-token", store=3, transport=mock) as stamps:
        with pytest.raises(AmbiguousWriteError) as info:
            await stamps.stamps.add(user="a@b.co", number_of_stamps=2)
    cause = info.value.__cause__
    assert isinstance(cause, ServerError)
    assert cause.status == 502
    assert len(mock.requests) == 1


def test_a_client_used_from_another_event_loop_is_refused_clearly() -> None:
    import asyncio

    client = StampedClient("pub", "private-key", "1", api_url="http://127.0.0.1:9")
    asyncio.run(client.open())
    try:
        with pytest.raises(ClientStateError, match="another event loop"):
            asyncio.run(client.loyalty.tiers())
    finally:
        asyncio.run(client.aclose())


async def test_add_many_stops_on_an_asyncio_event() -> None:
    import asyncio

    from stampsync.stamps import StampAward

    stop = asyncio.Event()
    mock = MockTransport(lambda request: HTTPResponse.json(ADDED))
    awards = [StampAward(key=f"k{i}", user="a@b.co", number_of_stamps=1) for i in range(50)]
    async with StampsClient(
        "secret-token", store=3, transport=mock, concurrent_batch_executions=1
    ) as stamps:
        report = await stamps.stamps.add_many(
            awards, stop=stop, check_first=False, on_outcome=lambda outcome: stop.set()
        )
    assert report.interrupted
    assert 1 <= len(mock.requests) < 50


def test_a_page_has_one_name_for_its_items() -> None:
    import msgspec

    from stampsync.stamped import CustomerPage

    for key in ("data", "results", "customers"):
        page = msgspec.json.decode(
            msgspec.json.encode({key: [{"id": 1, "email": "a@b.co"}], "total": 1}),
            type=CustomerPage,
        )
        assert [c.id for c in page.items] == [1]
        with pytest.warns(DeprecationWarning, match="use Page.items"):
            assert getattr(page, key) == page.items


async def test_a_mock_transport_runs_under_the_clients_connection_and_quota_limits() -> None:
    """The limits sit above the seam: a mock sees at most ``concurrent_connections``
    attempts in flight and at most ``throttle_limit`` starts in any window."""
    loop = asyncio.get_running_loop()
    starts: list[float] = []
    in_flight = 0
    most = 0

    async def handler(request: HTTPRequest) -> HTTPResponse:
        nonlocal in_flight, most
        starts.append(loop.time())
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0.02)
        in_flight -= 1
        return HTTPResponse.json(ADDED)

    throttle = LocalThrottle(4, 0.3, burst=4)
    mock = MockTransport(handler)
    async with StampsClient(
        "secret-token", store=3, transport=mock, throttle=throttle, concurrent_connections=2
    ) as stamps:
        await asyncio.gather(
            *(stamps.stamps.add(user="a@b.co", number_of_stamps=1) for _ in range(10))
        )
    assert len(mock.requests) == 10
    assert most == 2
    assert max_in_window(starts, 0.3) <= 4


async def test_a_start_taken_ahead_is_the_one_its_request_uses() -> None:
    """``take_start`` then ``send_add(start=...)``: the request leaves on that slot and
    start (one start counted, none left pending); a start of another client is not used."""
    throttle = LocalThrottle(5, 60, burst=5)
    mock = MockTransport(lambda request: HTTPResponse.json(ADDED))
    async with (
        StampsClient("secret-token", store=3, transport=mock, throttle=throttle) as stamps,
        StampsClient("secret-token", store=3, transport=MockTransport(mock.handler)) as other,
    ):
        start = await stamps.take_start("stamps.add")
        assert start is not None
        assert throttle._pending == 1
        body = stamps.stamps.add_body(user="a@b.co", number_of_stamps=1)
        await stamps.stamps.send_add(body, start=start)
        assert not start.held  # the request took it, and gave the slot back
        assert (throttle._pending, len(throttle._starts)) == (0, 1)
        start.release()  # a second release changes nothing
        assert (throttle._pending, len(throttle._starts)) == (0, 1)

        foreign = await other.take_start("stamps.add")
        assert foreign is not None
        await stamps.stamps.send_add(body, start=foreign)
        assert foreign.held  # not this client's: left to its owner
        assert (throttle._pending, len(throttle._starts)) == (0, 2)
        foreign.release()
        assert not foreign.held
