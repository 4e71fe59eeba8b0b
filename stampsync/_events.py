"""What a request did, as events for hooks (metrics, tracing, logs of your own)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Literal

import msgspec

log = logging.getLogger("stampsync")

EventKind = Literal["attempt", "response", "throttle_wait", "retry", "ambiguous", "end"]


class RequestEvent(msgspec.Struct, frozen=True, kw_only=True):
    """One thing that happened to one call. Never carries a secret or personal data.

    Kinds, in the order a call emits them:

    - ``attempt``: an attempt is about to wait for the quota and leave;
    - ``throttle_wait``: the attempt waited ``throttle_wait`` seconds for the quota;
    - ``response``: an answer came (``status``, ``network`` seconds on the wire);
    - ``retry``: the attempt failed with ``error`` and another follows after ``wait``;
    - ``ambiguous``: a write was sent and its outcome is unknown (``error``);
    - ``end``: the call is over (``elapsed`` seconds in all; if it raised, ``error`` and
      the error's ``status`` when it had one).

    Attributes:
        kind: see above.
        call: a number shared by the events of one call.
        method: the HTTP method.
        path: the endpoint's path template (``/api/v2/1/customers/{email}``), never the
            filled path: that may hold an email address.
        host: the API's host.
        attempt: 1 for the first attempt.
    """

    kind: EventKind
    call: int
    method: str
    path: str
    host: str
    attempt: int
    status: int | None = None
    throttle_wait: float = 0.0
    network: float = 0.0
    wait: float = 0.0
    error: str | None = None
    elapsed: float = 0.0


#: A hook: a function called with each :class:`RequestEvent` of a client's calls (what it
#: returns is ignored). Type a list of mixed hooks as ``list[stampsync.Hook]``.
Hook = Callable[[RequestEvent], object]


class Hooks:
    """The hooks of one client; a hook that raises is logged once and never breaks a call."""

    __slots__ = ("_failed", "hooks")

    def __init__(self, hooks: Sequence[Hook]) -> None:
        self.hooks = tuple(hooks)
        self._failed: set[int] = set()

    def __bool__(self) -> bool:
        return bool(self.hooks)

    def emit(self, event: RequestEvent) -> None:
        """Hand ``event`` to every hook."""
        for hook in self.hooks:
            try:
                hook(event)
            except Exception:  # a hook's bug must not fail the user's request
                if id(hook) not in self._failed:
                    self._failed.add(id(hook))
                    log.warning(
                        "hook %r raised; its later errors are not logged", hook, exc_info=True
                    )
