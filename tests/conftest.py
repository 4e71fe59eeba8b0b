from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

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
