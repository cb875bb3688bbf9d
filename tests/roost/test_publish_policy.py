"""Push on change, rarely: deadband, minimum interval, heartbeat; HA's birth message."""

from __future__ import annotations

from roost.bus import Bus
from roost.models import DeviceMeta, PropertySpec
from roost.node import Node
from roost.settings import RoostSettings
from roost.testing import Watcher

from .nodes import FAN


async def test_deadband_holds_back_small_changes(roost_settings: RoostSettings, bus: Bus) -> None:
    node = Node(roost_settings, service="test", node_id="n1")
    fan = node.add_device("fan", FAN)  # rpm: deadband 50
    topic = node.topics.state("n1", "fan")
    states = await Watcher(bus, topic).start()
    async with node:
        await node.wait_online(5)
        # (value, whether it is published): 50 away from the last *published* value counts.
        steps = [
            (1000, True),
            (1020, False),
            (1049, False),
            (1050, True),
            (1010, False),
            (990, True),
        ]
        for value, expected in steps:
            mark = states.mark()
            assert fan.update(rpm=value) is expected, value
            if expected:
                await states.wait_json(topic, lambda s, v=value: s["rpm"] == v, since=mark)
        fan.update(duty=1)  # a change elsewhere publishes the whole state, newest rpm included
        final = await states.wait_json(topic, lambda s: s["duty"] == 1)
        assert final["rpm"] == 990
    published = [m.json()["rpm"] for m in states.messages if m.payload]
    assert [v for v in published if v is not None] == [1000, 1050, 990, 990]


async def test_values_below_the_deadband_ride_along_with_other_changes(
    roost_settings: RoostSettings, bus: Bus
) -> None:
    node = Node(roost_settings, service="test", node_id="n1")
    fan = node.add_device("fan", FAN)
    states = await Watcher(bus, node.topics.state("n1", "fan")).start()
    async with node:
        await node.wait_online(5)
        fan.update(rpm=1000)
        fan.update(rpm=1010)
        fan.update(duty=5)  # publishes the whole state, with the newest rpm
        state = await states.wait_json(node.topics.state("n1", "fan"), lambda s: s["duty"] == 5)
        assert state["rpm"] == 1010


async def test_min_interval_delays_but_never_loses_the_last_change(
    roost_settings: RoostSettings, bus: Bus
) -> None:
    node = Node(roost_settings, service="test", node_id="n1")
    fan = node.add_device("fan", FAN)  # temperature: deadband 0.5, min_interval 0.3 s
    topic = node.topics.state("n1", "fan")
    states = await Watcher(bus, topic).start()
    async with node:
        await node.wait_online(5)
        assert fan.update(temperature=20.0)
        assert not fan.update(temperature=21.0)  # significant, but inside the interval
        assert not fan.update(temperature=22.0)
        held = await states.wait_json(topic, lambda s: s["temperature"] == 22.0)
        assert held["temperature"] == 22.0
    temps = [m.json()["temperature"] for m in states.messages if m.payload]
    assert [v for v in temps if v is not None] == [20.0, 22.0]


async def test_precision_rounds_and_nan_is_unknown(roost_settings: RoostSettings, bus: Bus) -> None:
    node = Node(roost_settings, service="test", node_id="n1")
    fan = node.add_device("fan", FAN)
    topic = node.topics.state("n1", "fan")
    states = await Watcher(bus, topic).start()
    async with node:
        await node.wait_online(5)
        fan.update(temperature=21.2649, rpm=float("nan"))
        state = await states.wait_json(topic, lambda s: s["temperature"] is not None)
        assert state["temperature"] == 21.3
        assert state["rpm"] is None


async def test_heartbeat_republishes_unchanged_state(
    roost_settings: RoostSettings, bus: Bus
) -> None:
    meta = DeviceMeta(name="Beat", properties={"v": PropertySpec(kind="number")})
    node = Node(roost_settings, service="test", node_id="n1")
    beat = node.add_device("beat", meta, heartbeat=0.2)
    topic = node.topics.state("n1", "beat")
    states = await Watcher(bus, topic).start()
    async with node:
        await node.wait_online(5)
        beat.update(v=1)
        first = await states.wait_for(lambda m: m.json()["v"] == 1, topic=topic)
        since = states.messages.index(first) + 1
        again = await states.wait_json(topic, lambda s: s["v"] == 1, since=since)
        assert again["ts"] == first.json()["ts"]  # the same reading, re-published


async def test_ha_birth_republishes_discovery_and_availability(
    roost_settings: RoostSettings, bus: Bus
) -> None:
    node = Node(roost_settings, service="test", node_id="n1")
    node.add_device("fan", FAN)
    t = node.topics
    disc = await Watcher(bus, f"{t.discovery_prefix}/+/n1/#").start()
    avail = await Watcher(bus, t.availability("n1", "fan")).start()
    async with node:
        await node.wait_online(5)
        await node.bus.flush(5)
        disc_mark, avail_mark = disc.mark(), avail.mark()
        await bus.publish(t.ha_status(), "offline")  # ignored
        await bus.publish(t.ha_status(), "online")
        config = await disc.wait_for(topic=t.discovery("number", "n1", "fan_duty"), since=disc_mark)
        assert config.json()["unique_id"] == "roost_n1_fan_duty"
        again = await avail.wait_for(topic=t.availability("n1", "fan"), since=avail_mark)
        assert again.payload == b"online"


async def test_device_availability_follows_the_hardware(
    roost_settings: RoostSettings, bus: Bus
) -> None:
    node = Node(roost_settings, service="test", node_id="n1")
    fan = node.add_device("fan", FAN)
    topic = node.topics.availability("n1", "fan")
    avail = await Watcher(bus, topic).start()
    async with node:
        await node.wait_online(5)
        fan.set_available(False)
        await avail.wait_for(lambda m: m.payload == b"offline", topic=topic)
        fan.set_available(True)
        await avail.wait_for(lambda m: m.payload == b"online", topic=topic, since=avail.mark() - 0)
