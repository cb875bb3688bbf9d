"""The managed connection: routing by subscription, matching, backoff, outbox."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from roost.backoff import Backoff
from roost.bus import Bus, topic_matches
from roost.message import Message
from roost.outbox import Outbox, Outgoing
from roost.settings import RoostSettings
from roost.testing.broker import MosquittoBroker
from roost.testing.plugin import settings_for


@pytest.mark.parametrize(
    ("topic_filter", "topic", "expected"),
    [
        ("a/+/c", "a/b/c", True),
        ("a/#", "a/b/c", True),
        ("a/#", "a", True),
        ("a/+", "a/b/c", False),
        ("#", "$SYS/x", False),
        ("$share/g/a/+", "a/b", True),
        ("a/b", "a/b/c", False),
    ],
)
def test_topic_matching(topic_filter: str, topic: str, expected: bool) -> None:
    assert topic_matches(topic_filter, topic) is expected


async def test_overlapping_subscriptions_each_get_a_message_once(bus: Bus) -> None:
    t = bus.topics
    wide: list[str] = []
    narrow: list[str] = []
    await bus.subscribe(f"{t.prefix}/#", lambda m: wide.append(m.topic))
    await bus.subscribe(t.state("n", "d"), lambda m: narrow.append(m.topic))
    await bus.publish(t.state("n", "d"), b"{}")
    await bus.publish(t.meta("n", "d"), b"{}")
    await bus.sync()
    assert narrow == [t.state("n", "d")]
    assert [x for x in wide if "/reply/" not in x] == [t.state("n", "d"), t.meta("n", "d")]


def test_stale_subscription_ids_fall_back_to_matching(roost_settings: RoostSettings) -> None:
    async def run() -> list[str]:
        bus = Bus(roost_settings.mqtt)
        got: list[str] = []
        await bus.subscribe("x/#", lambda m: got.append("x"))
        await bus.subscribe("y/#", lambda m: got.append("y"))
        # An id that belongs to another filter (an earlier process's session).
        bus.deliver(Message("y/1", b"", subscription_ids=(1,)))
        bus.deliver(Message("x/1", b"", subscription_ids=(1,)))
        return got

    assert asyncio.run(run()) == ["y", "x"]


def test_backoff_grows_to_its_cap_and_resets() -> None:
    backoff = Backoff(initial=1, maximum=8)
    delays = [backoff.next() for _ in range(6)]
    assert all(0.5 <= d <= 8 for d in delays)
    assert max(delays[4:]) > 2
    backoff.reset()
    assert backoff.next() <= 1


def test_outbox_coalesces_retained_and_bounds_transient() -> None:
    async def run() -> tuple[list[bytes], int]:
        box = Outbox(limit=2)
        box.put(Outgoing("s", b"1", retain=True))
        box.put(Outgoing("e", b"a"))
        box.put(Outgoing("s", b"2", retain=True))
        box.put(Outgoing("e", b"b"))
        assert not box.put(Outgoing("e", b"c"))
        return [(await box.get()).payload for _ in range(3)], box.dropped

    assert asyncio.run(run()) == ([b"2", b"a", b"b"], 1)


async def test_reconnects_after_each_loss_from_a_short_delay(
    own_mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    settings = settings_for(own_mosquitto, tmp_path)
    async with Bus(settings.mqtt) as bus:
        await bus.wait_connected(10)
        for round_ in range(3):
            own_mosquitto.restart()
            await bus.wait_connects(round_ + 2, timeout=20)
        assert bus._backoff.attempts == 0


async def test_disconnected_is_set_from_a_loss_until_the_next_connect(
    own_mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    settings = settings_for(own_mosquitto, tmp_path)
    async with Bus(settings.mqtt) as bus:
        await bus.wait_connected(10)
        assert not bus.disconnected.is_set()
        own_mosquitto.stop()
        await asyncio.wait_for(bus.disconnected.wait(), 10)
        assert not bus.connected.is_set()
        own_mosquitto.start()
        await bus.wait_connects(2, timeout=30)
        assert not bus.disconnected.is_set()
    assert bus.disconnected.is_set()
