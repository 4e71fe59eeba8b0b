from __future__ import annotations

import base64
import inspect
import itertools
import logging
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path

import pytest

from stampsync.sandbox import SandboxConfig
from tests import _aioresponses_compat, _cleanup
from tests._clock import FakeLoopTime
from tests._postgres import PASSWORD as PG_PASSWORD
from tests._postgres import PgCluster
from tests._server import RecordingServer

_aioresponses_compat.install()


#: Folders whose tests keep real time: they drive servers, subprocesses or Redis that
#: live outside the test's loop.
REAL_TIME_DIRS = ("integration", "with_sandbox")


def pytest_configure(config: pytest.Config) -> None:
    """SIGTERM stops the run as Ctrl-C does: every fixture's server is stopped."""
    _cleanup.install()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every async unit test runs on the fake loop clock (``clock``), first of all its
    fixtures, unless it is marked ``real_time`` or lives in a real-time folder."""
    here = Path(__file__).parent
    for item in items:
        if (
            isinstance(item, pytest.Function)
            and inspect.iscoroutinefunction(item.function)
            and item.get_closest_marker("real_time") is None
            and item.path.relative_to(here).parts[0] not in REAL_TIME_DIRS
            and "clock" not in item.fixturenames
        ):
            item.fixturenames.insert(0, "clock")


@pytest.fixture
async def clock() -> FakeLoopTime:
    """The test's loop on a clock that jumps to its next timer instead of waiting.

    Left installed until the loop closes with the test: a timer set on the fake clock
    would be far in the future for the real one.
    """
    return FakeLoopTime.on_running_loop()


@pytest.fixture
async def server(request: pytest.FixtureRequest) -> AsyncIterator[RecordingServer]:
    """A recording HTTP server on a free 127.0.0.1 port, stopped after the test.

    On the fake clock (every async unit test) it serves in the test's loop, so its slow
    answers take no real time either. Otherwise (a sync test, whose client runs the loop
    itself through the CLI; a ``real_time`` one, whose client is a subprocess) it serves
    from a thread, on real time.
    """
    srv = RecordingServer(in_loop="clock" in request.fixturenames)
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
    _SANDBOX.api_key,
    base64.b64encode(f"{_SANDBOX.public_key}:{_SANDBOX.private_key}".encode()).decode(),
    "key-PRIVATE-0123456789",
    "tok-SECRET-abcdef",
    "key-PRIVATE",
    "tok-123456",
    "static-token-1",
    "tok-WRONG-SECRET-1",
    "key-SECRET",
    PG_PASSWORD,
)


#: How a scanned record is written out: its message, its exception and stack included.
_SCAN_FORMAT = logging.Formatter("%(levelname)s %(name)s %(message)s")


def secrets_in_records(
    records: Iterable[logging.LogRecord], secrets: Iterable[str] = SECRETS
) -> list[str]:
    """The ``secrets`` that appear in any of ``records`` (message, arguments, traceback)."""
    text = "\n".join(_SCAN_FORMAT.format(record) for record in records)
    return [s for s in secrets if s in text]


@pytest.fixture(autouse=True)
def _no_secret_in_any_log(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Run every test with stampsync's DEBUG logging on, then scan what it logged.

    The scan reads each phase's records: after ``yield`` ``caplog.text`` holds only the
    teardown's, and a secret the test body logged would pass unseen.
    """
    caplog.set_level(logging.DEBUG, logger="stampsync")
    yield
    records = [r for when in ("setup", "call", "teardown") for r in caplog.get_records(when)]
    leaked = secrets_in_records(records)
    if leaked:
        # How many, never which: a failed assert would print the list in the report.
        pytest.fail(f"secret(s) in the log: {len(leaked)}", pytrace=False)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """A throwaway PostgreSQL cluster for the session (skips locally, fails in CI, if
    PostgreSQL is not installed)."""
    cluster = PgCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


_databases = itertools.count(1)


@pytest.fixture
def pg_dsn(pg_cluster: PgCluster) -> str:
    """The URL (with its password) of a new, empty database on the session's cluster."""
    return pg_cluster.create_database(f"t{next(_databases)}")
