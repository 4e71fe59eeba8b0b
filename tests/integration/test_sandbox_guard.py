"""The sandbox, in its own process, refuses web pages: DNS rebinding and cross-site posts.

It binds to 127.0.0.1, yet a browser can reach it from any site: a rebinding domain
resolving to 127.0.0.1 sends its own name in ``Host``, and a cross-site form sends its
``Origin``. The requests below are written byte for byte as a browser would send them.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Iterator

import pytest
from aioresponses import aioresponses

from stampsync import StampedClient
from stampsync._sandbox_mark import SANDBOX_HEADER
from stampsync.sandbox import Sandbox
from stampsync.sandbox._guard import loopback_host, loopback_origin

MARK = SANDBOX_HEADER.lower().encode()


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    sb = Sandbox(customers=20, members=5, process=True)
    sb.start()
    try:
        yield sb
    finally:
        sb.stop()


def raw(sb: Sandbox, method: str, path: str, host: str | None, **headers: str) -> tuple[int, bytes]:
    """Send one request with exactly these headers; the status and the raw header block."""
    port = int(sb.url.rsplit(":", 1)[1])
    lines = [f"{method} {path} HTTP/1.1"]
    if host is not None:
        lines.append(f"Host: {host}")
    lines += [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
    lines += ["Content-Length: 0", "Connection: close", "", ""]
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall("\r\n".join(lines).encode())
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    head = answer.split(b"\r\n\r\n", 1)[0].lower()
    return int(answer.split(b" ", 2)[1]), head


def counters(sb: Sandbox) -> dict[str, int]:
    return asyncio.run(sb.counters())


@pytest.mark.parametrize(
    "host",
    ["rebind.attacker.example", "127.0.0.1.nip.io", "evil.example:{port}", "0.0.0.0"],  # noqa: S104
)
@pytest.mark.parametrize("path", ["/__sandbox/info", "/__sandbox/awards", "/api/stamps/add"])
def test_a_foreign_host_is_refused_on_every_route(sandbox: Sandbox, host: str, path: str) -> None:
    port = sandbox.url.rsplit(":", 1)[1]
    before = counters(sandbox).get("arrivals", 0)
    status, head = raw(
        sandbox, "POST" if path.startswith("/api") else "GET", path, host.format(port=port)
    )
    assert status == 403
    assert MARK + b": 1" in head
    assert counters(sandbox).get("arrivals", 0) == before  # refused before the gate


@pytest.mark.parametrize(
    "host", ["127.0.0.1:{port}", "localhost:{port}", "localhost", "[::1]:{port}"]
)
def test_loopback_hosts_are_served(sandbox: Sandbox, host: str) -> None:
    port = sandbox.url.rsplit(":", 1)[1]
    status, head = raw(sandbox, "GET", "/__sandbox/info", host.format(port=port))
    assert status == 200
    assert MARK + b": 1" in head
    # An API route is served too (refused for its missing credentials, not its Host).
    assert (
        raw(sandbox, "POST", "/api/stamps/add", host.format(port=port), Authorization="x")[0] == 401
    )


def test_a_cross_site_post_to_clear_is_refused(sandbox: Sandbox) -> None:
    host = sandbox.url.removeprefix("http://")
    raw(sandbox, "POST", "/api/stamps/add", host)  # something to clear
    assert counters(sandbox)["arrivals"] > 0
    for origin in ("https://attacker.example", "null", "http://127.0.0.1.attacker.example"):
        status, head = raw(sandbox, "POST", "/__sandbox/clear", host, Origin=origin)
        assert status == 403, origin
        assert MARK + b": 1" in head
    assert counters(sandbox)["arrivals"] > 0  # nothing was cleared
    # Another local web app (a dev server on another port) is another origin.
    port = int(sandbox.url.rsplit(":", 1)[1])
    for other in (f"http://127.0.0.1:{port + 1}", "http://localhost:3000", "http://localhost"):
        status, _ = raw(sandbox, "POST", "/__sandbox/clear", host, Origin=other)
        assert status == 403, other
    assert counters(sandbox)["arrivals"] > 0
    status, _ = raw(sandbox, "POST", "/__sandbox/clear", host, Origin=sandbox.url)
    assert status == 200
    assert counters(sandbox).get("arrivals", 0) == 0


def test_every_answer_is_marked(sandbox: Sandbox) -> None:
    host = sandbox.url.removeprefix("http://")
    for method, path, expected in [
        ("GET", "/__sandbox/counters", 200),
        ("GET", "/__sandbox/no-such-page", 404),
        ("POST", "/api/stamps/add", 401),
    ]:
        status, head = raw(sandbox, method, path, host, Authorization="x")
        assert status == expected
        assert MARK + b": 1" in head


def test_host_and_origin_parsing() -> None:
    assert loopback_host("127.0.0.1:8080")
    assert loopback_host("LOCALHOST")
    assert loopback_host("[::1]")
    assert loopback_host("127.0.0.2")
    assert loopback_host("localhost.:80")
    for bad in ("", "evil.example", "127.0.0.1.nip.io", "[::1", "127.0.0.1:x", "::ffff:7f00:1"):
        assert not loopback_host(bad), bad
    assert loopback_origin("http://localhost:3000")
    assert loopback_origin("https://[::1]")
    # With the sandbox's port: its own origin only.
    assert loopback_origin("http://localhost:3000", 3000)
    assert loopback_origin("http://[::1]:3000", 3000)
    for other in ("http://localhost:3001", "https://localhost:3000", "http://localhost"):
        assert not loopback_origin(other, 3000), other
    for bad in ("null", "https://evil.example", "file://", "chrome-extension://abc"):
        assert not loopback_origin(bad), bad


async def test_a_client_warns_once_when_a_remote_url_answers_as_the_sandbox(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="stampsync")
    url = "https://stamped.example/api/v2/1/dashboard/customers/9"
    with aioresponses() as mock:
        mock.get(url, payload={"id": 9}, headers={SANDBOX_HEADER: "1"}, repeat=True)
        async with StampedClient("pk", "sk", "1", api_url="https://stamped.example") as c:
            for _ in range(3):
                await c.customers.get(9)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "stamped.example" in warnings[0]
    assert SANDBOX_HEADER in warnings[0]
    assert "sk" not in warnings[0].split()


async def test_no_warning_from_an_unmarked_remote_or_the_sandbox_on_loopback(
    caplog: pytest.LogCaptureFixture, sandbox: Sandbox
) -> None:
    caplog.set_level(logging.WARNING, logger="stampsync")
    url = "https://stamped.example/api/v2/1/dashboard/customers/9"
    with aioresponses() as mock:
        mock.get(url, payload={"id": 9})
        async with StampedClient("pk", "sk", "1", api_url="https://stamped.example") as c:
            await c.customers.get(9)
    async with sandbox.stamped_client() as sd:  # marked answers, but on loopback
        await sd.customers.list(limit=5)
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
