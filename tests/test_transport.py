"""The one request path against a real socket: retries by idempotency, 429, budget."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from stampsync import StampedClient, StampsClient
from stampsync.errors import (
    AmbiguousWriteError,
    AuthenticationError,
    ClientStateError,
    ConfigurationError,
    DecodeError,
    NotFoundError,
    RateLimitError,
    ServerError,
    TransportError,
)
from stampsync.testing import no_backoff
from tests._arrival_server import free_port
from tests._server import RecordingServer, Responder, drop_connection, ok_json

ADD_OK = {
    "customer": {"id": 1, "stamps": 10, "status": "Blue"},
    "award": {"id": 77, "number_of_stamps": 10},
}


def sequence(*steps: object) -> Responder:
    """A responder answering the n-th request with steps[n] (the last one repeats).

    A step is a status code, ``"drop"`` (cut the connection after reading), or
    ``("sleep", seconds)`` before answering 200.
    """

    async def respond(request: web.Request, n: int) -> web.StreamResponse:
        step = steps[min(n, len(steps) - 1)]
        if step == "drop":
            return await drop_connection(request, n)
        if isinstance(step, tuple) and step[0] == "sleep":
            await asyncio.sleep(step[1])
            return web.json_response(ADD_OK)
        if isinstance(step, tuple) and step[0] == 429:
            return web.json_response({}, status=429, headers={"Retry-After": str(step[1])})
        assert isinstance(step, int)
        if step == 200:
            return web.json_response(ADD_OK)
        return web.json_response({"detail": f"status {step}"}, status=step)

    return respond


@pytest.fixture
async def stamps(server: RecordingServer) -> AsyncIterator[StampsClient]:
    async with StampsClient(
        "tok-SECRET",
        api_url=server.url,
        store=2,
        timeout=0.3,
        throttle_limit=1000,
        throttle_seconds=1,
    ) as client:
        yield client


async def add(client: StampsClient) -> object:
    return await client.stamps.add(user="a@b.co", number_of_stamps=10)


async def test_write_reset_after_send_is_ambiguous_and_sent_once(
    server: RecordingServer, stamps: StampsClient
) -> None:
    server.responder = sequence("drop", 200)
    with no_backoff(), pytest.raises(AmbiguousWriteError) as info:
        await add(stamps)
    assert len(server.arrivals) == 1
    assert "POST /api/stamps/add" in str(info.value)


async def test_write_timeout_after_send_is_ambiguous_and_sent_once(
    server: RecordingServer, stamps: StampsClient
) -> None:
    server.responder = sequence(("sleep", 1.0), 200)
    with no_backoff(), pytest.raises(AmbiguousWriteError):
        await add(stamps)
    assert len(server.arrivals) == 1


async def test_write_503_is_retried_because_not_applied(
    server: RecordingServer, stamps: StampsClient
) -> None:
    server.responder = sequence(503, 503, 200)
    with no_backoff():
        result = await add(stamps)
    assert result.award.id == 77  # type: ignore[attr-defined]
    assert len(server.arrivals) == 3


@pytest.mark.parametrize("status", [500, 502, 504])
async def test_write_5xx_other_than_503_is_ambiguous(
    server: RecordingServer, stamps: StampsClient, status: int
) -> None:
    server.responder = sequence(status, 200)
    with no_backoff(), pytest.raises(AmbiguousWriteError) as info:
        await add(stamps)
    assert info.value.status == status
    assert len(server.arrivals) == 1


async def test_write_is_retried_when_connection_is_refused() -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    async with StampsClient("tok", api_url=url, store=2, max_retries=2) as client:
        with no_backoff(), pytest.raises(TransportError) as info:
            await add(client)
    assert info.value.sent is False
    assert client.stats.attempts == 3


async def test_read_timeout_is_retried_and_succeeds(server: RecordingServer) -> None:
    server.responder = sequence(("sleep", 1.0), 200)
    async with StampedClient("pub", "key-SECRET", "1", api_url=server.url, timeout=0.3) as c:
        with no_backoff():
            await c.customers.get(5)
    assert len(server.arrivals) == 2


@pytest.mark.parametrize("status", [502, 503, 504])
async def test_read_retries_gateway_errors(server: RecordingServer, status: int) -> None:
    server.responder = sequence(status, 200)
    async with StampedClient("pub", "key", "1", api_url=server.url) as c:
        with no_backoff():
            await c.customers.get(5)
    assert len(server.arrivals) == 2


async def test_read_gives_up_after_max_retries_with_server_error(server: RecordingServer) -> None:
    server.responder = sequence(503)
    async with StampedClient("pub", "key", "1", api_url=server.url, max_retries=2) as c:
        with no_backoff(), pytest.raises(ServerError) as info:
            await c.customers.get(5)
    assert info.value.status == 503
    assert len(server.arrivals) == 3


@pytest.mark.parametrize(
    ("status", "exc"),
    [
        (401, AuthenticationError),
        (403, AuthenticationError),
        (404, NotFoundError),
        (501, ServerError),
    ],
)
async def test_errors_that_are_not_retried(
    server: RecordingServer, status: int, exc: type[Exception]
) -> None:
    server.responder = sequence(status, 200)
    async with StampedClient("pub", "key", "1", api_url=server.url) as c:
        with no_backoff(), pytest.raises(exc):
            await c.customers.get(5)
    assert len(server.arrivals) == 1


async def test_a_slow_answer_is_cut_at_what_is_left_of_the_budget(
    server: RecordingServer,
) -> None:
    """attempt-outlasts-its-budget: an attempt's timeout is the transport's or, when
    the call has less left, what is left; a slow server cannot hold a call past it."""
    server.responder = sequence(("sleep", 3.0), 200)
    async with StampedClient(
        "pub", "key", "1", api_url=server.url, retry_budget=0.4, timeout=10.0
    ) as c:
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(TransportError):
            await c.customers.get(5)
        elapsed = loop.time() - started
    assert elapsed < 2.0, elapsed  # the budget (0.4 s), not the timeout (10 s) nor the 3 s


async def test_failing_request_gives_up_within_its_budget(server: RecordingServer) -> None:
    server.responder = sequence(503)
    async with StampedClient(
        "pub", "key", "1", api_url=server.url, max_retries=50, retry_budget=1.0, timeout=0.5
    ) as c:
        loop = asyncio.get_running_loop()  # the clock the budget is kept on (fake here)
        started = loop.time()
        with pytest.raises(ServerError):
            await c.customers.get(5)
        elapsed = loop.time() - started
    assert elapsed < 1.0
    assert 2 <= len(server.arrivals) < 51


async def test_one_429_pauses_every_caller_together(server: RecordingServer) -> None:
    server.responder = sequence(200, 200, 429, 200)
    async with StampedClient(
        "pub",
        "key",
        "1",
        api_url=server.url,
        throttle_limit=10_000,
        throttle_seconds=1,
        concurrent_connections=1,
    ) as c:
        await asyncio.gather(*(c.customers.get(i) for i in range(20)))
        assert c.throttle.rate_limited_count == 1  # type: ignore[attr-defined]
    times = [a.at for a in server.arrivals]
    assert len(times) == 21  # 20 requests and one retry, no storm
    t429 = times[2]
    # The default pause without Retry-After is 0.5 s: nobody arrives during it.
    assert times[3] - t429 >= 0.45
    assert all(t - t429 >= 0.45 for t in times[3:])


async def test_429_retry_after_is_honoured(server: RecordingServer) -> None:
    server.responder = sequence((429, 1), 200)
    async with StampedClient("pub", "key", "1", api_url=server.url) as c:
        await c.customers.get(1)
    times = [a.at for a in server.arrivals]
    assert len(times) == 2
    assert times[1] - times[0] >= 0.95


async def test_429_for_a_write_is_retried_because_not_applied(
    server: RecordingServer, stamps: StampsClient
) -> None:
    server.responder = sequence((429, 0), 200)
    result = await add(stamps)
    assert result.award.id == 77  # type: ignore[attr-defined]
    assert len(server.arrivals) == 2


async def test_429_raises_rate_limit_error_when_retries_run_out(server: RecordingServer) -> None:
    server.responder = sequence((429, 0))
    async with StampedClient("pub", "key", "1", api_url=server.url, max_retries=1) as c:
        with pytest.raises(RateLimitError) as info:
            await c.customers.get(1)
    assert info.value.retry_after is None  # "Retry-After: 0" is no usable hint
    assert len(server.arrivals) == 2


async def test_path_parameters_stay_one_segment(server: RecordingServer) -> None:
    server.responder = ok_json
    nasty = ["../x", "a/b?c", "..", ".", "x#y", "a%2Fb", "sp ace", "\u00e9"]
    async with StampedClient("pub", "key", "st/ore", api_url=server.url) as c:
        for value in nasty:
            await c.customers.get(value)
    for arrival, value in zip(server.arrivals, nasty, strict=True):
        prefix = "/api/v2/st%2Fore/dashboard/customers/"
        assert arrival.raw_path.startswith(prefix), arrival.raw_path
        segment = arrival.raw_path[len(prefix) :]
        for char in "/?#":
            assert char not in segment
        assert segment not in (".", "..")
        assert arrival.path == "/api/v2/st/ore/dashboard/customers/" + value


@pytest.mark.parametrize(
    "url",
    [
        "http://stamped.io",
        "http://10.0.0.5",
        "ftp://127.0.0.1",
        "stamped.io",
        "https://user:pw@stamped.io",
        "",
        "https://stamped.io?x=1",
    ],
)
def test_unsafe_or_malformed_base_urls_are_refused(url: str) -> None:
    with pytest.raises(ConfigurationError, match="api_url"):
        StampedClient("pub", "key", "1", api_url=url)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9",
        "http://localhost:9",
        "http://[::1]:9",
        "https://stamped.io",
        "https://stamped.io/",
    ],
)
def test_loopback_http_and_https_are_allowed(url: str) -> None:
    assert StampedClient("pub", "key", "1", api_url=url).api_url.startswith(url.split(":")[0])


async def test_use_before_open_and_after_close_is_a_clear_error() -> None:
    client = StampedClient("pub", "key", "1", api_url="http://127.0.0.1:9")
    with pytest.raises(ClientStateError, match="async with"):
        await client.customers.get(1)
    async with client:
        pass
    with pytest.raises(ClientStateError, match="closed"):
        await client.customers.get(1)
    with pytest.raises(ClientStateError):
        await client.__aenter__()


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"concurrent_connections": 0}, "concurrent_connections"),
        ({"concurrent_batch_executions": -1}, "concurrent_batch_executions"),
        ({"max_retries": -1}, "max_retries"),
        ({"timeout": 0}, "timeout"),
        ({"throttle_limit": 0}, "throttle"),
        ({"retry_budget": 0}, "retry_budget"),
        ({"throttle": object()}, "throttle"),
    ],
)
def test_bad_settings_name_the_setting(kwargs: dict[str, object], name: str) -> None:
    with pytest.raises(ConfigurationError, match=name):
        StampedClient("pub", "key", "1", **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("args", "name"),
    [
        (("", "k", "1"), "public_key"),
        (("p", "", "1"), "private_key"),
        (("p", "k", ""), "store_hash"),
        (("p", "k\n", "1"), "private_key"),
        (("p:x", "k", "1"), "public_key"),
    ],
)
def test_bad_credentials_name_the_argument(args: tuple[str, str, str], name: str) -> None:
    with pytest.raises(ConfigurationError, match=name):
        StampedClient(*args)


def test_stamps_token_type_is_checked() -> None:
    with pytest.raises(ConfigurationError, match="token_type"):
        StampsClient("tok", token_type="Basic")


async def test_auth_headers_are_sent(server: RecordingServer) -> None:
    server.responder = sequence(200)
    async with StampsClient("tok-1", api_url=server.url, store=2) as s1:
        await add(s1)
    async with StampsClient("jwt-2", api_url=server.url, store=2, token_type="Bearer") as s2:
        await add(s2)
    async with StampedClient("pub", "key", "1", api_url=server.url) as s3:
        await s3.customers.get(1)
    auth = [a.headers["Authorization"] for a in server.arrivals]
    assert auth[0] == "Token tok-1"
    assert auth[1] == "Bearer jwt-2"
    assert auth[2] == "Basic cHViOmtleQ=="  # base64("pub:key")


def streamed(payload: bytes) -> Responder:
    """Answer 200 with ``payload`` in chunks and no Content-Length (chunked encoding)."""

    async def respond(request: web.Request, n: int) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for i in range(0, len(payload), 1000):
            await response.write(payload[i : i + 1000])
        await response.write_eof()
        return response

    return respond


async def test_streamed_answer_within_the_cap_is_read(server: RecordingServer) -> None:
    customer = b'{"id": 5, "email": "a@example.com", "firstName": "' + b"x" * 3000 + b'"}'
    server.responder = streamed(customer)
    async with StampedClient("pub", "key", "1", api_url=server.url) as c:
        got = await c.customers.get(5)
    assert got.id == 5
    assert got.first_name == "x" * 3000


async def test_streamed_answer_over_the_cap_is_refused_unread(server: RecordingServer) -> None:
    server.responder = streamed(b'{"id": 5, "firstName": "' + b"x" * 50_000 + b'"}')
    async with StampedClient("pub", "key", "1", api_url=server.url, max_response_bytes=10_000) as c:
        with pytest.raises(DecodeError, match="max_response_bytes") as info:
            await c.customers.get(5)
    assert info.value.status == 200
    assert len(server.arrivals) == 1  # a 2xx that is too big is not retried


def test_retry_after_as_an_http_date_is_read_as_seconds_from_now() -> None:
    from datetime import UTC, datetime, timedelta
    from email.utils import format_datetime

    from stampsync._transport import _parse_retry_after

    soon = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    seconds = _parse_retry_after(soon)
    assert seconds is not None
    assert 25 <= seconds <= 30
    past = format_datetime(datetime.now(UTC) - timedelta(seconds=30), usegmt=True)
    assert _parse_retry_after(past) is None  # the default backoff, not an instant retry
    for hostile in ("0", "-5", "nan", "NaN", "-inf"):
        assert _parse_retry_after(hostile) is None
    assert _parse_retry_after("inf") == 3600.0
    assert _parse_retry_after("in a while") is None
    assert _parse_retry_after("") is None
    assert _parse_retry_after("99999") == 3600.0  # capped at an hour


def test_a_template_placeholder_without_a_value_is_named() -> None:
    from stampsync._request import Request

    with pytest.raises(ConfigurationError, match="missing path parameter 'id'"):
        Request("GET", "/api/v2/1/dashboard/customers/{id}").render_path()
    assert Request("GET", "/api/stamps/add").render_path() == "/api/stamps/add"


async def test_an_answer_with_invalid_utf8_is_a_decode_error(server: RecordingServer) -> None:
    async def respond(request: web.Request, n: int) -> web.StreamResponse:
        return web.Response(body=b'{"id": 5, "firstName": "\xff"}', content_type="application/json")

    server.responder = respond
    async with StampedClient("pub", "key", "1", api_url=server.url) as c:
        with pytest.raises(DecodeError):
            await c.customers.get(5)


async def test_a_retry_after_longer_than_the_budget_fails_fast_and_freezes_no_one(
    server: RecordingServer,
) -> None:
    server.responder = sequence((429, 3600))
    async with StampedClient(
        "pub", "key", "1", api_url=server.url, retry_budget=3, throttle_limit=100
    ) as c:
        loop = asyncio.get_running_loop()  # the clock the budget is kept on (fake here)
        started = loop.time()
        with pytest.raises(RateLimitError) as first:
            await c.customers.get(1)
        assert loop.time() - started < 4
        # The hour asked for is cut to max_retry_after (300 s by default).
        assert first.value.retry_after == pytest.approx(300, abs=5)
        # Every later call sees the shared pause and fails at once, unsent.
        again = loop.time()
        with pytest.raises(RateLimitError, match="past this call's retry budget") as second:
            await c.customers.get(2)
        assert loop.time() - again < 0.5
        assert second.value.retry_after == pytest.approx(300, abs=5)
    assert len(server.arrivals) == 1


@pytest.mark.parametrize("hint", ["0", "-1", "nan", "Mon, 01 Jan 2001 00:00:00 GMT"])
async def test_hostile_retry_after_values_never_give_instant_retries(
    server: RecordingServer, hint: str
) -> None:
    async def respond(request: web.Request, n: int) -> web.StreamResponse:
        if n == 0:
            return web.json_response(
                {"detail": "slow down"}, status=429, headers={"Retry-After": hint}
            )
        return web.json_response({"id": 1})

    server.responder = respond
    async with StampedClient("pub", "key", "1", api_url=server.url, throttle_limit=100) as c:
        await c.customers.get(1)
    first, second = server.arrivals[0].at, server.arrivals[1].at
    assert second - first >= 0.4  # the default pause (0.5 s), not the hint's "now"


# -- issue 26, item 8: a shared pause is bounded, then one probe goes out ------------------


async def test_an_hour_long_retry_after_pauses_at_most_max_retry_after_then_one_probe(
    server: RecordingServer,
) -> None:
    # The first answer asks for an hour; later ones take a second to answer.
    server.responder = sequence((429, 3600), ("sleep", 1.0))
    loop = asyncio.get_running_loop()
    async with StampedClient(
        "pub",
        "key",
        "1",
        api_url=server.url,
        max_retry_after=60,
        retry_budget=10,
        throttle_limit=1000,
    ) as c:
        started = loop.time()
        with pytest.raises(RateLimitError) as info:
            await c.customers.get(1)
        assert info.value.retry_after == pytest.approx(60)  # not 3600
        with pytest.raises(RateLimitError):
            await c.customers.get(2)  # within the pause: refused, not sent
        assert len(server.arrivals) == 1
        await asyncio.sleep(60 - (loop.time() - started))
        # After the pause, five callers at once: the probe goes alone, the rest once it
        # is answered.
        await asyncio.gather(*(c.customers.get(i) for i in range(5)))
    times = [a.at for a in server.arrivals]
    assert len(times) == 6
    assert times[1] - started >= 59.9
    assert all(t - times[1] >= 0.99 for t in times[2:])  # after the probe's answer
    rest = sorted(times[2:])
    assert rest[1] - rest[0] < 0.5  # then traffic resumes: both connections at once


def test_max_retry_after_is_checked_by_name() -> None:
    from stampsync import ClientOptions

    with pytest.raises(ConfigurationError, match="max_retry_after"):
        ClientOptions(max_retry_after=0)
    assert ClientOptions().max_retry_after == 300


# -- issue 26, item 8: a 503 proves "not applied" only in the vendor's own words -----------


@pytest.mark.parametrize(
    "body",
    [
        {"message": "Service Unavailable"},  # a gateway's JSON
        {"type": "about:blank", "title": "Unavailable", "status": 503, "detail": "upstream"},
        {"detail": "busy", "retry": True},  # the envelope and more
        {"detail": 503},  # the envelope's keys, not its types
        {},
    ],
)
async def test_a_write_answered_503_with_json_of_another_shape_is_ambiguous(
    server: RecordingServer, stamps: StampsClient, body: dict[str, object]
) -> None:
    async def respond(request: web.Request, n: int) -> web.StreamResponse:
        return web.json_response(body, status=503) if n == 0 else web.json_response(ADD_OK)

    server.responder = respond
    with no_backoff(), pytest.raises(AmbiguousWriteError) as info:
        await add(stamps)
    assert info.value.status == 503
    assert len(server.arrivals) == 1  # never sent again


@pytest.mark.parametrize(
    "body",
    [
        {"detail": "Service temporarily unavailable"},
        {"detail": "down", "error_code": "maintenance", "error_message": "down", "errors": {}},
    ],
)
async def test_a_write_answered_503_in_the_stamps_envelope_is_retried(
    server: RecordingServer, stamps: StampsClient, body: dict[str, object]
) -> None:
    async def respond(request: web.Request, n: int) -> web.StreamResponse:
        return web.json_response(body, status=503) if n == 0 else web.json_response(ADD_OK)

    server.responder = respond
    with no_backoff():
        result = await add(stamps)
    assert result.award.id == 77  # type: ignore[attr-defined]
    assert len(server.arrivals) == 2


# -- issue 26, item 8: a setting that cannot be encoded is a ConfigurationError ------------


@pytest.mark.parametrize(
    ("build", "setting"),
    [
        (lambda: StampedClient("pub", "private-key", "12\ud800"), "store_hash"),
        (lambda: StampedClient(store_hash="\udcff", api_key="v3-key-123"), "store_hash"),
        (lambda: StampsClient("tok-123456", api_url="https://stamps.co.id/\ud800"), "api_url"),
        (lambda: StampsClient("tok-123456", api_url="https://st\ud800mps.co.id"), "api_url"),
        (lambda: StampsClient("tok-123456", proxy="http://u:p\ud800ss@proxy.example:1"), "proxy"),
        (lambda: StampsClient("tok-1234\ud800"), "token"),
    ],
)
def test_a_setting_with_a_lone_surrogate_is_refused_by_name(build: object, setting: str) -> None:
    with pytest.raises(ConfigurationError, match=rf"^{setting} ") as info:
        build()  # type: ignore[operator]
    assert "p\ud800ss" not in str(info.value)


async def test_a_query_value_with_a_lone_surrogate_is_refused_not_shortened() -> None:
    from stampsync.testing import HTTPResponse, MockTransport

    sent: list[object] = []

    def answer(request: object) -> HTTPResponse:
        sent.append(request)
        return HTTPResponse.json({})

    transport = MockTransport(answer)
    async with StampsClient("tok-123456", transport=transport) as client:
        # yarl would drop the surrogate: the listing of a@b.co, another customer.
        with pytest.raises(ConfigurationError, match="query parameter 'user'"):
            await client.transactions.by_user(user="a\ud800@b.co")
    assert sent == []
