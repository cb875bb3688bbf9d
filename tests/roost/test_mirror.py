"""The state mirror: everything retained, kept current, with change notifications."""

from __future__ import annotations

import pytest

from roost.bus import Bus
from roost.mirror import ChangeKind, StateView
from roost.node import Node
from roost.settings import RoostSettings

from .nodes import FAN


async def test_mirror_holds_the_retained_snapshot_and_follows_changes(
    roost_settings: RoostSettings, bus: Bus
) -> None:
    node = Node(roost_settings, service="test", node_id="n1")
    fan = node.add_device("fan", FAN)
    fan.update(duty=5)
    async with node:
        await node.wait_online(5)
        await node.bus.flush(5)
        view = StateView(bus.topics)
        await view.attach(bus)
        await bus.sync()
        device = view.device("n1/fan")
        assert device.meta is not None
        assert device.meta.name == "Fan"
        assert device.state["duty"] == 5
        assert view.online(device)
        assert view.nodes["n1"].info is not None
        async with view.changes() as queue:
            fan.update(duty=6, power=True)
            change = await queue.get()
            while change.kind is not ChangeKind.STATE:
                change = await queue.get()
            assert change.ref == "n1/fan"
            assert change.changed == {"duty": (5, 6), "power": (None, True)}
            assert not change.retained
            fan.emit("stall", {"rpm": 0})
            change = await queue.get()
            while change.kind is not ChangeKind.EVENT:
                change = await queue.get()
            assert change.event is not None
            assert change.event.event_type == "stall"
            await node.remove_device("fan")
            change = await queue.get()
            while change.kind is not ChangeKind.REMOVED:
                change = await queue.get()
        assert "fan" not in view.nodes["n1"].devices
    await bus.sync()
    assert view.nodes["n1"].online is False
    assert view.nodes["n1"].info is not None
    assert view.nodes["n1"].info.state == "stopped"


async def test_lookup_by_id_alone_and_ambiguity(roost_settings: RoostSettings, bus: Bus) -> None:
    one = Node(roost_settings, service="test", node_id="n1")
    two = Node(roost_settings, service="test", node_id="n2")
    one.add_device("fan", FAN)
    one.add_device("pump", FAN)
    two.add_device("fan", FAN)
    async with one, two:
        await one.wait_online(5)
        await two.wait_online(5)
        view = StateView(bus.topics)
        await view.attach(bus)
        await bus.sync()
        assert view.device("pump").ref == "n1/pump"
        with pytest.raises(KeyError, match="ambiguous"):
            view.device("fan")
        with pytest.raises(KeyError, match="no device"):
            view.device("n3/fan")


async def test_malformed_foreign_payloads_are_counted_not_fatal(
    roost_settings: RoostSettings, bus: Bus
) -> None:
    t = bus.topics
    view = StateView(t)
    await view.attach(bus)
    await bus.publish(t.meta("foreign", "thing"), {"name": "Thing"}, retain=True)
    await bus.publish(t.meta("foreign", "thing"), b"{not json")
    await bus.publish(t.state("foreign", "thing"), b"[1, 2]")
    await bus.publish(t.node_info("foreign"), b'{"service": 1}')
    await bus.publish(t.state("foreign", "thing"), b'{"ok": true}')
    await bus.sync()
    assert view.invalid == 3
    assert view.device("foreign/thing").state == {"ok": True}


async def test_only_a_meta_makes_a_device(roost_settings: RoostSettings, bus: Bus) -> None:
    """An error, a state, an availability or an event on a device id that has no meta (a
    command to a device that does not exist, a half-written foreign node) is no device."""
    t = bus.topics
    view = StateView(t)
    await view.attach(bus)
    error = {"code": "unknown_device", "message": "no ticker", "ts": "2026-12-02T03:00:00.000Z"}
    await bus.publish(t.error("supervisor", "ticker"), error)
    await bus.publish(t.state("supervisor", "ticker"), {"x": 1})
    await bus.publish(t.availability("supervisor", "ticker"), "offline")
    await bus.publish(t.ack("supervisor", "ticker"), {"id": "a", "applied": {}, "ts": "x"})
    await bus.sync()
    assert list(view.devices()) == []
    with pytest.raises(KeyError):
        view.device("supervisor/ticker")
    await bus.publish(t.meta("supervisor", "ticker"), {"name": "Ticker"}, retain=True)
    await bus.publish(t.state("supervisor", "ticker"), {"x": 2})
    await bus.sync()
    assert view.device("supervisor/ticker").state == {"x": 2}
    await bus.publish(t.meta("supervisor", "ticker"), b"", retain=True)


async def test_huge_and_non_json_states_are_refused_not_held(
    roost_settings: RoostSettings, bus: Bus
) -> None:
    """Every consumer (web UI, event engine, CLI) holds what its mirror holds: a peer's
    3 MB state was kept and sent to every page; NaN is not JSON."""
    t = bus.topics
    view = StateView(t, max_payload=4096)
    await view.attach(bus)
    await bus.publish(t.meta("foreign", "thing"), {"name": "Thing"}, retain=True)
    await bus.publish(t.state("foreign", "thing"), b'{"ok": true}')
    await bus.publish(t.state("foreign", "thing"), b'{"blob": "' + b"x" * 5000 + b'"}')
    await bus.publish(t.state("foreign", "thing"), b'{"level": NaN}')
    await bus.publish(t.meta("foreign", "thing"), b'{"name": "' + b"x" * 5000 + b'"}')
    await bus.sync()
    assert view.invalid == 3
    assert view.device("foreign/thing").state == {"ok": True}
    meta = view.device("foreign/thing").meta
    assert meta is not None and meta.name == "Thing"
    await bus.publish(t.meta("foreign", "thing"), b"", retain=True)
