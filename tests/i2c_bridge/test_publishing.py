"""When readings go out: past their deadband at once, otherwise at the live interval; with
no live interval, only on change. Counted in samples, not seconds."""

from __future__ import annotations

import asyncio

from roost.bus import Bus
from roost.settings import RoostSettings
from roost.testing import Watcher

from .conftest import Bridge, running_bridge, section, watch

BME = [{"type": "bme280", "address": 0x76}]
# Temperature to two decimals with a 0.5 °C deadband: a 0.2 °C move is not worth a message.
DEVICE = {"address": 0x76, "deadband": {"temperature": 0.5}, "precision": {"temperature": 2}}


async def samples(bridge: Bridge, count: int) -> None:
    """Wait until the BME280's manager has taken `count` more samples."""
    manager = bridge.coordinator.buses[0].managers[0x76]
    target = manager.samples + count
    for _ in range(1000):
        if manager.samples >= target:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the manager took {manager.samples - target + count} of {count} samples")


def states(seen: Watcher, topic: str, since: int) -> list[float]:
    return [m.json()["temperature"] for m in seen.messages[since:] if m.topic == topic]


async def test_on_change_only(roost_settings: RoostSettings, bus: Bus) -> None:
    t = bus.topics
    seen = await watch(bus, f"{t.prefix}/#")
    i2c = section(chips=BME, devices=[DEVICE], interval=0.05, live_interval=0)
    async with running_bridge(roost_settings, i2c) as bridge:
        topic = t.state(bridge.node.id, "bme280-76")
        # 40 °C: far from any greenhouse air the bridge may have published at start.
        bridge.world.pin("air.temperature", 40.0)
        await seen.wait_json(topic, lambda s: s["temperature"] == 40.0)
        mark = seen.mark()
        await samples(bridge, 10)
        assert states(seen, topic, mark) == []  # unchanged: nothing to say
        bridge.world.pin("air.temperature", 40.2)
        await samples(bridge, 10)
        assert states(seen, topic, mark) == []  # within the deadband
        bridge.world.pin("air.temperature", 40.7)
        await seen.wait_json(topic, lambda s: s["temperature"] == 40.7, since=mark)
        await samples(bridge, 3)
        assert states(seen, topic, mark) == [40.7]  # one message for one change


async def test_live_interval_repeats_unchanged_readings(
    roost_settings: RoostSettings, bus: Bus
) -> None:
    t = bus.topics
    seen = await watch(bus, f"{t.prefix}/#")
    i2c = section(chips=BME, devices=[DEVICE], interval=0.02, live_interval=0.4)
    async with running_bridge(roost_settings, i2c) as bridge:
        topic = t.state(bridge.node.id, "bme280-76")
        bridge.world.pin("air.temperature", 40.0)
        await seen.wait_json(topic, lambda s: s["temperature"] == 40.0)
        mark = seen.mark()
        await samples(bridge, 40)  # two live intervals' worth, if the machine keeps up
        repeated = states(seen, topic, mark)
        assert 1 <= len(repeated) <= 20  # at the live interval, not at every sample
        assert set(repeated) == {40.0}
        stamps = [m.json()["ts"] for m in seen.messages[mark:] if m.topic == topic]
        assert len(set(stamps)) == len(stamps)  # each a fresh reading
