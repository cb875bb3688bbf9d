"""The event buffer: bounded, in order per device, concurrent across devices."""

from __future__ import annotations

import asyncio

from roost_event_engine.ring import EventRing, Trigger


def trigger(key: str, n: int) -> Trigger:
    return Trigger("change", key=key, seq=n, ts="", device=key, changes={"v": {"value": n}})


async def test_one_device_at_a_time_in_order_and_devices_side_by_side() -> None:
    ring = EventRing(10)
    for key, n in (("a", 1), ("a", 2), ("b", 3), ("a", 4), ("c", 5)):
        assert ring.offer(trigger(key, n))
    first = await ring.take_many(10)
    assert [(t.key, t.seq) for t in first] == [("a", 1), ("b", 3), ("c", 5)]
    # a is busy: its next trigger waits until the first is done.
    waiting = asyncio.create_task(ring.take())
    await asyncio.sleep(0)
    assert not waiting.done()
    ring.done(first[0])
    assert (await waiting).seq == 2
    assert len(ring) == 4  # counted until done: waiting and running alike


async def test_full_ring_drops_what_cannot_wait_and_holds_back_what_can() -> None:
    ring = EventRing(2)
    assert ring.offer(trigger("a", 1)) and ring.offer(trigger("b", 2))
    assert not ring.offer(trigger("c", 3))
    assert ring.dropped == 1
    put = asyncio.create_task(ring.put(trigger("d", 4)))
    await asyncio.sleep(0)
    assert not put.done()
    taken = await ring.take()
    ring.done(taken)
    await put
    assert len(ring) == 2 and ring.accepted == 3
