"""Home Assistant discovery for every driver: one entity per property, the right component,
and units, device classes and state classes Home Assistant accepts together."""

from __future__ import annotations

from typing import Any

import pytest

from roost.bus import Bus
from roost.settings import RoostSettings
from roost_i2c_bridge.drivers import DRIVERS

from .conftest import running_bridge, section, watch

ALL_CHIPS = [
    {"type": "bme280", "address": 0x76},
    {"type": "bmp280", "address": 0x77},
    {"type": "sht31", "address": 0x44},
    {"type": "ads1115", "address": 0x48},
    {"type": "pca9685", "address": 0x40},
    {"type": "mcp23017", "address": 0x20},
    {"type": "ezo-ph", "address": 0x63},
    {"type": "ezo-ec", "address": 0x64},
    {"type": "ezo-do", "address": 0x61},
    {"type": "ezo-orp", "address": 0x62},
    {"type": "ezo-rtd", "address": 0x66},
    {"type": "ezo-pmp", "address": 0x67},
]
DEVICES = [
    {
        "address": 0x20,
        "driver": "mcp23017",
        "options": {"pins": {"a0": {"mode": "output"}, "b7": {}}},
    },
    {
        "address": 0x48,
        "options": {
            "channels": {0: {"unit": "%", "device_class": "moisture", "name": "Soil"}},
        },
    },
]

# What Home Assistant's sensor platform accepts (homeassistant/components/sensor/const.py).
UNITS: dict[str, set[str | None]] = {
    "temperature": {"°C", "°F", "K"},
    "humidity": {"%"},
    "atmospheric_pressure": {"cbar", "bar", "hPa", "mmHg", "inHg", "kPa", "mbar", "Pa", "psi"},
    "ph": {None},
    "conductivity": {"S/cm", "µS/cm", "mS/cm"},
    "voltage": {"V", "mV", "µV", "kV", "MV"},
    "volume": {"L", "mL", "gal", "fl. oz.", "m³", "ft³", "CCF"},
    "frequency": {"Hz", "kHz", "MHz", "GHz"},
    "moisture": {"%"},
}
STATE_CLASSES = {"volume": {"total", "total_increasing"}}


@pytest.mark.usefixtures("fast_ezo")
async def test_every_driver_has_discovery(roost_settings: RoostSettings, bus: Bus) -> None:
    t = bus.topics
    configs = await watch(bus, f"{t.discovery_prefix}/#")
    seen = await watch(bus, f"{t.prefix}/#")
    i2c = section(chips=ALL_CHIPS, devices=DEVICES, interval=1.0)
    async with running_bridge(roost_settings, i2c) as bridge:
        node = bridge.node.id
        info = await seen.wait_json(
            t.node_info(node), lambda i: len(i["devices"]) == len(ALL_CHIPS) + 1, timeout=20
        )
        assert {d.split("-")[0] for d in info["devices"]} >= {"bme280", "ezo", "pca9685"}
        assert {"-".join(d.split("-")[:-1]) for d in info["devices"]} >= set(DRIVERS)
        found: dict[str, dict[str, Any]] = {}
        for device_id, device in bridge.node.devices.items():
            for prop, spec in device.meta.properties.items():
                component = {
                    ("number", False): "sensor",
                    ("number", True): "number",
                    ("switch", False): "binary_sensor",
                    ("switch", True): "switch",
                    ("text", False): "sensor",
                    ("enum", False): "sensor",
                }[(spec.kind.value, spec.settable)]
                topic = t.discovery(component, node, f"{device_id}_{prop}")
                found[f"{device_id}.{prop}"] = await configs.wait_json(topic, timeout=10)
        for key, config in found.items():
            check(key, config, node)
        bme = found["bme280-76.temperature"]
        assert bme["unit_of_measurement"] == "°C"
        assert bme["device_class"] == "temperature"
        assert bme["state_class"] == "measurement"
        assert bme["device"]["model"] == "BME280"
        assert bme["device"]["manufacturer"] == "Bosch Sensortec"
        assert found["bme280-76.pressure"]["device_class"] == "atmospheric_pressure"
        assert "humidity" not in [k.split(".")[1] for k in found if k.startswith("bmp280")]
        duty = found["pca9685-40.ch0_duty"]
        assert (duty["min"], duty["max"], duty["step"], duty["unit_of_measurement"]) == (
            0,
            100,
            0.1,
            "%",
        )
        assert duty["command_topic"] == t.set(node, "pca9685-40", "ch0_duty")
        assert found["pca9685-40.ch0_on"]["command_topic"] == t.set(node, "pca9685-40", "ch0_on")
        assert found["pca9685-40.frequency"]["device_class"] == "frequency"
        assert found["ezo-ph-63.ph"]["device_class"] == "ph"
        assert "unit_of_measurement" not in found["ezo-ph-63.ph"]
        assert found["ezo-ph-63.ph"]["device"]["sw_version"] == "2.16"
        assert found["ezo-ec-64.conductivity"]["unit_of_measurement"] == "µS/cm"
        assert found["ezo-pmp-67.dispensed"]["state_class"] == "total"
        assert found["ezo-pmp-67.dose"]["device_class"] == "volume"
        assert found["ezo-orp-62.orp"]["unit_of_measurement"] == "mV"
        assert found["ezo-ph-63.led"]["entity_category"] == "config"
        assert found["ezo-ph-63.vcc"]["entity_category"] == "diagnostic"
        assert found["ads1115-48.ain0"]["device_class"] == "moisture"
        assert found["ads1115-48.ain1"]["device_class"] == "voltage"
        assert "command_topic" not in found["mcp23017-20.b7"]  # an input: binary_sensor
        assert found["mcp23017-20.a0"]["command_topic"] == t.set(node, "mcp23017-20", "a0")
        # One-off actions without parameters are buttons; calibration (which needs them) is not.
        for owner, method in (("ezo-ph-63", "find"), ("ezo-pmp-67", "stop")):
            button = await configs.wait_json(t.discovery("button", node, f"{owner}_{method}"))
            assert button["command_topic"] == t.request(node, method)
            assert owner in button["payload_press"]
        for owner in ("ezo-ph-63", "ezo-do-61", "ezo-orp-62", "ezo-pmp-67"):
            assert not configs.on(t.discovery("button", node, f"{owner}_calibrate"))


def check(key: str, config: dict[str, Any], node: str) -> None:
    """The rules every entity must keep, whatever its chip."""
    assert config["unique_id"].startswith(f"roost_{node}_"), key
    assert config["availability_mode"] == "all", key
    assert len(config["availability"]) == 2, key
    device_class = config.get("device_class")
    unit = config.get("unit_of_measurement")
    if device_class in UNITS:
        assert unit in UNITS[device_class], (key, device_class, unit)
    if "state_class" in config and device_class in STATE_CLASSES:
        assert config["state_class"] in STATE_CLASSES[device_class], key
    if "command_topic" in config and "min" in config:
        assert config["min"] < config["max"], key


@pytest.mark.parametrize("name", sorted(DRIVERS))
def test_every_driver_describes_itself(name: str) -> None:
    driver = DRIVERS[name]
    assert driver.model and driver.manufacturer and driver.addresses
    assert all(0x03 <= a <= 0x77 for a in driver.addresses)
