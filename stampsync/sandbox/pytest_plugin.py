"""pytest plugin: a ``stampsync_sandbox`` fixture for your own tests.

Installed with stampsync (entry point ``pytest11``), so after ``pip install stampsync``::

    async def test_my_award_job(stampsync_sandbox):
        async with stampsync_sandbox.stamps_client() as stamps:
            await my_award_job(stamps)
        assert len(await stampsync_sandbox.awards()) == 3

    @pytest.mark.stampsync_sandbox(customers=50, limit=10, seconds=1)
    def test_with_a_small_strict_store(stampsync_sandbox): ...

The sandbox runs in a thread with its own event loop, so the fixture works with any
async test runner and with plain synchronous tests; each test gets a fresh one.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .server import Sandbox


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "stampsync_sandbox(**settings): settings for the stampsync_sandbox fixture "
        "(customers=, members=, limit=, seconds=, faults=, seed=, ...)",
    )


@pytest.fixture
def stampsync_sandbox(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    """A fresh stampsync sandbox of both APIs on a free 127.0.0.1 port."""
    marker = request.node.get_closest_marker("stampsync_sandbox")
    settings = dict(marker.kwargs) if marker is not None else {}
    settings.setdefault("customers", 1_000)
    settings.setdefault("members", 1_000)
    with Sandbox(**settings) as sandbox:
        yield sandbox
