"""The worked examples of docs/services/event-engine.md, run as written."""

from __future__ import annotations

import re
import tomllib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest_asyncio

from roost.bus import Bus
from roost.models import DeviceMeta, PropertySpec
from roost.node import Node
from roost.settings import RoostSettings
from roost.testing import Watcher

from .conftest import StartEngine

DOC = Path(__file__).parents[2] / "docs" / "services" / "event-engine.md"
BLOCK = re.compile(r"```(toml|js)\n(.*?)```", re.S)
PATH = re.compile(r"^`([\w./-]+\.js)`")


def example(title: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The `[event_engine]` config and the scripts of one worked example."""
    section = DOC.read_text().split("## Worked examples", 1)[1].split("\n## ", 1)[0]
    part = next(p for p in section.split("\n### ")[1:] if p.startswith(title))
    config: dict[str, Any] = {}
    scripts: dict[str, str] = {}
    previous_end = 0
    for block in BLOCK.finditer(part):
        kind, body = block.groups()
        prose = part[previous_end : block.start()]
        previous_end = block.end()
        if kind == "toml":
            _merge(config, tomllib.loads(body).get("event_engine", {}))
            continue
        # The script's file is named at the start of the paragraph that introduces it.
        named = [m.group(1) for m in map(PATH.match, prose.splitlines()) if m]
        if named:
            scripts[named[-1]] = body
    return config, scripts


def _merge(into: dict[str, Any], more: dict[str, Any]) -> None:
    for key, value in more.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def switch(settable: bool = True) -> PropertySpec:
    return PropertySpec(kind="switch", settable=settable)


@pytest_asyncio.fixture
async def house(roost_settings: RoostSettings) -> AsyncIterator[dict[str, Node]]:
    """The devices the examples name, on nodes that own them as a bridge would."""
    bridge = Node(roost_settings, service="test", node_id="i2c-bridge")
    bridge.add_device(
        "bme280-76",
        DeviceMeta(name="BME280", properties={"temperature": PropertySpec(kind="number")}),
    ).update(temperature=21.0)
    bridge.add_device(
        "pca9685-40", DeviceMeta(name="PCA9685", properties={"ch1_on": switch()})
    ).update(ch1_on=False)
    bridge.add_device(
        "ezo-ph-63", DeviceMeta(name="EZO pH", properties={"ph": PropertySpec(kind="number")})
    ).update(ph=6.0)
    pump = DeviceMeta(
        name="EZO pump",
        properties={"dose_ml": PropertySpec(kind="number", min=0, max=50, settable=True)},
    )
    bridge.add_device("ezo-pmp-67", pump).update(dose_ml=0)
    zigbee = Node(roost_settings, service="test", node_id="zigbee")
    for lamp in ("lamp-sofa", "lamp-window", "porch-light"):
        zigbee.add_device(lamp, DeviceMeta(name=lamp, properties={"power": switch()})).update(
            power=False
        )
    detector = Node(roost_settings, service="test", node_id="detector")
    detector.add_device(
        "demo", DeviceMeta(name="demo", properties={"person": PropertySpec(kind="number")})
    ).update(person=0)
    async with bridge, zigbee, detector:
        for node in (bridge, zigbee, detector):
            await node.wait_online(5)
        yield {"i2c-bridge": bridge, "zigbee": zigbee, "detector": detector}


async def test_thermostat_with_a_dial_and_hysteresis(
    house: dict[str, Node], bus: Bus, start_engine: StartEngine
) -> None:
    config, scripts = example("A thermostat")
    assert set(scripts) == {"devices/thermostat.js", "devices/bme280-76.js"}
    run = await start_engine(scripts, **config)
    bridge = house["i2c-bridge"]
    air = bridge.devices["bme280-76"]
    heater = bridge.devices["pca9685-40"]
    t = bridge.topics
    heater_topic = t.state("i2c-bridge", "pca9685-40")
    async with Watcher(bus, heater_topic) as seen:
        air.update(temperature=18.0)
        await seen.wait_json(heater_topic, lambda s: s["ch1_on"] is True)
        air.update(temperature=20.2)  # inside the band: stays on
        await run.entry(lambda e: e.trigger.get("changes") == {"temperature": 20.2})
        assert heater.values["ch1_on"] is True
        air.update(temperature=20.6)
        await seen.wait_json(heater_topic, lambda s: s["ch1_on"] is False)
        state = t.state(run.id, "thermostat")
        async with Watcher(bus, state) as thermostat:
            await bus.publish(t.set(run.id, "thermostat"), {"target": 8})
            await thermostat.wait_json(state, lambda s: s["target"] == 12)
            await bus.publish(t.set(run.id, "thermostat", "target"), "40")
            await thermostat.wait_json(state, lambda s: s["target"] == 25)
        await seen.wait_json(heater_topic, lambda s: s["ch1_on"] is True)


async def test_a_group_of_lights(
    house: dict[str, Node], bus: Bus, start_engine: StartEngine
) -> None:
    config, scripts = example("A group of lights")
    assert set(scripts) == {"groups/living-room.js", "groups/house.js", "devices/lamp-sofa.js"}
    run = await start_engine(scripts, **config)
    zigbee = house["zigbee"]
    window = zigbee.topics.state("zigbee", "lamp-window")
    async with Watcher(bus, window) as seen:
        zigbee.devices["lamp-sofa"].update(power=True)  # someone switched it by hand
        await seen.wait_json(window, lambda s: s["power"] is True)
    entry = await run.entry(lambda e: e.trigger.get("device") == "zigbee/lamp-sofa")
    assert entry.functions == [
        "groups/living-room.js:onchange",
        "groups/house.js:onchange",
        "devices/lamp-sofa.js:power_onchange",
    ]
    assert ("devices/lamp-sofa.js", "off") in run.engine.timers.pending()
    mode = run.node.topics.state(run.id, "house-mode")
    async with Watcher(bus, mode) as seen:
        await bus.publish(run.node.topics.set(run.id, "house-mode"), {"holiday": True})
        await seen.wait_json(mode, lambda s: s["holiday"] is True)
    zigbee.devices["lamp-sofa"].update(power=False)
    entry = await run.entry(lambda e: e.stopped == "groups/house.js:onchange")
    assert "devices/lamp-sofa.js:power_onchange" not in entry.functions


async def test_a_pump_dosing_when_the_ph_drifts(
    house: dict[str, Node], bus: Bus, start_engine: StartEngine
) -> None:
    config, scripts = example("A pump dosing")
    run = await start_engine(scripts, **config)
    bridge = house["i2c-bridge"]
    pump = bridge.topics.set("i2c-bridge", "ezo-pmp-67")
    async with Watcher(bus, pump) as seen:
        bridge.devices["ezo-ph-63"].update(ph=6.6)
        command = await seen.wait_json(pump)
        assert command == {"dose_ml": 2}
        bridge.devices["ezo-ph-63"].update(ph=6.7)  # inside the repeat window: skipped
        await bridge.bus.flush()
        bridge.devices["ezo-ph-63"].update(ph=6.8)
        await bridge.bus.flush()
    dosed = [e for e in run.engine.runlog.entries() if e.sent]
    assert len(dosed) == 1


async def test_a_notification_on_a_person_detection(
    house: dict[str, Node], bus: Bus, start_engine: StartEngine
) -> None:
    config, scripts = example("A notification")
    run = await start_engine(scripts, **config)
    zigbee = house["zigbee"]
    porch = zigbee.topics.state("zigbee", "porch-light")
    async with Watcher(bus, porch) as seen, run.watcher("engine/event") as events:
        house["detector"].devices["demo"].emit(
            "person", {"label": "person", "score": 0.9, "camera": "camera/demo"}, phase="start"
        )
        note = await events.wait_json(
            run.node.topics.event(run.id, "engine"), lambda e: e["event_type"] == "notification"
        )
        await seen.wait_json(porch, lambda s: s["power"] is True)
    assert note["data"]["message"] == "Person at camera/demo (90 %)"
    assert ("devices/detector/demo.js", "lightOff") in run.engine.timers.pending()
