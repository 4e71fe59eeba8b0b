"""Bounded, structured fan-out over a stream of items."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable
from typing import Any, Protocol, TypeVar, runtime_checkable

import anyio

from .._lanes import enter_bulk
from .._validate import positive

T = TypeVar("T")


async def _aiter(items: Iterable[T] | AsyncIterable[T]) -> AsyncIterator[T]:
    if isinstance(items, AsyncIterable):
        async for item in items:
            yield item
    else:
        for item in items:
            yield item


@runtime_checkable
class StopEvent(Protocol):
    """What ``stop=`` takes: an ``asyncio.Event``, an ``anyio.Event``, or anything with
    ``is_set()`` and an awaitable ``wait()``."""

    def is_set(self) -> bool:
        """Whether the stop was asked for."""
        ...

    def wait(self) -> Awaitable[Any]:
        """Wait until the stop is asked for."""
        ...


async def fan_out(
    items: Iterable[T] | AsyncIterable[T],
    work: Callable[[T], Awaitable[None]],
    *,
    concurrency: int,
    stop: StopEvent | None = None,
) -> bool:
    """Run ``work(item)`` for every item, at most ``concurrency`` at once.

    Items are pulled lazily (a million-row input is never held in memory), by
    ``concurrency`` workers in one anyio task group: if ``work`` raises, or the caller is
    cancelled, every worker is cancelled and awaited before this returns: no task is
    left behind. ``work`` should turn per-item failures into outcomes rather than raise.
    Setting ``stop`` makes workers take no new items; those in hand finish.

    Returns True when every item was taken (a ``stop`` set after that cut nothing off).
    """
    concurrency = positive(concurrency, "concurrency")
    source = _aiter(items)
    take = anyio.Lock()
    exhausted = False

    async def worker() -> None:
        nonlocal exhausted
        # Each worker is a task of its own: the mark stays in it (requests in bulk).
        enter_bulk()
        while True:
            async with take:
                if exhausted or (stop is not None and stop.is_set()):
                    return
                try:
                    item = await source.__anext__()
                except StopAsyncIteration:
                    exhausted = True
                    return
            await work(item)

    try:
        async with anyio.create_task_group() as tg:
            for _ in range(concurrency):
                tg.start_soon(worker)
    finally:
        aclose = getattr(source, "aclose", None)
        if aclose is not None and inspect.iscoroutinefunction(aclose):
            await aclose()
    return exhausted
