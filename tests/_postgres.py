"""A throwaway PostgreSQL cluster for tests: initdb in a temporary directory, 127.0.0.1,
a free port, a password on TCP, stopped by its postmaster's pid.

The binaries are found on PATH or in Debian's ``/usr/lib/postgresql/<version>/bin``
(the ``postgresql`` package puts them there and not on PATH). PostgreSQL refuses to run
as root, so as root the cluster is made and run as the ``postgres`` user (created by the
Debian package) through ``runuser``. In CI (``CI=true``) a missing PostgreSQL fails the
run: these tests must not skip there.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from stampsync._engine._runs import pid_alive
from stampsync.sandbox import free_port

#: The cluster's password for TCP logins: tests check it never reaches a log or message.
PASSWORD = "pg-SECRET-pass"
USER = "stampsync"


def pg_bin(name: str) -> str | None:
    """``name`` (initdb, pg_ctl, postgres) on PATH or in the newest Debian version dir."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda p: [int(x) if x.isdigit() else 0 for x in Path(p).parts[-3].split(".")],
    )
    return candidates[-1] if candidates else None


def require_postgres() -> tuple[str, str]:
    """initdb and pg_ctl, or skip (locally) / fail (in CI)."""
    initdb, pg_ctl = pg_bin("initdb"), pg_bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        message = "PostgreSQL is not installed (apt-get install postgresql)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}: PostgreSQL tests must run in CI")
        pytest.skip(message)
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            message = "running as root and no 'postgres' user to run PostgreSQL as"
            if os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message)
    return initdb, pg_ctl


class PgCluster:
    """One cluster: :meth:`start`, :meth:`stop` (by pid), :meth:`restart`, :attr:`dsn`."""

    def __init__(self) -> None:
        self.initdb, self.pg_ctl = require_postgres()
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="stampsync-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self._as: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        pwfile = self.root / "pw"
        pwfile.write_text(PASSWORD + "\n")
        if self._as:
            os.chown(pwfile, pwd.getpwnam("postgres").pw_uid, -1)
        self._run(
            self.initdb,
            "-D",
            str(self.data),
            "-U",
            USER,
            "--pwfile",
            str(pwfile),
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "-E",
            "UTF8",
            "--no-sync",  # a throwaway cluster: initdb's own fsyncs only cost time
        )
        pwfile.unlink()
        self.pid: int | None = None
        self.listen = "127.0.0.1"
        """Where the server listens (``listen_addresses``); see :meth:`allow`."""
        self.settings: list[str] = []
        """More server settings (``name=value``), before :meth:`start`."""

    def allow(self, server: str, client: str) -> None:
        """Listen on ``server`` too and let ``client`` in from there, by password (a test
        host in a network namespace of its own); before :meth:`start`."""
        self.listen += f",{server}"
        with (self.data / "pg_hba.conf").open("a") as fh:  # root or its owner writes it
            fh.write(f"host all all {client}/32 scram-sha-256\n")

    @property
    def dsn(self) -> str:
        return self.dsn_for("postgres")

    def dsn_for(self, database: str) -> str:
        return f"postgresql://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{database}"

    def _run(self, *argv: str) -> None:
        done = subprocess.run(
            [*self._as, *argv], capture_output=True, text=True, timeout=120, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed: {done.stderr[-2000:]}")

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses={self.listen} -k {self.root} "
            "-c max_connections=200 -c shared_buffers=32MB"
        ) + "".join(f" -c {setting}" for setting in self.settings)
        self._run(
            self.pg_ctl,
            "start",
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-w",
            "-t",
            "60",
            "-o",
            options,
        )
        self.pid = int((self.data / "postmaster.pid").read_text().split()[0])
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("PostgreSQL did not start") from None
                time.sleep(0.05)

    def stop(self, how: signal.Signals = signal.SIGINT) -> None:
        """Stop by the postmaster's pid (SIGINT: fast shutdown) and wait for it to go."""
        if self.pid is None:
            return
        pid, self.pid = self.pid, None
        try:
            os.kill(pid, how)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 60
        while pid_alive(pid):
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                break
            time.sleep(0.05)

    def restart(self) -> None:
        self.stop()
        self.start()

    def create_database(self, name: str) -> str:
        """A new empty database; its DSN."""
        import asyncio

        import asyncpg

        async def create() -> None:
            con = await asyncpg.connect(self.dsn)
            try:
                await con.execute(f'CREATE DATABASE "{name}"')
            finally:
                await con.close()

        asyncio.run(create())
        return self.dsn_for(name)

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
