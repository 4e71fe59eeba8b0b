"""No private key, token, Authorization header or Basic blob leaks, whatever happens."""

from __future__ import annotations

import base64
import logging
import pickle
import traceback

import pytest
from aiohttp import web
from aioresponses import aioresponses

from stampsync import StampedClient, StampsClient
from stampsync._auth import Secret
from stampsync.errors import StampsyncError
from stampsync.testing import no_backoff
from tests._arrival_server import free_port
from tests._server import RecordingServer

PRIVATE = "key-PRIVATE-0123456789"
TOKEN = "tok-SECRET-abcdef"
BLOB = base64.b64encode(f"pubkey-1:{PRIVATE}".encode()).decode()
SECRETS = (PRIVATE, TOKEN, BLOB)


def leaks(text: str) -> list[str]:
    return [s for s in SECRETS if s in text]


async def test_no_secret_in_logs_reprs_or_errors(
    caplog: pytest.LogCaptureFixture, server: RecordingServer
) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []

    async def echo_secrets(request: web.Request, n: int) -> web.StreamResponse:
        # A buggy server echoing the credentials it was sent back in its error.
        echoed = (
            f"bad key {PRIVATE} / Basic {BLOB}"
            if "/api/v2/" in request.path
            else f"bad token {TOKEN}"
        )
        return web.json_response(
            {"detail": echoed, "errors": {"auth": echoed}}, status=400 if n % 2 else 503
        )

    server.responder = echo_secrets
    stamped = StampedClient("pubkey-1", PRIVATE, "1", api_url=server.url)
    stamps = StampsClient(TOKEN, api_url=server.url, store=2)
    seen += [repr(stamped), str(stamped), repr(stamps), repr(stamped.throttle)]
    with no_backoff():
        async with stamped, stamps:
            for call in (
                lambda: stamped.customers.get(1),
                lambda: stamps.stamps.add(user="u", number_of_stamps=1),
            ):
                try:
                    await call()
                except StampsyncError as exc:
                    seen.append(str(exc))
                    seen.append(repr(exc))
                    seen.append("".join(traceback.format_exception(exc)))
                    seen.append(repr(vars(exc)))
    # Unreachable host: the transport's own error text.
    async with StampsClient(
        TOKEN, api_url=f"http://127.0.0.1:{free_port()}", store=2, max_retries=0
    ) as dead:
        try:
            await dead.stamps.add(user="u", number_of_stamps=1)
        except StampsyncError as exc:
            seen.append("".join(traceback.format_exception(exc)))
    seen.append(caplog.text)
    assert any("-> 400" in s or "-> 503" in s for s in seen)  # the scenarios did run
    assert any("POST /api/stamps/add" in s for s in caplog.text.splitlines())
    for text in seen:
        assert leaks(text) == [], text


async def test_debug_log_has_one_line_per_attempt_without_headers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="stampsync")
    with aioresponses() as mock:
        mock.get("https://stamped.example/api/v2/1/dashboard/customers/9", payload={"id": 9})
        async with StampedClient("pubkey-1", PRIVATE, "1", api_url="https://stamped.example") as c:
            await c.customers.get(9)
    lines = [r.getMessage() for r in caplog.records if r.name == "stampsync"]
    assert lines == [
        "GET /api/v2/1/dashboard/customers/{id} -> 200 (attempt 1, throttle wait "
        + lines[0].rsplit("wait ", 1)[1]
    ]
    assert leaks(caplog.text) == []


JWT = "eyJ-jwt-SECRET-0123456789"


async def test_a_jwt_exchange_logged_at_debug_shows_neither_the_token_nor_the_jwt(
    caplog: pytest.LogCaptureFixture, server: RecordingServer
) -> None:
    caplog.set_level(logging.DEBUG, logger="stampsync")
    exchanged: list[object] = []

    async def answer(request: web.Request, n: int) -> web.StreamResponse:
        if request.path == "/api/auth/get-access-token/":
            exchanged.append((await request.json()).get("token"))
            return web.json_response({"access_token": JWT})
        return web.json_response({"pong": {"merchant": "m"}})

    server.responder = answer
    async with StampsClient(TOKEN, api_url=server.url, jwt=True, merchant=1) as stamps:
        await stamps.auth.ping()
    assert exchanged == [TOKEN]  # the static token did travel in a logged request's body
    messages = [r.getMessage() for r in caplog.records if r.name == "stampsync"]
    assert any("/api/auth/get-access-token/ -> 200" in m for m in messages)
    assert any("/api/ping -> 200" in m for m in messages)
    assert [m for m in messages if TOKEN in m or JWT in m] == []


async def test_what_a_mock_handler_is_given_prints_no_secret_even_through_rich() -> None:
    """``HTTPRequest``/``HTTPResponse`` are public (``stampsync.testing``): a user's handler
    may print or pretty-print them."""
    from rich.pretty import pretty_repr

    from stampsync.testing import HTTPRequest, HTTPResponse, MockTransport

    def handler(request: HTTPRequest) -> HTTPResponse:
        if request.url.path == "/api/auth/get-access-token/":
            return HTTPResponse.json({"access_token": JWT})
        return HTTPResponse.json({"pong": {"merchant": "m"}})

    mock = MockTransport(handler)
    async with StampsClient(TOKEN, jwt=True, merchant=1, transport=mock) as stamps:
        await stamps.auth.ping()
    exchange, ping = mock.requests
    # The scenario carries both secrets: the token in a body, the JWT in a header.
    assert TOKEN.encode() in (exchange.body or b"")
    assert JWT in ping.headers["Authorization"]
    for carrier in (exchange, ping, handler(exchange), handler(ping)):
        shown = pretty_repr(carrier) + repr(carrier) + str(carrier) + f"{carrier!s:>10}"
        assert TOKEN not in shown
        assert JWT not in shown
        assert "POST" in shown or "200" in shown  # still says what it is


def test_secret_wrapper_never_shows_its_value() -> None:
    secret = Secret(PRIVATE, name="private_key")
    assert PRIVATE not in f"{secret} {secret!r} {secret:>40}"
    with pytest.raises(TypeError):
        pickle.dumps(secret)
    assert secret.reveal() == PRIVATE


# -- issue 26, item 8: an email in a filled path reaches no message and no log line ------


@pytest.mark.parametrize("answer", ["404", "500", "drop", "429", "gzip-bomb"])
async def test_no_error_or_log_line_shows_the_email_in_a_filled_path(
    server: RecordingServer, caplog: pytest.LogCaptureFixture, answer: str
) -> None:
    from tests._server import drop_connection

    async def respond(request: web.Request, n: int) -> web.StreamResponse:
        if answer == "drop":
            return await drop_connection(request, n)
        if answer == "gzip-bomb":  # over max_response_bytes: a DecodeError from the reader
            return web.json_response({"pad": "x" * 4096})
        return web.json_response({"message": "no"}, status=int(answer))

    server.responder = respond
    caplog.set_level(logging.DEBUG, logger="stampsync")
    email = "ann.private@example.org"
    async with StampedClient(
        "pub", PRIVATE, "1", api_url=server.url, max_retries=1, max_response_bytes=1024
    ) as client:
        with no_backoff(), pytest.raises(StampsyncError) as info:
            await client.customers.delete(email)  # idempotent: retried, logged twice
    assert server.arrivals[0].path.endswith("/customers/ann.private@example.org")  # sent
    error = info.value
    shown = [str(error), repr(error), caplog.text, str(getattr(error, "path", ""))]
    shown += traceback.format_exception(error)
    for text in shown:
        assert email not in text
        assert "ann.private" not in text
    assert "/customers/{email}" in str(error)  # the template names the endpoint


async def test_an_aiohttp_message_quoting_the_url_shows_the_template_not_the_email(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """aiohttp's own errors quote the URL (a bad status line, say): its email goes too."""
    import asyncio

    async def bad_status(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 2x0 OK\r\nContent-Length: 2\r\n\r\n{}")
        await writer.drain()
        writer.close()

    caplog.set_level(logging.DEBUG, logger="stampsync")
    server = await asyncio.start_server(bad_status, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with StampedClient(
            "pub", PRIVATE, "1", api_url=f"http://127.0.0.1:{port}", max_retries=0
        ) as client:
            with pytest.raises(StampsyncError) as info:
                await client.customers.get_by_email("ann.private@example.org")
    finally:
        server.close()
        await server.wait_closed()
    text = str(info.value) + caplog.text
    assert "Bad status line" in text  # aiohttp's message, kept
    assert "/customers/{email}" in str(info.value)
    assert "ann.private" not in text


# -- the suite's own scan ----------------------------------------------------------------

pytest_plugins = ["pytester"]


def test_the_scan_reads_messages_arguments_and_tracebacks() -> None:
    from tests.conftest import secrets_in_records

    def record(msg: str, *args: object, exc: BaseException | None = None) -> logging.LogRecord:
        exc_info = (type(exc), exc, None) if exc is not None else None
        return logging.LogRecord("stampsync", logging.DEBUG, "f.py", 1, msg, args, exc_info)

    assert secrets_in_records([record("GET /x -> 200")]) == []
    assert secrets_in_records([record("sent %s", TOKEN)]) == [TOKEN]
    assert PRIVATE in secrets_in_records([record("failed", exc=ValueError(f"bad {PRIVATE}"))])


def test_a_secret_logged_in_a_test_body_fails_that_test(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The autouse scan sees the test's own (call-phase) records, not only teardown's."""
    import os
    from pathlib import Path

    repo = str(Path(__file__).resolve().parents[1])
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([repo, os.environ.get("PYTHONPATH", "")]))
    pytester.makepyfile(
        test_inner=f"""
        import logging
        import pytest

        log = logging.getLogger("stampsync")

        @pytest.fixture
        def leaky_setup():
            log.debug("setup with %s", "{PRIVATE}")

        def test_body_logs_a_token():
            log.debug("POST /api/auth/get-access-token/ body %s", "{TOKEN}")

        def test_setup_logs_a_key(leaky_setup):
            pass

        def test_body_logs_nothing_secret():
            log.debug("POST /api/auth/get-access-token/ body <not shown>")
        """
    )
    result = pytester.runpytest_subprocess("-p", "tests.conftest", "-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=3, errors=2)
    result.stdout.fnmatch_lines(["*ERROR at teardown of test_body_logs_a_token*"])
    result.stdout.fnmatch_lines(["*ERROR at teardown of test_setup_logs_a_key*"])
    result.stdout.fnmatch_lines(["*secret(s) in the log: 1*"])
