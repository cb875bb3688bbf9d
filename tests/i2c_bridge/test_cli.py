"""`roost i2c …` against a running bridge."""

from __future__ import annotations

import asyncio
import json

import pytest
from typer.testing import CliRunner, Result

from roost.cli.app import app, load_plugins
from roost.settings import RoostSettings

from .conftest import running_bridge, section

load_plugins(app)


async def roost(*args: str) -> Result:
    # The CLI runs its own event loop: give it a thread of its own.
    return await asyncio.to_thread(CliRunner().invoke, app, list(args))


@pytest.fixture
def cli_env(roost_settings: RoostSettings, monkeypatch: pytest.MonkeyPatch) -> None:
    mqtt = roost_settings.mqtt
    monkeypatch.delenv("ROOST_CONFIG", raising=False)
    monkeypatch.chdir(roost_settings.node.data_dir.parent)
    for key, value in {
        "HOST": mqtt.host,
        "PORT": str(mqtt.port),
        "PREFIX": mqtt.prefix,
        "DISCOVERY_PREFIX": mqtt.discovery_prefix,
    }.items():
        monkeypatch.setenv(f"ROOST_MQTT__{key}", value)


@pytest.mark.usefixtures("cli_env", "fast_ezo")
async def test_scan_calibrate_and_call(roost_settings: RoostSettings) -> None:
    chips = [{"type": "bme280", "address": 0x76}, {"type": "ezo-ph", "address": 0x63}]
    async with running_bridge(roost_settings, section(chips=chips)):
        result = await roost("i2c", "scan")
        assert result.exit_code == 0, result.output
        assert json.loads(result.output)["sim"]["devices"] == {
            "0x63": "ezo-ph-63",
            "0x76": "bme280-76",
        }
        result = await roost("i2c", "calibrate", "ezo-ph-63", "mid", "7")
        assert result.exit_code == 0, result.output
        assert json.loads(result.output)["calibration"] == 1
        result = await roost("i2c", "calibrate", "ezo-ph-63", "low")
        assert result.exit_code == 1
        assert "invalid_params" in result.output
        result = await roost("i2c", "call", "sim_fault", "address=0x76", "fault=nack", "count=1")
        assert result.exit_code == 0, result.output
        assert json.loads(result.output)["address"] == "0x76"
        result = await roost("i2c", "call", "find", "ezo-ph-63")
        assert result.exit_code == 0, result.output
