from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests._server import RecordingServer


@pytest.fixture
async def server() -> AsyncIterator[RecordingServer]:
    """A recording HTTP server on a free 127.0.0.1 port, stopped after the test."""
    srv = RecordingServer()
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()
