"""The coordinator and the managers through the real broker: scanning, hot-plug, faults,
retained topics of chips that are gone."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from roost.bus import Bus
from roost.message import Message
from roost.settings import RoostSettings
from roost.testing import Watcher
from roost_i2c_bridge.drivers.sht31 import Sht31
from roost_i2c_bridge.sim.bme280 import SimBme280
from roost_i2c_bridge.sim.bus import Fault
from roost_i2c_bridge.sim.sht31 import SimSht31

from .conftest import running_bridge, section, watch

BME = {"type": "bme280", "address": 0x76}
SHT = {"type": "sht31", "address": 0x44}
PCA = {"type": "pca9685", "address": 0x40}


def is_(payload: bytes) -> Callable[[Message], bool]:
    return lambda m: m.payload == payload


def has_reading(prop: str) -> Callable[[Any], bool]:
    return lambda state: state.get(prop) is not None


async def test_first_scan_publishes_every_chip(roost_settings: RoostSettings, bus: Bus) -> None:
    t = bus.topics
    seen = await watch(bus, f"{t.prefix}/#")
    async with running_bridge(roost_settings, section(chips=[BME, SHT, PCA])) as bridge:
        node = bridge.node.id
        air = await seen.wait_json(t.state(node, "bme280-76"), has_reading("temperature"))
        assert set(air) == {"temperature", "humidity", "pressure", "ts"}
        await seen.wait_json(t.state(node, "sht31-44"), has_reading("humidity"))
        meta = await seen.wait_json(t.meta(node, "bme280-76"))
        assert meta["model"] == "BME280" and meta["manufacturer"] == "Bosch Sensortec"
        assert meta["name"] == "BME280 0x76"
        available = await seen.wait_for(topic=t.availability(node, "pca9685-40"))
        assert available.payload == b"online"
        bus_state = await seen.wait_json(t.state(node, "i2c-sim"), lambda s: s["chips"] == 3)
        assert bus_state["addresses"] == "0x40 0x44 0x76"
        info = await seen.wait_json(t.node_info(node), lambda i: "bme280-76" in i["devices"])
        assert {"scan", "forget", "sim_fault", "sim_world"} <= set(info["methods"])


async def test_a_chip_plugged_in_later_appears(roost_settings: RoostSettings, bus: Bus) -> None:
    t = bus.topics
    seen = await watch(bus, f"{t.prefix}/#")
    discovery = await watch(bus, f"{t.discovery_prefix}/#")
    async with running_bridge(roost_settings, section(chips=[BME], scan_interval=0.2)) as bridge:
        node = bridge.node.id
        await seen.wait_json(t.state(node, "bme280-76"), has_reading("temperature"))
        bridge.sim.attach(SimSht31(bridge.world, 0x44))  # plugged in while running
        state = await seen.wait_json(t.state(node, "sht31-44"), has_reading("temperature"))
        assert state["heater"] is False
        config = await discovery.wait_json(
            t.discovery("sensor", node, "sht31-44_temperature"), timeout=5
        )
        assert config["unique_id"] == f"roost_{node}_sht31-44_temperature"


async def test_a_vanished_chip_goes_offline_and_comes_back(
    roost_settings: RoostSettings, bus: Bus
) -> None:
    t = bus.topics
    seen = await watch(bus, f"{t.prefix}/#")
    async with running_bridge(roost_settings, section(chips=[BME, SHT])) as bridge:
        node = bridge.node.id
        availability = t.availability(node, "bme280-76")
        await seen.wait_json(t.state(node, "bme280-76"), has_reading("temperature"))
        mark = seen.mark()
        bridge.sim.unplug(0x76)
        await seen.wait_for(is_(b"offline"), topic=availability, since=mark)
        mark = seen.mark()
        bridge.sim.plug(0x76)
        await seen.wait_for(is_(b"online"), topic=availability, since=mark)
        await seen.wait_json(t.state(node, "bme280-76"), has_reading("temperature"), since=mark)


async def test_one_failing_chip_does_not_stop_the_others(
    roost_settings: RoostSettings, bus: Bus
) -> None:
    t = bus.topics
    seen = await watch(bus, f"{t.prefix}/#")
    async with running_bridge(roost_settings, section(chips=[BME, SHT, PCA])) as bridge:
        node = bridge.node.id
        await seen.wait_json(t.state(node, "sht31-44"), has_reading("temperature"))
        mark = seen.mark()
        bridge.sim.inject(0x76, Fault.NACK)  # the BME280 stops answering for good
        await seen.wait_for(is_(b"offline"), topic=t.availability(node, "bme280-76"), since=mark)
        offline = seen.mark()
        for _ in range(3):  # the SHT31 keeps publishing, sample after sample
            await seen.wait_json(
                t.state(node, "sht31-44"), has_reading("temperature"), since=offline
            )
            offline = seen.mark()
        await seen.wait_json(t.state(node, "pca9685-40"), since=offline)
        sht_availability = t.availability(node, "sht31-44")
        assert b"offline" not in [m.payload for m in seen.on(sht_availability)]
        # Commands to the dead chip's neighbours still work.
        await bus.publish(t.set(node, "pca9685-40", "ch2_duty"), "10")
        await seen.wait_json(t.state(node, "pca9685-40"), lambda s: s["ch2_duty"] == 10.0)
        bridge.sim.inject(0x76, Fault.NONE)
        await seen.wait_for(is_(b"online"), topic=t.availability(node, "bme280-76"), since=mark)


async def test_a_transient_fault_is_retried_quietly(
    roost_settings: RoostSettings, bus: Bus
) -> None:
    t = bus.topics
    seen = await watch(bus, f"{t.prefix}/#")
    async with running_bridge(roost_settings, section(chips=[SHT])) as bridge:
        node = bridge.node.id
        await seen.wait_json(t.state(node, "sht31-44"), has_reading("temperature"))
        manager = bridge.coordinator.buses[0].managers[0x44]
        before = manager.samples
        mark = seen.mark()
        # Two samples in a row fail (one hung transfer each): fewer than offline_after.
        bridge.sim.inject(0x44, Fault.TIMEOUT, count=2)
        await seen.wait_json(t.state(node, "sht31-44"), has_reading("temperature"), since=mark)
        await seen.wait_json(
            t.state(node, "sht31-44"), has_reading("temperature"), since=seen.mark()
        )
        assert manager.samples > before
        assert manager.failures == 0
        assert bridge.coordinator.buses[0].bus is not None
        assert bridge.coordinator.buses[0].bus.errors >= 2
        assert not [m for m in seen.messages[mark:] if m.payload == b"offline"]


async def test_a_command_to_an_offline_chip_is_refused(
    roost_settings: RoostSettings, bus: Bus
) -> None:
    t = bus.topics
    seen = await watch(bus, f"{t.prefix}/#")
    async with running_bridge(roost_settings, section(chips=[PCA])) as bridge:
        node = bridge.node.id
        bridge.sim.unplug(0x40)
        await seen.wait_for(is_(b"offline"), topic=t.availability(node, "pca9685-40"))
        await bus.publish(t.set(node, "pca9685-40", "ch0_duty"), "50")
        error = await seen.wait_json(t.error(node, "pca9685-40"))
        assert error["code"] == "unavailable"
        assert "not answering" in error["message"]


async def test_retained_topics_of_gone_chips_are_cleared(
    roost_settings: RoostSettings, bus: Bus
) -> None:
    t = bus.topics
    node = "i2c-bridge"
    # What an earlier run left: a chip that is still there, and one that is gone.
    for device in ("bme280-76", "bme280-77"):
        await bus.publish(t.meta(node, device), {"name": "old", "properties": {}}, retain=True)
        await bus.publish(t.state(node, device), {"temperature": 20.0}, retain=True)
        await bus.publish(t.availability(node, device), "online", retain=True)
    gone_config = t.discovery("sensor", node, "bme280-77_temperature")
    await bus.publish(gone_config, {"name": "old"}, retain=True)
    seen = await watch(bus, f"{t.prefix}/#")
    discovery = await watch(bus, f"{t.discovery_prefix}/#")
    async with running_bridge(roost_settings, section(chips=[BME])) as bridge:
        assert bridge.node.id == node
        for topic in (t.meta(node, "bme280-77"), t.state(node, "bme280-77")):
            await seen.wait_for(is_(b""), topic=topic)
        await discovery.wait_for(is_(b""), topic=gone_config)
        await seen.wait_json(t.state(node, "bme280-76"), has_reading("temperature"))
    cleared: list[Message] = [m for m in seen.messages if not m.payload]
    assert all("bme280-76" not in m.topic for m in cleared)  # the chip still there kept its own


async def test_scan_and_forget_methods(roost_settings: RoostSettings, bus: Bus) -> None:
    t = bus.topics
    seen: Watcher = await watch(bus, f"{t.prefix}/#")
    async with running_bridge(roost_settings, section(chips=[BME, SHT])) as bridge:
        node = bridge.node.id
        bridge.sim.attach(SimSht31(bridge.world, 0x45))
        response = await bus.request(node, "scan", {})
        assert response.ok, response
        assert response.data == {
            "sim": {
                "devices": {"0x44": "sht31-44", "0x45": "sht31-45", "0x76": "bme280-76"},
                "unknown": [],
                "open": True,
            }
        }
        refused = await bus.request(node, "forget", {"device": "sht31-45"})
        assert not refused.ok and refused.error is not None and "online" in refused.error.message
        bridge.sim.unplug(0x45)
        await seen.wait_for(is_(b"offline"), topic=t.availability(node, "sht31-45"))
        forgotten = await bus.request(node, "forget", {"device": "sht31-45"})
        assert forgotten.ok and forgotten.data == {"forgotten": "sht31-45"}
        await seen.wait_for(is_(b""), topic=t.meta(node, "sht31-45"))
        unknown = await bus.request(node, "forget", {"device": "nope"})
        assert not unknown.ok and unknown.error is not None
        assert unknown.error.code == "unknown_device"


async def test_simulator_methods(roost_settings: RoostSettings, bus: Bus) -> None:
    t = bus.topics
    seen = await watch(bus, f"{t.prefix}/#")
    i2c = section(chips=[BME], world={"time_of_day": "18:30"})
    async with running_bridge(roost_settings, i2c) as bridge:
        node = bridge.node.id
        response = await bus.request(node, "sim_world", {"pin": {"air.temperature": 31.5}})
        assert response.ok and response.data["air"]["temperature"] == 31.5  # type: ignore[index, call-overload]
        # The world's own time of day: it started at 18:30 and runs at real speed.
        assert "18:30:00" <= response.data["time_of_day"] < "19:30:00"  # type: ignore[index, call-overload, operator]
        await seen.wait_json(t.state(node, "bme280-76"), lambda s: s["temperature"] == 31.5)
        fault = await bus.request(node, "sim_fault", {"address": "0x76", "fault": "nack"})
        assert fault.ok, fault
        await seen.wait_for(is_(b"offline"), topic=t.availability(node, "bme280-76"))
        await bus.request(node, "sim_fault", {"address": 0x76, "fault": "none"})
        await seen.wait_for(
            is_(b"online"), topic=t.availability(node, "bme280-76"), since=seen.mark()
        )
        bad = await bus.request(node, "sim_world", {"pin": {"moon.phase": 1}})
        assert not bad.ok and bad.error is not None and bad.error.code == "invalid_params"
        bad = await bus.request(node, "sim_fault", {"address": 0x10, "fault": "unplug"})
        assert not bad.ok


async def test_concurrent_scans_find_a_new_chip_once(roost_settings: RoostSettings) -> None:
    async with running_bridge(roost_settings, section(chips=[BME])) as bridge:
        bridge.sim.attach(SimBme280(bridge.world, 0x77))
        state = bridge.coordinator.buses[0]
        await asyncio.gather(*(bridge.coordinator.scan(state) for _ in range(3)))
        assert sorted(bridge.node.devices) == ["bme280-76", "bme280-77", "i2c-sim"]


async def test_a_pinned_driver_is_trusted(
    roost_settings: RoostSettings, bus: Bus, caplog: pytest.LogCaptureFixture
) -> None:
    """Pinned to the wrong driver, a chip is driven as told (and the log says so)."""
    t = bus.topics
    seen = await watch(bus, f"{t.prefix}/#")
    devices = [{"address": 0x76, "driver": "bmp280", "id": "air"}]
    async with running_bridge(roost_settings, section(chips=[BME], devices=devices)) as bridge:
        state = await seen.wait_json(t.state(bridge.node.id, "air"), has_reading("pressure"))
        assert "humidity" not in state
    assert "pinned to bmp280 but does not identify as one" in caplog.text


async def test_a_driver_bug_costs_one_device(
    roost_settings: RoostSettings, bus: Bus, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(self: Sht31) -> dict[str, object]:
        raise IndexError("a parsing bug")

    monkeypatch.setattr(Sht31, "sample", broken)
    t = bus.topics
    seen = await watch(bus, f"{t.prefix}/#")
    async with running_bridge(roost_settings, section(chips=[BME, SHT])) as bridge:
        node = bridge.node.id
        await seen.wait_for(is_(b"offline"), topic=t.availability(node, "sht31-44"))
        mark = seen.mark()
        await seen.wait_json(t.state(node, "bme280-76"), has_reading("temperature"), since=mark)


async def test_a_bus_that_cannot_be_opened_is_shown_offline(
    roost_settings: RoostSettings, bus: Bus, caplog: pytest.LogCaptureFixture
) -> None:
    """/dev/i2c-99 does not exist here: that bus is offline, the simulated one runs on."""
    t = bus.topics
    seen = await watch(bus, f"{t.prefix}/#")
    async with running_bridge(roost_settings, section(chips=[BME], buses=["sim", 99])) as bridge:
        node = bridge.node.id
        await seen.wait_for(is_(b"offline"), topic=t.availability(node, "i2c-99"))
        await seen.wait_json(t.state(node, "bme280-76"), has_reading("temperature"))
        response = await bus.request(node, "scan", {"bus": "99"})
        assert response.ok
        assert response.data == {
            "99": {
                "devices": {},
                "unknown": [],
                "open": False,
                "error": "cannot open /dev/i2c-99: No such file or directory",
            }
        }
    assert caplog.text.count("cannot open /dev/i2c-99") == 1  # said once, not every scan
