"""The shipped examples, seeded into an empty data dir, drive a bridge's fan."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from roost.bus import Bus
from roost.models import DeviceMeta, PropertySpec
from roost.node import Node
from roost.settings import RoostSettings
from roost.testing import Watcher
from roost_event_engine.settings import demo_devices

from .conftest import StartEngine

BME280 = DeviceMeta(
    name="BME280",
    properties={
        "temperature": PropertySpec(kind="number", unit="°C"),
        "humidity": PropertySpec(kind="number", unit="%"),
    },
)
PCA9685 = DeviceMeta(
    name="PCA9685",
    properties={"ch0_duty": PropertySpec(kind="number", unit="%", min=0, max=100, settable=True)},
)


@pytest_asyncio.fixture
async def bridge(roost_settings: RoostSettings) -> AsyncIterator[Node]:
    """Stands in for the i2c-bridge's demo greenhouse: same node and device ids."""
    node = Node(roost_settings, service="test", node_id="i2c-bridge")
    node.add_device("bme280-76", BME280).update(temperature=21.0, humidity=60.0)
    node.add_device("pca9685-40", PCA9685).update(ch0_duty=0)
    async with node:
        await node.wait_online(5)
        yield node


async def test_the_example_fan_follows_the_temperature(
    bridge: Node, bus: Bus, start_engine: StartEngine
) -> None:
    run = await start_engine(scripts_dir=None, devices=demo_devices())
    assert (run.scripts / "devices/i2c-bridge/bme280-76.js").is_file()
    assert run.scripts == run.settings.node.data_dir / "event-engine" / "scripts"
    t = run.node.topics
    air = bridge.devices["bme280-76"]
    fan_state = t.state("i2c-bridge", "pca9685-40")
    async with Watcher(bus, fan_state) as fan:
        for temperature, duty in ((27.0, 50), (35.0, 100), (23.5, 5), (22.0, 0)):
            air.update(temperature=temperature)
            await fan.wait_json(fan_state, lambda s, d=duty: s["ch0_duty"] == d)
        # The climate dials steer it: a refused setting changes nothing.
        climate = t.state(run.id, "climate")
        async with Watcher(bus, climate) as dials:
            await bus.publish(t.set(run.id, "climate"), {"fan_start": 20})
            await run.entry(lambda e: e.trigger.get("changes") == {"fan_start": 20})
            # The new dial is in force once the engine reports it, not when the command
            # has passed its script: only then may the next reading count on it.
            await dials.wait_json(climate, lambda s: s["fan_start"] == 20)
        air.update(temperature=23.0)
        await fan.wait_json(fan_state, lambda s: s["ch0_duty"] == 30)
        await bus.publish(t.set(run.id, "climate"), {"auto": False})
        await fan.wait_json(fan_state, lambda s: s["ch0_duty"] == 0)
