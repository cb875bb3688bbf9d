"""The client side of a command (roost.client): prepared against the device's meta, sent
with an id, settled by exactly one verdict — the owner's ack with what it applied, its
error, a press, a state that shows the change (owners that never ack), or silence."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest
import pytest_asyncio
from pydantic import JsonValue

from roost.bus import Bus
from roost.client import CommandTracker, prepare_command
from roost.device import Device
from roost.errors import CommandError, ErrorCode
from roost.message import Message
from roost.mirror import DeviceView, StateView
from roost.models import DeviceMeta, PropertySpec
from roost.node import Node
from roost.settings import RoostSettings
from roost.testing import Watcher

from .nodes import FAN

DIMMER = DeviceMeta(
    name="Dimmer",
    properties={
        "level": PropertySpec(kind="number", unit="%", min=0, max=100, step=1, settable=True),
        "watts": PropertySpec(kind="number", unit="W"),
    },
)


class ForeignOwner:
    """An owner that speaks the contract but never acks (a Node-RED flow, an ESP32): it
    publishes its state after a command, `offset` away from what was asked."""

    def __init__(self, bus: Bus, offset: int = 0) -> None:
        self.bus = bus
        self.offset = offset
        self.level = 10

    async def start(self) -> None:
        t = self.bus.topics
        await self.bus.publish(t.meta("esp", "dimmer"), DIMMER.wire(), retain=True)
        await self.bus.publish(t.node_availability("esp"), "online", retain=True)
        await self.bus.publish(t.availability("esp", "dimmer"), "online", retain=True)
        await self._publish_state()
        await self.bus.subscribe(t.set("esp", "dimmer"), self._on_set)

    async def _publish_state(self) -> None:
        state = {"level": self.level, "watts": self.level * 0.6}
        self.bus.publish_nowait(self.bus.topics.state("esp", "dimmer"), state, retain=True)

    def _on_set(self, message: Message) -> None:
        body = message.json()
        self.level = int(body["level"]) + self.offset
        state = {"level": self.level, "watts": self.level * 0.6}
        self.bus.publish_nowait(self.bus.topics.state("esp", "dimmer"), state, retain=True)


@pytest_asyncio.fixture
async def view(bus: Bus) -> AsyncIterator[StateView]:
    mirror = StateView(bus.topics)
    await mirror.attach(bus)
    yield mirror
    await mirror.detach()


async def tracker_for(bus: Bus, view: StateView, timeout: float = 5.0) -> CommandTracker:
    tracker = CommandTracker(bus, lambda: view, timeout)
    view.add_listener(tracker.on_change)
    await bus.sync()
    return tracker


async def test_an_owner_that_acks_is_believed_with_what_it_applied(
    roost_settings: RoostSettings, bus: Bus, view: StateView
) -> None:
    async def prescaler(device: Device, values: dict[str, JsonValue]) -> Mapping[str, JsonValue]:
        duty = values.get("duty")
        return {**values, "duty": 17} if duty == 20 else values

    node = Node(roost_settings, service="test", node_id="n1")
    node.add_device("fan", FAN, on_set=prescaler).update(duty=0)
    async with node:
        await node.wait_online(5)
        tracker = await tracker_for(bus, view)
        fan = view.device("n1/fan")
        verdict = await tracker.send(fan, {"duty": 20, "power": "on"})
        assert verdict.status == "ok", verdict
        assert verdict.by == "ack"
        assert verdict.applied == {"duty": 17, "power": True}
        assert verdict.adjusted == {"duty": 17}
        assert verdict.state["duty"] == 17
        assert verdict.id is not None
        same = await tracker.send(fan, {"duty": 30})
        assert same.status == "ok" and same.applied == {"duty": 30} and same.adjusted == {}
        pressed = await tracker.send(fan, {"reset": "PRESS"})
        assert pressed.status == "ok" and pressed.by in ("press", "ack")


async def test_an_owner_that_never_acks_gets_a_verdict_from_its_state(
    bus: Bus, view: StateView
) -> None:
    await ForeignOwner(bus).start()
    tracker = await tracker_for(bus, view)
    dimmer = view.device("esp/dimmer")
    verdict = await tracker.send(dimmer, {"level": "40"})
    assert verdict.status == "ok", verdict
    assert verdict.by == "state"
    assert verdict.applied == {"level": 40}
    assert verdict.state["watts"] == pytest.approx(24.0)


async def test_a_state_that_does_not_show_the_change_is_no_success(
    bus: Bus, view: StateView
) -> None:
    await ForeignOwner(bus, offset=5).start()
    tracker = await tracker_for(bus, view, timeout=0.5)
    verdict = await tracker.send(view.device("esp/dimmer"), {"level": 40})
    assert verdict.status == "timeout"
    assert verdict.error is not None
    assert verdict.error.message == (
        "esp/dimmer did not take the change within 0.5 s: it reports level=45"
    )


async def test_the_owners_error_settles_the_command(
    roost_settings: RoostSettings, bus: Bus, view: StateView
) -> None:
    async def chip(device: Device, values: dict[str, JsonValue]) -> Mapping[str, JsonValue]:
        if values.get("label") == "fail":
            raise CommandError(ErrorCode.FAILED, "the chip did not answer", prop="label")
        return values

    node = Node(roost_settings, service="test", node_id="n1")
    node.add_device("fan", FAN, on_set=chip)
    async with node:
        await node.wait_online(5)
        tracker = await tracker_for(bus, view)
        refused = await tracker.send(view.device("n1/fan"), {"label": "fail"})
        assert (refused.status, refused.by) == ("rejected", "error")
        assert refused.error is not None
        assert (refused.error.code, refused.error.prop) == ("failed", "label")
        assert refused.error.message == "the chip did not answer"
        # out of range on a property that rejects: refused here, before anything is sent
        sets = await Watcher(bus, bus.topics.set("n1", "fan")).start()
        local = await tracker.send(view.device("n1/fan"), {"dose_ml": 80})
        assert (local.status, local.by, local.id) == ("rejected", "local", None)
        assert local.error is not None and local.error.code == "out_of_range"
        await bus.sync()
        assert sets.messages == []


@pytest.mark.parametrize(
    ("values", "code"),
    [
        ({"speed": 3}, "unknown_property"),
        ({"id": "x"}, "unknown_property"),
        ({"rpm": 1200}, "not_settable"),
        ({"duty": "fast"}, "invalid_value"),
        ({"mode": "turbo"}, "invalid_option"),
        ({"label": "x" * 17}, "too_long"),
        ({}, "invalid_command"),
    ],
)
def test_prepare_refuses_what_the_owner_would(values: dict[str, Any], code: str) -> None:
    with pytest.raises(CommandError) as refused:
        prepare_command(DeviceView("n1", "fan", FAN), values)
    assert refused.value.code == code


def test_prepare_coerces_as_the_owner_does() -> None:
    prepared = prepare_command(
        DeviceView("n1", "fan", FAN), {"duty": "41.6", "power": "on", "reset": "PRESS"}
    )
    assert prepared.values == {"duty": 42, "power": True, "reset": True}
    assert prepared.expected == {"duty": 42, "power": True}
    assert prepared.buttons == ["reset"]
