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
