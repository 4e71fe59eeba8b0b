"""The connection slots every attempt takes (``stampsync._admission.Slots``)."""

from __future__ import annotations

import asyncio

from stampsync._admission import Slots


async def test_slots_are_taken_at_once_while_free_then_served_in_arrival_order() -> None:
    slots = Slots(2)
    assert slots.take_now()
    assert slots.take_now()
    assert not slots.take_now()
    served: list[int] = []

    async def waiter(n: int) -> None:
        await slots.take()
        served.append(n)

    tasks = [asyncio.create_task(waiter(n)) for n in range(3)]
    await asyncio.sleep(0)
    for _ in range(3):
        slots.give()
        await asyncio.sleep(0)
    await asyncio.gather(*tasks)
    assert served == [0, 1, 2]
    assert not slots.take_now()  # two held before, three handed on: still none free


async def test_a_waiter_cancelled_after_it_was_handed_a_slot_passes_it_on() -> None:
    """slot-lost-when-its-waiter-is-cancelled: the slot would vanish, and with two
    connections the client would then run on one, then none."""
    slots = Slots(1)
    assert slots.take_now()
    first = asyncio.create_task(slots.take())
    second = asyncio.create_task(slots.take())
    await asyncio.sleep(0)
    slots.give()  # handed to the first waiter...
    first.cancel()  # ...which is cancelled before it runs
    await asyncio.wait_for(second, 1)  # the slot went on to the second
    assert first.cancelled()
    slots.give()
    assert slots.take_now()  # and back to free once the second gave it back


async def test_a_waiter_cancelled_while_waiting_leaves_no_trace() -> None:
    slots = Slots(1)
    assert slots.take_now()
    waiting = asyncio.create_task(slots.take())
    await asyncio.sleep(0)
    waiting.cancel()
    await asyncio.sleep(0)
    slots.give()
    assert slots.take_now()  # not handed to the cancelled waiter
