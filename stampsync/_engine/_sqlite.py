"""A SQLite file used from async code: one connection, one thread, no blocked loop."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from .._files import create_private
from ..errors import ConfigurationError, StateFileError

T = TypeVar("T")


class SqliteFile:
    """A WAL-mode SQLite file whose every call runs on one dedicated thread.

    ``synchronous=FULL``: a commit survives a power cut, which the journals need (an
    intent lost after its request was sent could be sent again). A new file is created
    0600 (SQLite gives its ``-wal`` and ``-shm`` files the same mode). A SQLite failure
    while in use (a disk full, a lock held past the busy timeout) is a
    :class:`~stampsync.errors.StateFileError`.

    ``schema`` is idempotent DDL (``CREATE ... IF NOT EXISTS``) for schema ``version``, kept
    in SQLite's ``user_version``: opening a file of an older version adds what it lacks and
    records the new version, in one transaction; a file of a newer version (written by a
    later stampsync, whose rows this one might misread) is refused.
    """

    def __init__(self, path: str | Path, schema: str, what: str, version: int = 1) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise ConfigurationError(f"{what} path {self.path} is a directory")
        self._schema = schema
        self._version = version
        self._what = what
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=f"stampsync-{what}"
        )
        self._db: sqlite3.Connection | None = None

    def db(self) -> sqlite3.Connection:
        """The connection, opened on first use. Call only from the file's thread."""
        if self._db is None:
            db: sqlite3.Connection | None = None
            try:
                create_private(self.path)
                # The busy timeout (30 s) from the start: switching a new file to WAL
                # takes a lock too, and two runs may open one file at once.
                db = sqlite3.connect(
                    self.path, timeout=30.0, isolation_level=None, check_same_thread=False
                )
                _switch_to_wal(db)
                db.execute("PRAGMA synchronous=FULL")
                self._migrate(db)
            except (sqlite3.DatabaseError, OSError, ConfigurationError) as exc:
                if db is not None:
                    db.close()
                if isinstance(exc, ConfigurationError):
                    raise
                raise ConfigurationError(
                    f"cannot use {self.path} as a {self._what}: {exc}"
                ) from None
            self._db = db
        return self._db

    def _migrate(self, db: sqlite3.Connection) -> None:
        # One write transaction: two runs opening an old file at once upgrade it once, and
        # neither reads a version the other is about to change.
        db.execute("BEGIN IMMEDIATE")
        try:
            found = int(db.execute("PRAGMA user_version").fetchone()[0])
            if found > self._version:
                raise ConfigurationError(
                    f"{self._what} {self.path} was written by a newer stampsync (schema "
                    f"{found}; this one knows up to {self._version}): upgrade stampsync"
                )
            for statement in _statements(self._schema):
                db.execute(statement)
            if found < self._version:
                db.execute(f"PRAGMA user_version = {int(self._version)}")
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    def _guarded(self, fn: Callable[[], T]) -> Callable[[], T]:
        def call() -> T:
            try:
                return fn()
            except sqlite3.Error as exc:
                raise StateFileError(f"{self._what} {self.path}: {exc}") from None

        return call

    def _closed(self) -> StateFileError:
        return StateFileError(f"{self._what} {self.path} is closed")

    def run(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the file's thread and wait (for synchronous callers)."""
        try:
            future = self._executor.submit(self._guarded(fn))
        except RuntimeError:  # the thread was stopped: the file was closed
            raise self._closed() from None
        return future.result()

    async def arun(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the file's thread without blocking the event loop."""
        try:
            future = self._executor.submit(self._guarded(fn))
        except RuntimeError:  # the thread was stopped: the file was closed
            raise self._closed() from None
        return await asyncio.wrap_future(future)

    def _close_db(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def close(self) -> None:
        """Close the connection and stop the thread (again: nothing to do)."""
        with contextlib.suppress(StateFileError):
            self.run(self._close_db)
        self._executor.shutdown(wait=True)

    async def aclose(self) -> None:
        """Close the connection and stop the thread, from async code."""
        with contextlib.suppress(StateFileError):
            await self.arun(self._close_db)
        self._executor.shutdown(wait=True)


def _statements(script: str) -> list[str]:
    """``script`` split into whole SQL statements (``executescript`` would commit first)."""
    found: list[str] = []
    current = ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            found.append(current.strip())
            current = ""
    if current.strip():
        found.append(current.strip())
    return found


def _switch_to_wal(db: sqlite3.Connection) -> None:
    """``journal_mode=WAL``, retried: SQLite answers "database is locked" at once, without
    its busy handler, when another connection is switching the same new file."""
    deadline = time.monotonic() + 30.0
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)  # on the file's own thread: the event loop is not blocked
