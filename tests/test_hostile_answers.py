"""Hostile answers (issue 16): bombs, redirects, secrets in errors, short JWTs, lying
totals, garbled reads, refused certificates. Each against a local server that misbehaves.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import socket
import ssl
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from stampsync import StampedClient, StampsClient
from stampsync._auth import JwtAuth, Secret
from stampsync._request import Request
from stampsync.batch.sync import sync_customers
from stampsync.errors import (
    AmbiguousWriteError,
    CertificateError,
    DecodeError,
    RedirectError,
    ValidationError,
)
from stampsync.testing import no_backoff
from tests._server import RecordingServer

TOKEN = "tok-" + "S3cr3tT0k3n" * 4  # 48 characters

# -- 1. compression bombs -------------------------------------------------------------

BOMB_INFLATED = 256 * 2**20
CAP = 2**20


def _bomb(encoding: str) -> bytes:
    # wbits 31: gzip container; 15: zlib ("deflate" as RFC 9110 means it).
    packer = zlib.compressobj(9, zlib.DEFLATED, 31 if encoding == "gzip" else 15)
    zeros = bytes(2**20)
    parts = [packer.compress(zeros) for _ in range(BOMB_INFLATED // len(zeros))]
    parts.append(packer.flush())
    return b"".join(parts)


@pytest.mark.real_time  # the client is a subprocess
@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_a_compression_bomb_stops_at_the_cap_in_bounded_memory(
    server: RecordingServer, encoding: str
) -> None:
    bomb = _bomb(encoding)
    assert len(bomb) < CAP  # the compressed size passes the Content-Length check

    async def answer(request: web.Request, n: int) -> web.StreamResponse:
        if n == 0:
            return web.json_response({"id": 1, "email": "a@x.co"})
        return web.Response(
            body=bomb, headers={"Content-Encoding": encoding, "Content-Type": "application/json"}
        )

    server.responder = answer
    client = Path(__file__).with_name("_bomb_client.py")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(client),
        server.url,
        str(CAP),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=Path(__file__).parent.parent,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err.decode()
    result = json.loads(out)
    growth = result["peak"] - result["baseline"]
    peak, grew = result["peak"] / 2**20, growth / 2**20
    print(f"{encoding} bomb: peak RSS {peak:.1f} MiB, growth {grew:.1f} MiB")
    assert result["error"] == "DecodeError"
    assert "max_response_bytes" in result["message"]
    assert growth <= CAP + 50 * 2**20


async def test_a_compressed_answer_within_the_cap_still_decodes(server: RecordingServer) -> None:
    body = zlib.compress(json.dumps({"id": 7, "email": "a@x.co"}).encode())

    async def answer(request: web.Request, n: int) -> web.StreamResponse:
        return web.Response(body=body, headers={"Content-Encoding": "deflate"})

    server.responder = answer
    async with StampedClient("pub", "key-private", "1", api_url=server.url) as c:
        customer = await c.customers.get(7)
    assert customer.id == 7


# -- 2. redirects -----------------------------------------------------------------------


def _redirect(status: int = 302) -> Any:
    async def answer(request: web.Request, n: int) -> web.StreamResponse:
        return web.json_response(
            {},
            status=status,
            headers={"Location": f"https://evil.example/steal?token={TOKEN}"},
        )

    return answer


async def test_a_redirect_is_an_error_naming_only_the_host(server: RecordingServer) -> None:
    server.responder = _redirect()
    async with StampedClient("pub", "key-private", "1", api_url=server.url) as c:
        with pytest.raises(RedirectError) as caught:
            await c.customers.get(1)
        with pytest.raises(RedirectError):
            await c.subscriptions.subscribe(email="a@x.co")
    exc = caught.value
    assert exc.status == 302
    assert exc.location_host == "evil.example"
    assert "302" in str(exc)
    assert "evil.example" in str(exc)
    assert "steal" not in str(exc)
    assert TOKEN not in str(exc)
    assert len(server.arrivals) == 2  # not retried, not followed


async def test_a_redirected_write_is_ambiguous(server: RecordingServer) -> None:
    server.responder = _redirect(303)
    async with StampsClient("tok-123456", api_url=server.url) as c:
        with pytest.raises(AmbiguousWriteError, match="303") as caught:
            await c.stamps.add(user="a@x.co", number_of_stamps=1, store=1)
    assert caught.value.status == 303
    assert "steal" not in str(caught.value)


async def test_sync_customers_records_a_redirect_as_failed(
    server: RecordingServer, tmp_path: Path
) -> None:
    server.responder = _redirect()
    rows = [{"email": "one@x.co", "first_name": "Ann", "subscribed": "yes"}]
    async with StampedClient("pub", "key-private", "1", api_url=server.url) as c:
        report = await sync_customers(c, rows, state=tmp_path / "state.sqlite")
    [outcome] = list(report)
    assert outcome.status == "failed"
    assert "redirect" in str(outcome.error)


# -- 3. secrets in errors and reprs ----------------------------------------------------


def _pieces(secret: str, size: int = 8) -> list[str]:
    return [secret[i : i + size] for i in range(len(secret) - size + 1)]


async def test_every_field_of_an_error_is_scrubbed_before_it_is_cut(
    server: RecordingServer,
) -> None:
    async def answer(request: web.Request, n: int) -> web.StreamResponse:
        return web.json_response(
            {
                "error_message": "x" * 280 + " " + TOKEN,  # crosses the 300-character cut
                "error_code": f"bad_{TOKEN}",
                "errors": {TOKEN: f"echo {TOKEN}"},
            },
            status=400,
        )

    server.responder = answer
    async with StampsClient(TOKEN, api_url=server.url) as c:
        with pytest.raises(ValidationError) as caught:
            await c.auth.ping()
    exc = caught.value
    fields = [str(exc), exc.message, exc.error_code or "", *exc.errors, *exc.errors.values()]
    leaked = [p for p in _pieces(TOKEN) for f in fields if p in f]
    assert not leaked
    assert exc.error_code == "bad_***"


async def test_an_html_error_page_is_scrubbed_before_it_is_cut(server: RecordingServer) -> None:
    async def answer(request: web.Request, n: int) -> web.StreamResponse:
        page = f"<html><title>{'y' * 180} {TOKEN}</title></html>"
        return web.Response(text=page, status=400, content_type="text/html")

    server.responder = answer
    async with StampsClient(TOKEN, api_url=server.url) as c:
        with pytest.raises(ValidationError) as caught:
            await c.auth.ping()
    assert not [p for p in _pieces(TOKEN) if p in str(caught.value)]


def test_no_repr_shows_the_static_token() -> None:
    request = Request(
        "POST",
        "/api/auth/get-access-token/",
        body={"token": TOKEN, "crm_merchant_id": 1},
        idempotent=True,
        authenticate=False,
    )
    assert TOKEN not in repr(request)
    assert TOKEN not in str(request.__rich_repr__())
    assert "get-access-token" in repr(request)
    client = StampsClient(TOKEN, jwt=True, merchant=1)
    auth = client._transport._auth
    shown = [repr(client), repr(auth), repr(client._static_token), repr(vars(client))]
    assert not [s for s in shown if TOKEN in s]
    stamped = StampedClient("pub", TOKEN, "1")
    transport = stamped._transport
    header = transport._auth.fixed_header() or ""
    shown = [repr(stamped), repr(vars(stamped)), repr(transport._auth), repr(transport)]
    assert not [s for s in shown if TOKEN in s or header.split()[-1] in s]


def test_rich_pretty_printing_shows_no_token() -> None:
    """rich (the CLI's console) prints a msgspec Struct through ``__rich_repr__``."""
    from rich.pretty import pretty_repr
    from yarl import URL

    from stampsync.stamps.models import AccessToken
    from stampsync.testing import HTTPRequest, HTTPResponse

    jwt = "eyJ-jwt-SECRET-0123456789"
    carriers: list[object] = [
        AccessToken(access_token=jwt),
        Request("POST", "/api/auth/get-access-token/", body={"token": TOKEN}),
        # What every MockTransport handler is given, and what it answers.
        HTTPRequest(
            "POST",
            URL("https://stamps.example/api/ping"),
            {"Authorization": f"Bearer {jwt}"},
            json.dumps({"token": TOKEN}).encode(),
            30.0,
            100.0,
        ),
        HTTPResponse.json({"access_token": jwt}, headers={"X-Echo": TOKEN}),
    ]
    for carrier in carriers:
        shown = pretty_repr(carrier) + repr(carrier) + str(carrier)
        assert jwt not in shown
        assert TOKEN not in shown


# -- 9. short-lived JWTs ---------------------------------------------------------------


def _jwt(lifetime: float) -> str:
    def part(doc: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode().rstrip("=")

    return f"{part({'alg': 'HS256'})}.{part({'exp': int(time.time() + lifetime)})}.sig"


async def test_a_60_second_jwt_is_fetched_once_not_before_every_call(
    server: RecordingServer,
) -> None:
    async def answer(request: web.Request, n: int) -> web.StreamResponse:
        if request.path == "/api/auth/get-access-token/":
            return web.json_response({"access_token": _jwt(60)})
        return web.json_response({"pong": {"merchant": "m"}})

    server.responder = answer
    async with StampsClient(TOKEN, api_url=server.url, jwt=True, merchant=1) as c:
        for _ in range(20):
            await c.auth.ping()
    exchanges = [a for a in server.arrivals if a.path == "/api/auth/get-access-token/"]
    print(f"60 s JWT: {len(exchanges)} exchange(s) for 20 calls, {len(server.arrivals)} requests")
    assert len(exchanges) == 1
    assert len(server.arrivals) == 21


async def test_a_short_jwt_is_renewed_at_80_percent_of_its_lifetime() -> None:
    now = [1_000_000.0]
    fetched: list[float] = []

    async def fetch(static: str) -> str:
        fetched.append(now[0])
        return (
            _jwt(0).rsplit(".", 2)[0]
            + "."
            + base64.urlsafe_b64encode(json.dumps({"exp": now[0] + 60}).encode())
            .decode()
            .rstrip("=")
            + ".sig"
        )

    auth = JwtAuth(Secret(TOKEN, name="token"), fetch, clock=lambda: now[0])
    for second in range(0, 120):
        now[0] = 1_000_000.0 + second
        await auth.header()
    # Renewed at 48 s (80 % of 60 s) and again 48 s later: once per lifetime at most.
    assert [t - 1_000_000.0 for t in fetched] == [0, 48, 96]


async def test_a_day_long_jwt_is_still_renewed_renew_before_its_expiry() -> None:
    now = [0.0]
    fetched: list[float] = []

    async def fetch(static: str) -> str:
        fetched.append(now[0])
        claims = base64.urlsafe_b64encode(json.dumps({"exp": now[0] + 86400}).encode())
        return "h." + claims.decode().rstrip("=") + ".s"

    auth = JwtAuth(Secret(TOKEN, name="token"), fetch, clock=lambda: now[0])
    for t in (0.0, 86400 - 301, 86400 - 300):
        now[0] = t
        await auth.header()
    assert fetched == [0.0, 86400 - 300]


# -- 10. a lying total -----------------------------------------------------------------


async def test_an_export_stops_at_the_first_empty_page_with_one_warning(
    server: RecordingServer, caplog: pytest.LogCaptureFixture
) -> None:
    requested: list[int] = []

    async def answer(request: web.Request, n: int) -> web.StreamResponse:
        page = int(request.query["page"])
        requested.append(page)
        data = [{"id": i, "email": f"c{i}@x.co"} for i in range(1, 301)]
        rows = data[(page - 1) * 100 : page * 100]
        return web.json_response({"data": rows, "page": page, "total": 10**9})

    server.responder = answer
    caplog.set_level(logging.WARNING, logger="stampsync")
    async with StampedClient(
        "pub", "key-private", "1", api_url=server.url, throttle_limit=100_000, throttle_seconds=1
    ) as c:
        export = c.customers.export(page_size=100, prefetch=4)

        async def drain() -> list[int | str | None]:
            return [cust.id async for cust in export]

        ids = await asyncio.wait_for(drain(), 15)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    print(f"lying total: {len(requested)} pages requested, {len(warnings)} warning(s)")
    assert ids == list(range(1, 301))
    assert len(warnings) == 1
    assert "empty" in warnings[0].getMessage()
    assert len(requested) <= 4 + 4  # the data's 3 pages, then at most the prefetched ones
    assert not export.stats.complete


# -- 11. garbled reads and certificates -------------------------------------------------


@pytest.mark.parametrize("first", ["truncated", "garbled", "500"])
async def test_a_garbled_answer_to_a_read_is_retried(server: RecordingServer, first: str) -> None:
    async def answer(request: web.Request, n: int) -> web.StreamResponse:
        if n == 0:
            if first == "500":
                return web.json_response({"message": "oops"}, status=500)
            body = b'{"id": 1, "ema' if first == "truncated" else b"\x00\xff<html>"
            return web.Response(body=body, content_type="application/json")
        return web.json_response({"id": 1, "email": "a@x.co"})

    server.responder = answer
    async with StampedClient("pub", "key-private", "1", api_url=server.url) as c:
        with no_backoff():
            customer = await c.customers.get(1)
    assert customer.id == 1
    assert len(server.arrivals) == 2


async def test_a_garbled_answer_to_a_write_is_not_retried(server: RecordingServer) -> None:
    async def answer(request: web.Request, n: int) -> web.StreamResponse:
        return web.Response(body=b'{"stamp', content_type="application/json")

    server.responder = answer
    async with StampsClient("tok-123456", api_url=server.url) as c:
        with no_backoff(), pytest.raises(DecodeError):
            await c.stamps.add(user="a@x.co", number_of_stamps=1, store=1)
    assert len(server.arrivals) == 1


async def test_a_wrong_shape_is_not_retried(server: RecordingServer) -> None:
    server.responder = lambda request, n: _json(["not", "a", "customer"])
    async with StampedClient("pub", "key-private", "1", api_url=server.url) as c:
        with no_backoff(), pytest.raises(DecodeError) as caught:
            await c.customers.get(1)
    assert not caught.value.malformed
    assert len(server.arrivals) == 1


async def _json(doc: object) -> web.StreamResponse:
    return web.json_response(doc)


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[str, list[int]]]:
    """A TLS server on 127.0.0.1 with a self-signed certificate; counts connections."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    sock = socket.create_server(("127.0.0.1", 0))
    sock.settimeout(0.2)
    accepted = [0]
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            accepted[0] += 1
            conn.settimeout(5)
            try:
                ctx.wrap_socket(conn, server_side=True).close()
            except (OSError, ssl.SSLError):
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{sock.getsockname()[1]}", accepted
    finally:
        stop.set()
        thread.join(5)
        sock.close()


@pytest.mark.real_time  # the TLS server is a thread of the test
async def test_a_refused_certificate_is_not_retried(tls_server: tuple[str, list[int]]) -> None:
    url, accepted = tls_server
    async with StampedClient("pub", "key-private", "1", api_url=url) as c:
        with no_backoff(), pytest.raises(CertificateError) as caught:
            await c.customers.get(1)
    print(f"refused certificate: {accepted[0]} connection(s)")
    assert not caught.value.sent
    assert accepted[0] == 1


# -- issue 26, item 8: server text is printed inert ----------------------------------------

#: An OSC 52 clipboard write, a screen clear, a forged line and a bidi override.
HOSTILE = "\x1b]52;c;ZWNobyBwd25lZA==\x07\x1b[2J\nok       store        fine\u202e"


@pytest.mark.parametrize("status", [200, 401])
def test_doctor_prints_no_control_character_from_the_server(
    server: RecordingServer, status: int
) -> None:
    from typer.testing import CliRunner

    from stampsync.cli._app import app

    async def answer(request: web.Request, n: int) -> web.StreamResponse:
        if status == 401:
            return web.json_response({"detail": f"bad token {HOSTILE}"}, status=401)
        return web.json_response({"pong": {"merchant": f"Shop {HOSTILE}", "merchant_id": 14}})

    server.responder = answer
    env = {"STAMPS_TOKEN": TOKEN, "STAMPS_API_URL": server.url, "STAMPSYNC_PROXY": None}
    result = CliRunner().invoke(app, ["doctor"], env=env)
    text = result.stdout + result.stderr
    assert ("bad token" if status == 401 else "Shop") in text  # the text itself is shown
    for control in ("\x1b", "\x07", "\u202e"):
        assert control not in text
    # The server's newline forged no line of its own.
    assert not any(line.startswith("ok       store") for line in result.stdout.splitlines())


def test_cli_errors_print_no_control_character_or_markup(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import io

    import typer
    from rich.console import Console

    from stampsync.cli import _common

    out = io.StringIO()
    # A terminal's console: rich writes its own escapes, so only the server's must be absent.
    monkeypatch.setattr(_common, "err", Console(file=out, force_terminal=True, width=300))
    with pytest.raises(typer.Exit):
        _common.fail(f"POST /api/x -> 400: {HOSTILE} [link=https://evil.example]click[/link]")
    shown = out.getvalue()
    for sequence in ("\x1b]52", "\x1b[2J", "\x07", "\u202e", "\n ok"):
        assert sequence not in shown
    assert "\x1b]8" not in shown  # no hyperlink escape made from the server's markup
    assert "[link=https://evil.example]click[/link]" in shown  # shown as text
