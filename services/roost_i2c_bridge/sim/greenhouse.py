"""The demo greenhouse: what `roost-i2c-bridge` simulates with `buses = ["sim"]` and no
`[[i2c.sim.chips]]`, and the device config that goes with it.

Device ids are part of roost's demo contract (README, the event engine's example script):
`bme280-76` is the greenhouse air, `pca9685-40` channel 0 its fan.
"""

from __future__ import annotations

from typing import Any

DEMO_CHIPS: list[dict[str, Any]] = [
    {"type": "bme280", "address": 0x76},
    {"type": "pca9685", "address": 0x40},
    {"type": "sht31", "address": 0x44},
    {"type": "ads1115", "address": 0x48},
    {"type": "mcp23017", "address": 0x20},
    {"type": "ezo-ph", "address": 0x63},
    {"type": "ezo-ec", "address": 0x64},
    {"type": "ezo-do", "address": 0x61},
    {"type": "ezo-orp", "address": 0x62},
    {"type": "ezo-rtd", "address": 0x66},
    {"type": "ezo-pmp", "address": 0x67},
]

WATER_TEMPERATURE = "ezo-rtd-66/temperature"

DEMO_DEVICES: list[dict[str, Any]] = [
    {"address": 0x76, "name": "Greenhouse air", "area": "Greenhouse"},
    {
        "address": 0x40,
        "name": "Greenhouse PWM",
        "area": "Greenhouse",
        "options": {"frequency": 1000, "channels": {0: "Fan", 1: "Grow light"}},
    },
    {"address": 0x44, "name": "Outside air", "area": "Outside"},
    {
        "address": 0x48,
        "name": "Soil and light",
        "area": "Greenhouse",
        "options": {
            "channels": {
                # A capacitive probe: 2.85 V in dry soil, 1.15 V in saturated soil.
                0: {
                    "name": "Soil moisture",
                    "unit": "%",
                    "scale": -100 / 1.7,
                    "offset": 2.85 * 100 / 1.7,
                    "precision": 1,
                    "device_class": "moisture",
                },
                1: {
                    "name": "Light",
                    "unit": "lx",
                    "scale": 40000 / 3.0,
                    "precision": 0,
                    "device_class": "illuminance",
                },
                2: {"name": "3.3 V rail (halved)"},
                3: {"enabled": False},
            }
        },
    },
    {
        "address": 0x20,
        "driver": "mcp23017",
        "name": "Greenhouse relays",
        "area": "Greenhouse",
        "options": {
            "pins": {
                "a0": {"mode": "output", "name": "Irrigation valve"},
                "a1": {"mode": "output", "name": "Mister"},
                "b0": {"mode": "input", "name": "Reservoir full", "pullup": True},
            }
        },
    },
    {
        "address": 0x63,
        "name": "Reservoir pH",
        "area": "Reservoir",
        "options": {"temperature_source": WATER_TEMPERATURE},
    },
    {
        "address": 0x64,
        "name": "Reservoir EC",
        "area": "Reservoir",
        "options": {"temperature_source": WATER_TEMPERATURE},
    },
    {
        "address": 0x61,
        "name": "Reservoir oxygen",
        "area": "Reservoir",
        "options": {"temperature_source": WATER_TEMPERATURE},
    },
    {"address": 0x62, "name": "Reservoir ORP", "area": "Reservoir"},
    {"address": 0x66, "name": "Reservoir temperature", "area": "Reservoir"},
    {"address": 0x67, "name": "pH-down pump", "area": "Reservoir"},
]
