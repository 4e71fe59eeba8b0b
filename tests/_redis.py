"""A real redis-server for tests: a free 127.0.0.1 port, no persistence, stopped by pid.

In CI (``CI=true``) a missing redis-server fails the run: those tests must not skip
there. Locally they skip with a message saying how to install it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from stampsync.sandbox import free_port


def redis_binary() -> str:
    path = shutil.which("redis-server")
    if path is None:
        message = "redis-server is not installed (apt-get install redis-server)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}: Redis tests must run in CI")
        pytest.skip(message)
    return path


@contextmanager
def redis_server(*extra: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Start redis-server (``extra``: more options); yield its URL and process; stop it
    by pid."""
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="stampsync-redis-")
    proc = subprocess.Popen(
        [
            redis_binary(),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            workdir,
            "--protected-mode",
            "yes",
            *extra,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2) as s:
                    # Ours only, by its pid: another suite's server may hold the port.
                    s.sendall(b"INFO server\r\n")
                    if f"process_id:{proc.pid}\r".encode() in s.recv(65536):
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.02)
        yield f"redis://127.0.0.1:{port}/0", proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)
