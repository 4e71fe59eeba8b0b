"""A SQLite file used from async code: one connection, one thread, no blocked loop."""

from __future__ import annotations

import asyncio
import concurrent.futures
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from ..errors import ConfigurationError

T = TypeVar("T")


class SqliteFile:
    """A WAL-mode SQLite file whose every call runs on one dedicated thread.

    ``synchronous=FULL``: a commit survives a power cut, which the journals need (an
    intent lost after its request was sent could be sent again).
    """

    def __init__(self, path: str | Path, schema: str, what: str) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise ConfigurationError(f"{what} path {self.path} is a directory")
        self._schema = schema
        self._what = what
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=f"stampsync-{what}"
        )
        self._db: sqlite3.Connection | None = None

    def db(self) -> sqlite3.Connection:
        """The connection, opened on first use. Call only from the file's thread."""
        if self._db is None:
            try:
                db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=FULL")
                db.execute("PRAGMA busy_timeout=5000")
                db.executescript(self._schema)
            except sqlite3.DatabaseError as exc:
                raise ConfigurationError(
                    f"cannot use {self.path} as a {self._what}: {exc}"
                ) from None
            self._db = db
        return self._db

    def run(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the file's thread and wait (for synchronous callers)."""
        return self._executor.submit(fn).result()

    async def arun(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the file's thread without blocking the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    def _close_db(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def close(self) -> None:
        """Close the connection and stop the thread."""
        self.run(self._close_db)
        self._executor.shutdown(wait=True)

    async def aclose(self) -> None:
        """Close the connection and stop the thread, from async code."""
        await self.arun(self._close_db)
        self._executor.shutdown(wait=True)
