from __future__ import annotations

import base64
import logging
from collections.abc import AsyncIterator, Iterator

import pytest

from stampsync.sandbox import SandboxConfig
from tests import _aioresponses_compat
from tests._server import RecordingServer

_aioresponses_compat.install()


@pytest.fixture
async def server() -> AsyncIterator[RecordingServer]:
    """A recording HTTP server on a free 127.0.0.1 port, stopped after the test."""
    srv = RecordingServer()
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


_SANDBOX = SandboxConfig()
#: Every credential the suite uses: none may ever reach a log line.
SECRETS = (
    _SANDBOX.private_key,
    _SANDBOX.stamps_token,
    base64.b64encode(f"{_SANDBOX.public_key}:{_SANDBOX.private_key}".encode()).decode(),
    "key-PRIVATE-0123456789",
    "tok-SECRET-abcdef",
    "key-PRIVATE",
    "tok-123456",
    "static-token-1",
    "tok-WRONG-SECRET-1",
    "key-SECRET",
)


@pytest.fixture(autouse=True)
def _no_secret_in_any_log(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Run every test with stampsync's DEBUG logging on, then scan what it logged."""
    caplog.set_level(logging.DEBUG, logger="stampsync")
    yield
    leaked = [s for s in SECRETS if s in caplog.text]
    assert not leaked, f"secret(s) in the log: {len(leaked)}"
