"""Which lane a request runs in when its client does not say.

A client made with ``lane=`` (or ``with_options(lane=...)``) puts every request in that
lane. Otherwise the lane follows what the request is part of: a single call is
``interactive``; the requests of an export, a batch, an import or a fleet job are
``bulk``. The batch layer marks its own tasks (a context variable, so it is local to
those tasks and the tasks they start, never process-wide); the transport reads the mark
as it builds each request, which then carries its lane explicitly down to the throttle.
"""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from ._local_throttle import BULK, INTERACTIVE

__all__ = ["as_bulk", "enter_bulk", "task_lane"]

P = ParamSpec("P")
R = TypeVar("R")

_TASK_LANE: contextvars.ContextVar[str] = contextvars.ContextVar(
    "stampsync_task_lane", default=INTERACTIVE
)


#: The lane of requests made by this task when the client names none: the context
#: variable's own ``get`` (a C call; every request asks).
task_lane: Callable[[], str] = _TASK_LANE.get


def enter_bulk() -> None:
    """Mark the running task (a batch's worker, which owns its context) as bulk work."""
    _TASK_LANE.set(BULK)


def as_bulk(fetch: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """``fetch`` with its requests in the bulk lane (for an export's page fetches)."""

    async def bulk(*args: P.args, **kwargs: P.kwargs) -> R:
        token = _TASK_LANE.set(BULK)
        try:
            return await fetch(*args, **kwargs)
        finally:
            _TASK_LANE.reset(token)

    return bulk
