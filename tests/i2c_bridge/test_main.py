"""`roost-i2c-bridge` as a new user runs it: no config file, no i2c hardware, the demo
greenhouse on the simulated bus; a PWM duty changed from outside; a clean stop."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from roost.bus import Bus
from roost.settings import RoostSettings

from .conftest import watch


@pytest.fixture
def no_adapters() -> None:
    if list(Path("/dev").glob("i2c-*")):
        pytest.fail("this test runs the no-hardware default; the machine has /dev/i2c-*")


@pytest.mark.usefixtures("no_adapters")
async def test_the_demo_runs_with_no_config(
    roost_settings: RoostSettings, bus: Bus, tmp_path: Path
) -> None:
    mqtt = roost_settings.mqtt
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ROOST_")},
        "ROOST_MQTT__HOST": mqtt.host,
        "ROOST_MQTT__PORT": str(mqtt.port),
        "ROOST_MQTT__PREFIX": mqtt.prefix,
        "ROOST_MQTT__DISCOVERY_PREFIX": mqtt.discovery_prefix,
    }
    script = shutil.which("roost-i2c-bridge", path=str(Path(sys.executable).parent))
    assert script is not None
    t = bus.topics
    seen = await watch(bus, f"{t.prefix}/#")
    process = await asyncio.create_subprocess_exec(
        script, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        air = await seen.wait_json(
            t.state("i2c-bridge", "bme280-76"),
            lambda s: all(s[p] is not None for p in ("temperature", "humidity", "pressure")),
            timeout=20,
        )
        assert 0 < air["humidity"] <= 100
        assert 900 < air["pressure"] < 1100
        await seen.wait_json(t.state("i2c-bridge", "ezo-ph-63"), lambda s: s["ph"] is not None)
        await seen.wait_json(t.meta("i2c-bridge", "ezo-pmp-67"))
        # mosquitto_pub -t roost/i2c-bridge/pca9685-40/set/ch0_duty -m 40
        await bus.publish(t.set("i2c-bridge", "pca9685-40", "ch0_duty"), "40")
        fan = await seen.wait_json(
            t.state("i2c-bridge", "pca9685-40"), lambda s: s["ch0_duty"] == 40.0, timeout=10
        )
        assert fan["ch0_on"] is True
        mark = seen.mark()
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 10) == 0
        info = await seen.wait_json(t.node_info("i2c-bridge"), since=mark)
        assert info["state"] == "stopped"
        gone = await seen.wait_for(topic=t.node_availability("i2c-bridge"), since=mark)
        assert gone.payload == b"offline"
    finally:
        if process.returncode is None:
            process.kill()
        output = (await asyncio.wait_for(process.communicate(), 10))[0].decode()
    assert "simulated demo greenhouse" in output
    assert "Traceback" not in output


def test_a_broken_config_is_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "roost.toml").write_text('[i2c]\nbuses = ["usb"]\n')
    script = shutil.which("roost-i2c-bridge", path=str(Path(sys.executable).parent))
    assert script is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROOST_")}
    done = subprocess.run([script], cwd=tmp_path, env=env, capture_output=True, timeout=30)
    assert done.returncode == 2
    lines = done.stderr.decode().strip().splitlines()
    assert len(lines) == 1
    assert "i2c.buses" in lines[0] and "roost.toml" in lines[0]
