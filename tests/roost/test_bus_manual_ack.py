"""Manual acknowledgement: a message is redelivered until its handler acknowledges it."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from roost.bus import Bus
from roost.message import Message
from roost.settings import RoostSettings

SESSION = 600


def _persistent(settings: RoostSettings, client_id: str, *, receive_maximum: int = 0) -> Bus:
    return Bus(
        settings.mqtt,
        client_id=client_id,
        clean_start=False,
        session_expiry=SESSION,
        reconnect=False,
        manual_ack=True,
        receive_maximum=receive_maximum or None,
    )


class Collector:
    """The messages a handler got; `wait(n)` returns once there are at least n."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self._arrived = asyncio.Event()

    def __call__(self, message: Message) -> None:
        self.messages.append(message)
        self._arrived.set()

    @property
    def payloads(self) -> list[bytes]:
        return [m.payload for m in self.messages]

    async def wait(self, count: int, timeout: float = 5.0) -> list[Message]:
        async def enough() -> None:
            while len(self.messages) < count:
                self._arrived.clear()
                await self._arrived.wait()

        await asyncio.wait_for(enough(), timeout)
        return self.messages


async def test_unacknowledged_messages_come_back_after_a_reconnect(
    roost_settings: RoostSettings, bus: Bus
) -> None:
    client_id = f"ack-{uuid.uuid4().hex[:8]}"
    topic = f"{roost_settings.mqtt.prefix}/ack/data"
    async with _persistent(roost_settings, client_id) as first:
        await first.subscribe(topic, lambda _: None, manual_ack=True)
    for n in range(5):
        await bus.publish(topic, str(n))

    second = _persistent(roost_settings, client_id)
    received = Collector()
    await second.subscribe(topic, received, manual_ack=True)
    async with second:
        got = list(await received.wait(5))
        assert received.payloads == [b"0", b"1", b"2", b"3", b"4"]
        assert all(second.ack(m) for m in got[:2])

    received.messages.clear()
    async with second:  # the same client again: a new connection, the same session
        again = await received.wait(3)
        await second.sync()
        assert received.payloads == [b"2", b"3", b"4"]
        # A packet id from the earlier connection may name another message now.
        assert not second.ack(got[2])
        assert all(second.ack(m) for m in again)


async def test_other_subscriptions_are_acknowledged_on_delivery(
    roost_settings: RoostSettings, bus: Bus
) -> None:
    client_id = f"ack-{uuid.uuid4().hex[:8]}"
    topic = f"{roost_settings.mqtt.prefix}/auto/data"
    async with _persistent(roost_settings, client_id) as first:
        await first.subscribe(topic, lambda _: None)
    await bus.publish(topic, "once")
    async with _persistent(roost_settings, client_id) as second:
        received = Collector()
        await second.subscribe(topic, received)
        await received.wait(1)
        assert received.payloads == [b"once"]
    async with _persistent(roost_settings, client_id) as third:
        later = Collector()
        await third.subscribe(topic, later)
        await bus.publish(topic, "later")
        await later.wait(1)
        assert later.payloads == [b"later"]  # "once" was acknowledged, not redelivered


async def test_receive_maximum_bounds_unacknowledged_messages(
    roost_settings: RoostSettings, bus: Bus
) -> None:
    client_id = f"ack-{uuid.uuid4().hex[:8]}"
    topic = f"{roost_settings.mqtt.prefix}/window/data"
    async with _persistent(roost_settings, client_id, receive_maximum=3) as first:
        received = Collector()
        await first.subscribe(topic, received, manual_ack=True)
        for n in range(6):
            bus.publish_nowait(topic, str(n))
        await bus.flush(5)
        got = await received.wait(3)
        # A QoS 0 marker is not held back by the window: the six were queued before it,
        # so when it arrives the broker has shown it keeps the rest back.
        marker = Collector()
        await first.subscribe(f"{topic}/marker", marker, qos=0)
        await bus.publish(f"{topic}/marker", "m", qos=0)
        await marker.wait(1)
        assert received.payloads == [b"0", b"1", b"2"]
        assert first.ack(got[0])
        await received.wait(4)
        assert received.payloads == [b"0", b"1", b"2", b"3"]


def test_manual_subscription_needs_a_manual_bus(roost_settings: RoostSettings) -> None:
    plain = Bus(roost_settings.mqtt)
    with pytest.raises(ValueError, match="manual_ack"):
        asyncio.run(plain.subscribe("x/y", lambda _: None, manual_ack=True))
