"""The documented webhook receiver, in its own process, against hostile requests.

A wrong or undecodable secret answers 401 and a body it cannot read answers 400: never a
500 (an unhandled exception in the receiver).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from stampsync.errors import ConfigurationError, StampsyncError
from stampsync.sandbox.server import free_port
from stampsync.stamped.webhooks import SeenEvents, WebhookError, parse_event, verify_secret

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "webhook_receiver.py"
SECRET = "s3cret-for-tests"
RUN = (
    "import importlib.util, sys\n"
    "from aiohttp import web\n"
    "spec = importlib.util.spec_from_file_location('receiver', sys.argv[1])\n"
    "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
    "web.run_app(m.make_app(), host='127.0.0.1', port=int(sys.argv[2]), print=None)\n"
)


@pytest.fixture(scope="module")
def receiver() -> Iterator[int]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", RUN, str(EXAMPLE), str(port)],
        env={"STAMPED_WEBHOOK_SECRET": SECRET, "PATH": "/usr/bin:/bin"},
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the webhook receiver did not start") from None
                time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def post(port: int, secret: bytes, body: bytes) -> int:
    """POST raw bytes (headers included) as a hostile sender would; the status."""
    head = (
        b"POST /stamped/webhooks HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        b"X-Stamped-Topic: review.created\r\nContent-Type: application/json\r\n"
        b"X-Stamped-Webhook-Secret: " + secret + b"\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(head + body)
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    return int(answer.split(b" ", 2)[1])


GOOD = json.dumps({"id": 1, "reviewRating": 4}).encode()


@pytest.mark.parametrize(
    "secret", [b"s3cret-\xff-tests", b"\xc3\x28", SECRET.encode() + b"\x80", b"caf\xc3\xa9"]
)
def test_a_secret_header_that_is_not_ascii_is_401_not_500(receiver: int, secret: bytes) -> None:
    assert post(receiver, secret, GOOD) == 401
    assert post(receiver, SECRET.encode(), GOOD) == 204  # the receiver is still fine


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_a_deeply_nested_body_with_the_right_secret_is_400_not_500(
    receiver: int, depth: int
) -> None:
    body = b'{"id": 2, "x": ' + b"[" * depth + b"]" * depth + b"}"
    # 1000 levels decode on Python 3.12+ (the C stack, not the recursion limit, bounds the
    # decoder there): a valid object, accepted. Past what the decoder can take: 400.
    expected = {204, 400} if depth == 1_000 and sys.version_info >= (3, 12) else {400}
    assert post(receiver, SECRET.encode(), body) in expected
    assert post(receiver, b"wrong", body) == 401  # the secret is checked first


def test_a_body_that_is_not_json_is_400(receiver: int) -> None:
    assert post(receiver, SECRET.encode(), b"{'not': json") == 400
    assert post(receiver, SECRET.encode(), b"[1, 2]") == 400


def test_verify_secret_compares_the_bytes_as_they_arrived() -> None:
    # aiohttp hands over header bytes decoded as UTF-8 with surrogateescape.
    arrived = b"caf\xc3\xa9-\xff".decode("utf-8", "surrogateescape")
    assert not verify_secret({"X-Stamped-Webhook-Secret": arrived}, "café")
    assert verify_secret({"X-Stamped-Webhook-Secret": "café"}, "café")
    assert not verify_secret({"X-Secret-Key": "\ud800"}, SECRET)  # a lone surrogate: no match
    with pytest.raises(WebhookError) as info:
        parse_event({"X-Stamped-Webhook-Secret": arrived}, GOOD, secret=SECRET)
    assert info.value.status == 401


def test_webhook_errors_are_stampsync_errors_with_a_status() -> None:
    with pytest.raises(WebhookError) as info:
        parse_event({"X-Stamped-Webhook-Secret": SECRET}, b"[" * 5000, secret=SECRET)
    assert info.value.status == 400
    assert isinstance(info.value, StampsyncError)
    with pytest.raises(ConfigurationError):
        verify_secret({}, "")
    with pytest.raises(ConfigurationError):
        SeenEvents(capacity=0)
