"""The suite's fake loop clock (``tests/_clock.py``): it jumps over waits, except while a
sandbox serves from a thread of this process in real time."""

from __future__ import annotations

import asyncio
import time

import pytest

from stampsync.sandbox import Sandbox
from tests._clock import FakeLoopTime


async def test_an_hour_of_sleep_takes_no_real_time(clock: FakeLoopTime) -> None:
    started, real = clock.now, time.monotonic()
    await asyncio.sleep(3600)
    assert clock.now - started >= 3600
    assert time.monotonic() - real < 5


@pytest.mark.stampsync_sandbox(faults=["latency:1:0.05@POST /api/stamps/add"])
async def test_a_thread_sandbox_answering_slowly_is_waited_for(
    stampsync_sandbox: Sandbox, clock: FakeLoopTime
) -> None:
    # CI once saw the clock jump to the client's 30 s timeout while the sandbox thread
    # was still answering: the award came back as an ambiguous write.
    async with stampsync_sandbox.stamps_client() as stamps:
        await stamps.stamps.add(user="member1@example.com", number_of_stamps=1)
    assert len(await stampsync_sandbox.awards()) == 1
