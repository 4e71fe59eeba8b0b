"""The fault matrix: every fault, for a read, an idempotent write and a non-idempotent one.

Each cell says what the caller gets, how many requests the server saw, and how many
times the write was applied. Each fault fires once, so where a retry is allowed the
second attempt succeeds. The cells where a write's fate is unknown run again with the
sandbox in its own process: what it counts is then the server's, not the client loop's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from stampsync import StampedClient, StampsClient
from stampsync.errors import (
    AmbiguousWriteError,
    DecodeError,
    RedirectError,
    ServerError,
    TransportError,
)
from stampsync.sandbox import Fault, Sandbox, free_port
from stampsync.testing import no_backoff

OK = "ok"


@dataclass(frozen=True)
class Operation:
    name: str
    route: str
    call: Callable[[StampedClient, StampsClient], Awaitable[Any]]


READ = Operation("read", "GET /api/v2/*/dashboard/customers/*", lambda st, sp: st.customers.get(1))
IDEMPOTENT = Operation(
    "idempotent write",
    "POST /api/v2/memberships/set-level",
    lambda st, sp: sp.memberships.set_level(user=1, level=200),
)
NON_IDEMPOTENT = Operation(
    "non-idempotent write",
    "POST /api/stamps/add",
    lambda st, sp: sp.stamps.add(user=1, number_of_stamps=5),
)
OPERATIONS = {op.name: op for op in (READ, IDEMPOTENT, NON_IDEMPOTENT)}

# fault -> {operation: (outcome, requests the server saw, awards applied)}
# "applied" is counted for the non-idempotent write only (awards on the server).
MATRIX: dict[str, dict[str, tuple[object, int, int]]] = {
    "drop_before": {
        "read": (OK, 2, 0),
        "idempotent write": (OK, 2, 0),
        "non-idempotent write": (AmbiguousWriteError, 1, 0),
    },
    "drop_after": {
        "read": (OK, 2, 0),
        "idempotent write": (OK, 2, 0),
        "non-idempotent write": (AmbiguousWriteError, 1, 1),
    },
    "500": {
        "read": (OK, 2, 0),
        "idempotent write": (OK, 2, 0),
        "non-idempotent write": (AmbiguousWriteError, 1, 0),
    },
    "502": {
        "read": (OK, 2, 0),
        "idempotent write": (OK, 2, 0),
        "non-idempotent write": (AmbiguousWriteError, 1, 0),
    },
    "503": {"read": (OK, 2, 0), "idempotent write": (OK, 2, 0), "non-idempotent write": (OK, 2, 1)},
    "504": {
        "read": (OK, 2, 0),
        "idempotent write": (OK, 2, 0),
        "non-idempotent write": (AmbiguousWriteError, 1, 0),
    },
    "429": {"read": (OK, 2, 0), "idempotent write": (OK, 2, 0), "non-idempotent write": (OK, 2, 1)},
    "429_retry_after": {
        "read": (OK, 2, 0),
        "idempotent write": (OK, 2, 0),
        "non-idempotent write": (OK, 2, 1),
    },
    "timeout": {
        "read": (OK, 2, 0),
        "idempotent write": (OK, 2, 0),
        "non-idempotent write": (AmbiguousWriteError, 1, 1),
    },
    "truncated": {
        "read": (OK, 2, 0),
        "idempotent write": (OK, 2, 0),
        "non-idempotent write": (DecodeError, 1, 1),
    },
    "malformed": {
        "read": (OK, 2, 0),
        "idempotent write": (OK, 2, 0),
        "non-idempotent write": (DecodeError, 1, 1),
    },
    "wrong_content_type": {
        "read": (OK, 2, 0),
        "idempotent write": (OK, 2, 0),
        "non-idempotent write": (DecodeError, 1, 1),
    },
    "html": {
        "read": (OK, 2, 0),
        "idempotent write": (OK, 2, 0),
        "non-idempotent write": (AmbiguousWriteError, 1, 0),
    },
    "empty": {
        "read": (OK, 2, 0),
        "idempotent write": (OK, 2, 0),
        "non-idempotent write": (AmbiguousWriteError, 1, 0),
    },
    "gateway_503": {  # a proxy's 503 page after it forwarded the request
        "read": (OK, 2, 0),
        "idempotent write": (OK, 2, 0),
        "non-idempotent write": (AmbiguousWriteError, 1, 1),
    },
    "redirect": {  # never followed, never taken for success
        "read": (RedirectError, 1, 0),
        "idempotent write": (RedirectError, 1, 0),
        "non-idempotent write": (AmbiguousWriteError, 1, 0),
    },
    "huge": {
        "read": (DecodeError, 1, 0),
        "idempotent write": (DecodeError, 1, 0),
        "non-idempotent write": (DecodeError, 1, 1),
    },
}

CASES = [(fault, op) for fault, row in MATRIX.items() for op in row]


async def run_cell(
    fault: str, op: Operation, *, process: bool = False
) -> tuple[object, int, int, float]:
    rule = Fault(fault, route=op.route, seconds=1.0 if fault == "timeout" else 0.1, times=1)
    async with Sandbox(customers=10, members=10, faults=[rule], process=process) as sb:
        settings: dict[str, Any] = {
            "timeout": 0.4,
            "max_retries": 2,
            "throttle_limit": 10_000,
            "throttle_seconds": 1,
            "max_response_bytes": 2**20,
        }
        async with sb.stamped_client(**settings) as st, sb.stamps_client(**settings) as sp:
            loop = asyncio.get_running_loop()
            started = loop.time()
            try:
                with no_backoff():
                    await op.call(st, sp)
                outcome: object = OK
            except Exception as exc:
                outcome = type(exc)
            elapsed = loop.time() - started
        counters = await sb.counters()
        applied = len(await sb.awards())
    return outcome, counters.get("arrivals", 0), applied, elapsed


@pytest.mark.parametrize(("fault", "operation"), CASES, ids=[f"{f}-{o}" for f, o in CASES])
async def test_fault_matrix(fault: str, operation: str) -> None:
    outcome, requests, applied, elapsed = await run_cell(fault, OPERATIONS[operation])
    assert (outcome, requests, applied) == MATRIX[fault][operation]
    if fault == "429":
        assert elapsed >= 0.45  # everyone paused 0.5 s: no Retry-After from Stamped
    if fault == "429_retry_after" and outcome is OK:
        assert elapsed >= 0.09  # the server's Retry-After: 0.1 s (its upper bound: timing)


@pytest.mark.timing
@pytest.mark.parametrize("operation", list(MATRIX["429_retry_after"]))
async def test_a_retry_after_shorter_than_the_default_pause_is_waited_no_longer(
    operation: str,
) -> None:
    outcome, _, _, elapsed = await run_cell("429_retry_after", OPERATIONS[operation])
    assert outcome is OK
    assert elapsed < 0.45  # the server's Retry-After (0.1 s), not the default 0.5 s pause


#: Where a write may or may not have been applied: timeout after send, 500/502/504, a
#: truncated 2xx, a proxy's 503, a 3xx; the idempotent write beside it must be retried.
AMBIGUITY = ["timeout", "500", "502", "504", "truncated", "gateway_503", "redirect"]
PROCESS_CASES = [(f, o) for f in AMBIGUITY for o in ("idempotent write", "non-idempotent write")]


@pytest.mark.parametrize(
    ("fault", "operation"),
    PROCESS_CASES,
    ids=[f"{f}-{o.replace(' ', '_')}" for f, o in PROCESS_CASES],
)
async def test_fault_matrix_with_the_sandbox_in_its_own_process(fault: str, operation: str) -> None:
    outcome, requests, applied, _ = await run_cell(fault, OPERATIONS[operation], process=True)
    assert (outcome, requests, applied) == MATRIX[fault][operation]


@pytest.mark.parametrize("operation", list(OPERATIONS))
async def test_connection_refused_is_retried_and_never_reaches_anyone(operation: str) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    st = StampedClient("pub", "key", "1", api_url=url, max_retries=2)
    sp = StampsClient("tok", api_url=url, store=1, max_retries=2)
    async with st, sp:
        with no_backoff(), pytest.raises(TransportError) as info:
            await OPERATIONS[operation].call(st, sp)
        assert info.value.sent is False
        assert st.stats.attempts + sp.stats.attempts == 3  # retried: provably not sent


async def keep_failing_on_a_budget() -> float:
    """Every answer a 503, a 1.5 s retry budget: the call gives up with a ServerError and
    nothing is awarded. Returns the seconds the call took."""
    async with Sandbox(customers=10, members=10, faults=[Fault("503")]) as sb:
        async with sb.stamps_client(retry_budget=1.5, max_retries=100, timeout=0.5) as sp:
            loop = asyncio.get_running_loop()
            started = loop.time()
            with pytest.raises(ServerError):
                # 100 retries with backoff would take minutes: a hang guard, not a timing.
                await asyncio.wait_for(sp.stamps.add(user=1, number_of_stamps=1), 60)
            elapsed = loop.time() - started
        assert len(await sb.awards()) == 0
    return elapsed


async def test_a_request_that_keeps_failing_gives_up() -> None:
    await keep_failing_on_a_budget()


@pytest.mark.timing
async def test_a_request_that_keeps_failing_gives_up_within_its_budget() -> None:
    assert await keep_failing_on_a_budget() < 1.5
