"""`[i2c]` config: what is accepted, what is refused with a line naming the key, and how
buses and the demo are resolved."""

from __future__ import annotations

import glob
from pathlib import Path

import pytest

from roost.errors import ConfigError
from roost.settings import load_settings
from roost_i2c_bridge.buses import plan
from roost_i2c_bridge.settings import I2cSection, Settings


def load(tmp_path: Path, text: str) -> Settings:
    path = tmp_path / "roost.toml"
    path.write_text(text)
    return load_settings(Settings, path)


def test_a_real_pi_config(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        """
[i2c]
buses = [1, "/dev/i2c-3"]
scan_interval = 60

[[i2c.devices]]
address = 0x40
driver = "pca9685"
name = "Fan board"
options = { frequency = 1000, channels = { 0 = "Fan" } }

[[i2c.devices]]
address = 0x76
bus = 3
interval = 1
precision = { temperature = 1 }
deadband = { temperature = 0.2 }
options = { mode = "normal", standby = 62.5 }

[[i2c.devices]]
address = 0x63
enabled = false
""",
    )
    i2c = settings.i2c
    assert i2c.buses == [1, 3]
    assert i2c.devices[0].options["channels"] == {"0": "Fan"}
    assert i2c.devices[1].bus == 3 and i2c.devices[1].precision == {"temperature": 1}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[i2c]\nbusses = [1]\n", "i2c.busses: unknown key"),
        ('[i2c]\nbuses = ["usb"]\n', "is not a bus"),
        ("[i2c]\nbuses = []\n", "buses is empty"),
        ("[i2c]\ninterval = 0\n", "i2c.interval"),
        ("[[i2c.devices]]\naddress = 0x90\n", "less than or equal to 119"),
        ('[[i2c.devices]]\naddress = 0x40\ndriver = "pca9999"\n', "unknown driver 'pca9999'"),
        (
            '[[i2c.devices]]\naddress = 0x40\ndriver = "pca9685"\noptions = { frequency = 5000 }\n',
            "options.frequency",
        ),
        ("[[i2c.devices]]\naddress = 0x10\noptions = { x = 1 }\n", "options need a driver"),
        ('[[i2c.devices]]\naddress = 0x76\noptions = { mode = "fast" }\n', "options.mode"),
        ('[[i2c.devices]]\naddress = 0x76\nid = "Air_1"\n', "not a slug"),
        ("[[i2c.devices]]\naddress = 0x76\n[[i2c.devices]]\naddress = 0x76\n", "twice"),
        ('[i2c.sim]\nchips = [{ type = "bme999", address = 0x76 }]\n', "unknown simulated chip"),
        ("[i2c]\nbuses = [\n", "config file"),
    ],
)
def test_mistakes_are_one_clear_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        load(tmp_path, text)
    assert "\n" not in str(caught.value)


def test_environment_names_the_simulated_bus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROOST_I2C__BUSES", '["sim"]')
    monkeypatch.delenv("ROOST_CONFIG", raising=False)
    settings = load_settings(Settings, None)
    assert settings.i2c.buses == ["sim"]


def test_no_config_runs_every_adapter_there_is(monkeypatch: pytest.MonkeyPatch) -> None:
    found = ["/dev/i2c-20", "/dev/i2c-1"]
    monkeypatch.setattr(glob, "glob", lambda pattern: found)
    assert I2cSection().resolved_buses() == [1, 20]


def test_no_config_and_no_adapter_runs_the_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(glob, "glob", lambda pattern: [])
    section = I2cSection()
    assert section.resolved_buses() == ["sim"]
    bridge = plan(section)
    assert bridge.demo
    chips = bridge.sim_bus("sim").chips
    assert {0x76, 0x40, 0x63, 0x67} <= set(chips)
    devices = bridge.buses[0].devices
    assert devices[0x40].options["channels"][0] == "Fan"
    assert devices[0x20].driver == "mcp23017"


def test_own_device_config_wins_over_the_demos() -> None:
    section = I2cSection.model_validate(
        {"buses": ["sim"], "devices": [{"address": 0x76, "name": "My air"}]}
    )
    assert plan(section).buses[0].devices[0x76].name == "My air"


def test_simulated_chips_must_sit_on_a_simulated_bus() -> None:
    section = I2cSection.model_validate(
        {
            "buses": [1, "sim"],
            "sim": {"chips": [{"type": "bme280", "address": 0x76, "bus": "sim-2"}]},
        }
    )
    with pytest.raises(ConfigError, match="not in buses"):
        plan(section)
    with pytest.raises(ConfigError, match="demo greenhouse"):
        plan(I2cSection.model_validate({"buses": ["sim-b"]}))


DOCS = Path(__file__).parents[2] / "docs"


@pytest.mark.parametrize("name", ["i2c-bridge-pi.toml", "i2c-bridge-sim.toml"])
def test_the_example_configs_load(name: str) -> None:
    settings = load_settings(Settings, DOCS / name)
    bridge = plan(settings.i2c)
    assert bridge.buses
