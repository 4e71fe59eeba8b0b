"""Stopping a test run (Ctrl-C, or SIGTERM from nox or a CI runner) stops the servers its
fixtures started: none is left running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests._redis import redis_binary

ROOT = Path(__file__).resolve().parents[2]


def running(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting to be reaped has stopped)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


#: A test that starts a server through the suite's own helper, says its pid, then waits.
SLOW_TEST = """
import time
from pathlib import Path

import pytest

from tests._redis import redis_server


@pytest.fixture
def server():
    with redis_server() as (url, proc):
        yield proc


def test_waits(server):
    Path({pidfile!r}).write_text(str(server.pid))
    time.sleep(120)
"""


@pytest.mark.redis
@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stopped_run_stops_the_servers_its_fixtures_started(
    tmp_path: Path, how: signal.Signals
) -> None:
    redis_binary()  # skips locally (fails in CI) without redis-server
    pidfile = tmp_path / "server.pid"
    test_dir = tmp_path / "suite"
    test_dir.mkdir()
    (test_dir / "conftest.py").write_text(
        "from tests import _cleanup\n\n\ndef pytest_configure(config):\n    _cleanup.install()\n"
    )
    (test_dir / "test_slow.py").write_text(SLOW_TEST.format(pidfile=str(pidfile)))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test_dir)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while not pidfile.exists() or not pidfile.read_text():
            assert run.poll() is None, run.communicate()[0].decode()
            assert time.monotonic() < deadline, "the server never started"
            time.sleep(0.05)
        server_pid = int(pidfile.read_text())
        assert running(server_pid)
        os.kill(run.pid, how)
        output = run.communicate(timeout=60)[0].decode()
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    deadline = time.monotonic() + 15
    while running(server_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    alive = running(server_pid)
    if alive:
        os.kill(server_pid, signal.SIGKILL)
    assert not alive, f"redis-server {server_pid} outlived the run:\n{output}"
    assert run.returncode != 0  # an interrupted run is not a passing one
