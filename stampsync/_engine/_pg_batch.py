"""Concurrent journal statements of one kind, sent as one round trip.

A fleet worker serves many stores at once: measured at 50 stores, five or six of its
journal statements were in flight at any moment, each its own round trip and its own
commit (with its WAL flush). A :class:`Coalescer` sends the calls that queue up while a
statement is in flight as the next single statement over arrays (``unnest``): nothing
waits for a timer, a lone call goes at once, and under load the round trips and commits
shrink by the number of calls waiting.

The guarantees are those of one call each: a caller's call returns only once its
statement committed, a statement that failed with the database away is retried as a
whole (each kind is safe to repeat), and a row the database refuses (a data error) fails
that row only: the statement is then repeated row by row. A caller cancelled while its
call still waits in the queue is dropped from it; one cancelled while its statement is in
flight is exactly as uncertain as a cancelled single statement; one cancelled while its
statement is retried through an outage is left out of the next try.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import TYPE_CHECKING, Generic, TypeVar

from ..errors import JournalError

if TYPE_CHECKING:
    import asyncpg

    from .postgres import PgDatabase

I = TypeVar("I")  # noqa: E741 - an item, as in the typing docs' examples
R = TypeVar("R")

#: Most calls in one statement (arrays of this many rows stay small for the server).
MAX_BATCH = 256


class Coalescer(Generic[I, R]):
    """``await coalescer(item)``: ``statement(connection, items)`` for every queued item.

    Args:
        database: the journal database whose pool and outage handling run the statement.
        statement: runs the items as one statement; returns one result per item, in order.
        key: items with equal keys never share a statement (they would touch one row
            twice); the later one waits for the next.
        doing: what a failed item was doing, for its error message.
    """

    def __init__(
        self,
        database: PgDatabase,
        statement: Callable[[asyncpg.Connection, Sequence[I]], Awaitable[list[R]]],
        *,
        key: Callable[[I], Hashable],
        doing: Callable[[I], str],
    ) -> None:
        self._database = database
        self._statement = statement
        self._key = key
        self._doing = doing
        self._queue: list[tuple[I, asyncio.Future[R]]] = []
        self._drainer: asyncio.Task[None] | None = None
        self.statements = 0
        """Statements sent (for measuring how many calls each carried)."""
        self.calls = 0
        """Calls made."""

    async def __call__(self, item: I) -> R:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._queue.append((item, future))
        self.calls += 1
        if self._drainer is None or self._drainer.done():
            # In a context of its own: not the first caller's (its lane mark, say).
            self._drainer = loop.create_task(self._drain(), context=contextvars.Context())
        # Cancelling the caller cancels ``future``: the drainer skips it if still queued.
        return await future

    async def aclose(self) -> None:
        """Stop the drainer; calls still waiting fail with a JournalError."""
        drainer, self._drainer = self._drainer, None
        if drainer is not None and not drainer.done():
            drainer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await drainer
        self._fail(self._queue, JournalError("the journal database was closed"))
        self._queue.clear()

    @staticmethod
    def _fail(batch: Sequence[tuple[I, asyncio.Future[R]]], exc: BaseException) -> None:
        for _, future in batch:
            if not future.done():
                future.set_exception(exc)

    def _take(self) -> list[tuple[I, asyncio.Future[R]]]:
        batch: list[tuple[I, asyncio.Future[R]]] = []
        later: list[tuple[I, asyncio.Future[R]]] = []
        keys: set[Hashable] = set()
        for item, future in self._queue:
            if future.done():  # its caller was cancelled while it waited
                continue
            key = self._key(item)
            if key in keys or len(batch) >= MAX_BATCH:
                later.append((item, future))
            else:
                keys.add(key)
                batch.append((item, future))
        self._queue = later
        return batch

    async def _drain(self) -> None:
        while self._queue:
            batch = self._take()
            if not batch:
                continue
            self.statements += 1
            # One item names its key; a shared statement names no caller's key to others.
            doing = self._doing(batch[0][0]) if len(batch) == 1 else f"{len(batch)} keys at once"
            try:
                await self._database.run(
                    functools.partial(self._attempt, batch=batch), doing, keyed=True
                )
            except asyncio.CancelledError:
                self._fail(batch, JournalError("the journal database was closed"))
                raise
            except Exception as exc:
                self._fail(batch, exc)
            finally:
                # Whatever happened, no caller of this batch is left waiting.
                self._fail(batch, JournalError("the journal statement ended without an answer"))

    async def _attempt(
        self, con: asyncpg.Connection, batch: Sequence[tuple[I, asyncio.Future[R]]]
    ) -> None:
        """One try of ``batch``'s statement: answers its callers, or raises to be retried.

        Items whose callers went away (cancelled during an outage's retries) are left out
        of each new try: a claim nobody will send must not be committed.
        """
        live = [(item, future) for item, future in batch if not future.done()]
        if not live:
            return
        results = await self._each_or_all(con, [item for item, _ in live])
        for (_, future), result in zip(live, results, strict=True):
            if future.done():
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)

    async def _each_or_all(
        self, con: asyncpg.Connection, items: Sequence[I]
    ) -> list[R | BaseException]:
        import asyncpg

        try:
            return [*await self._statement(con, items)]
        except (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError):
            if len(items) == 1:
                raise
        # One row refused the whole statement: find it, and let the others through.
        out: list[R | BaseException] = []
        for item in items:
            try:
                out.extend(await self._statement(con, [item]))
            except (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError) as exc:
                out.append(self._database.error(exc, self._doing(item)))
        return out
