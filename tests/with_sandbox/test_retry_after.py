"""Retry-After from a strict server in its own process: bounded by the caller's time."""

from __future__ import annotations

import asyncio
import time

import pytest

from stampsync.errors import RateLimitError
from stampsync.sandbox import Fault, Sandbox


async def an_hour_long_retry_after() -> tuple[float, float]:
    """A 429 asking for an hour, a 3 s retry budget: the call fails with the pause capped
    at max_retry_after, and so does the next (the shared pause outlasts its budget too),
    with nothing else sent. Returns the seconds each call took."""
    hour = Fault("429_retry_after", seconds=3600, times=1)
    async with Sandbox(process=True, customers=10, faults=[hour]) as sb:
        async with sb.stamped_client(retry_budget=3, throttle_limit=100) as client:
            # Hang guards (a call held for the 300 s pause would hit them), not timings.
            started = time.monotonic()
            with pytest.raises(RateLimitError) as first:
                await asyncio.wait_for(client.customers.get(1), 60)
            held_first = time.monotonic() - started
            assert first.value.retry_after == pytest.approx(300, abs=5)  # max_retry_after
            again = time.monotonic()
            with pytest.raises(RateLimitError):
                await asyncio.wait_for(client.customers.get(2), 60)
            held_again = time.monotonic() - again
        assert (await sb.counters())["arrivals"] == 1  # nothing else was sent
    return held_first, held_again


async def test_an_hour_long_retry_after_never_holds_a_call_past_its_budget() -> None:
    await an_hour_long_retry_after()


@pytest.mark.timing
async def test_an_hour_long_retry_after_fails_calls_within_their_budget() -> None:
    held_first, held_again = await an_hour_long_retry_after()
    assert held_first < 4  # the 3 s budget
    assert held_again < 1


async def test_after_max_retry_after_one_probe_goes_out_and_traffic_resumes() -> None:
    """An hour asked for, two seconds allowed: then the next call is sent, and served."""
    hour = Fault("429_retry_after", seconds=3600, times=1)
    async with Sandbox(process=True, customers=10, faults=[hour]) as sb:
        async with sb.stamped_client(
            retry_budget=1, max_retry_after=2, throttle_limit=100
        ) as client:
            started = time.monotonic()
            with pytest.raises(RateLimitError) as first:
                await client.customers.get(1)
            assert first.value.retry_after == pytest.approx(2, abs=0.1)
            await asyncio.sleep(max(0.0, 2.1 - (time.monotonic() - started)))
            assert (await client.customers.get(1)).id == 1  # the probe, answered
            await client.customers.get(2)  # and traffic resumes
        assert (await sb.counters())["arrivals"] == 3


@pytest.mark.parametrize("hint", [0.0, -1.0, float("nan")])
async def test_hostile_retry_after_values_never_retry_instantly(hint: float) -> None:
    hostile = Fault("429_retry_after", seconds=hint, times=1)
    async with Sandbox(process=True, customers=10, faults=[hostile]) as sb:
        async with sb.stamped_client(throttle_limit=100) as client:
            await client.customers.get(1)
        first, second = sorted(await sb.arrivals())
    assert second - first >= 0.4  # the default pause, not the hint's "now"
