"""i2c-bridge benchmarks: 50 simulated chips at 1 Hz (CPU, RSS), and the highest sustained
sample rate of one simulated BME280 through to a subscriber.

Run: `.venv/bin/pytest --perf tests/perf/test_i2c_bridge.py -s`. Each prints one JSON line.
The bridge runs as its own process (`roost-i2c-bridge` with a written config) against a
broker of the test's own, so its CPU and memory are its own. Baselines are measured in the
same run: the same bridge with no chips, and a bare roost node publishing a synthetic
reading as fast as the library and broker let it.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import psutil
import pytest

from roost.bus import Bus
from roost.message import Message
from roost.settings import MqttSettings
from roost.testing.broker import MosquittoBroker

pytestmark = pytest.mark.perf

WARM_UP = 5.0
WINDOW = 20.0
RATE_WINDOW = 10.0

# 50 chips over four simulated buses: a mix of sensors, ADCs, PWM boards and EZO circuits.
PER_BUS = [
    ("bme280", 0x76),
    ("bme280", 0x77),
    ("sht31", 0x44),
    ("sht31", 0x45),
    ("ads1115", 0x48),
    ("ads1115", 0x49),
    ("ads1115", 0x4A),
    ("ads1115", 0x4B),
    ("pca9685", 0x40),
    ("pca9685", 0x41),
    ("ezo-ph", 0x63),
    ("ezo-ec", 0x64),
]
BUSES = ["sim", "sim-b", "sim-c", "sim-d"]
EXTRA = [("ezo-rtd", 0x66, "sim"), ("ezo-rtd", 0x66, "sim-b")]


def fifty_chips() -> list[tuple[str, int, str]]:
    chips = [(kind, address, bus) for bus in BUSES for kind, address in PER_BUS] + EXTRA
    assert len(chips) == 50
    return chips


def config(mqtt: MqttSettings, i2c: str) -> str:
    return textwrap.dedent(
        f"""
        [mqtt]
        host = "{mqtt.host}"
        port = {mqtt.port}
        prefix = "{mqtt.prefix}"
        discovery_prefix = "{mqtt.discovery_prefix}"

        [log]
        level = "WARNING"
        """
    ) + textwrap.dedent(i2c)


def chips_toml(chips: list[tuple[str, int, str]]) -> str:
    lines = [
        f'[[i2c.sim.chips]]\ntype = "{kind}"\naddress = {address}\nbus = "{bus}"\n'
        for kind, address, bus in chips
    ]
    return "\n".join(lines)


@asynccontextmanager
async def process(
    args: list[str], tmp_path: Path, name: str, text: str
) -> AsyncIterator[psutil.Process]:
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROOST_")}
    env["ROOST_CONFIG"] = str(path)
    proc = await asyncio.create_subprocess_exec(*args, cwd=tmp_path, env=env)
    try:
        yield psutil.Process(proc.pid)
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                proc.kill()
                await proc.wait()


def bridge_script() -> str:
    script = shutil.which("roost-i2c-bridge", path=str(Path(sys.executable).parent))
    assert script is not None
    return script


class Counter:
    """Counts state messages (arrival times) on a filter."""

    def __init__(self) -> None:
        self.arrivals: list[float] = []
        self.devices: set[str] = set()

    def __call__(self, message: Message) -> None:
        if message.payload and not message.retain:
            self.arrivals.append(time.monotonic())
            self.devices.add(message.topic.split("/")[-2])

    def since(self, start: float, end: float) -> int:
        return sum(1 for t in self.arrivals if start <= t < end)


async def wait_for_devices(counter: Counter, count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while len(counter.devices) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"only {len(counter.devices)} of {count} devices published")
        await asyncio.sleep(0.2)


async def measure(proc: psutil.Process, seconds: float) -> dict[str, float]:
    """CPU % of one core over `seconds`, and RSS at the end (children included)."""

    def cpu() -> float:
        total = proc.cpu_times()
        return float(total.user + total.system)

    before, start = cpu(), time.monotonic()
    await asyncio.sleep(seconds)
    used, wall = cpu() - before, time.monotonic() - start
    return {
        "cpu_percent": round(100 * used / wall, 2),
        "rss_mb": round(proc.memory_info().rss / 2**20, 1),
    }


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    """A broker of the benchmark's own: nothing else's traffic in the figures."""
    started = MosquittoBroker(tmp_path / "mosquitto")
    started.start()
    yield started
    started.stop()


def mqtt_for(broker: MosquittoBroker) -> MqttSettings:
    return MqttSettings(host=broker.host, port=broker.port, prefix="perf", discovery_prefix="ha")


async def run_bridge(
    broker: MosquittoBroker, tmp_path: Path, name: str, chips: list[tuple[str, int, str]]
) -> dict[str, float]:
    mqtt = mqtt_for(broker)
    buses = sorted({bus for _, _, bus in chips} | {"sim"})
    text = config(
        mqtt,
        f"""
        [i2c]
        buses = {json.dumps(buses)}
        interval = 1
        live_interval = 1
        scan_interval = 30

        [i2c.sim]
        seed = 1
        chips = []
        """,
    )
    if chips:
        text = text.replace("chips = []\n", "") + chips_toml(chips)
    counter = Counter()
    async with Bus(mqtt, reconnect=False) as bus:
        await bus.subscribe("perf/i2c-bridge/+/state", counter)
        async with process([bridge_script()], tmp_path, name, text) as proc:
            await wait_for_devices(counter, len(chips) + len(buses))
            await asyncio.sleep(WARM_UP)
            start = time.monotonic()
            figures = await measure(proc, WINDOW)
            figures["states_per_s"] = round(counter.since(start, start + WINDOW) / WINDOW, 1)
    return figures


async def test_fifty_chips_at_one_hertz(broker: MosquittoBroker, tmp_path: Path) -> None:
    idle = await run_bridge(broker, tmp_path, "idle", [])
    loaded = await run_bridge(broker, tmp_path, "fifty", fifty_chips())
    result = {
        "benchmark": "i2c-bridge: 50 simulated chips sampled at 1 Hz",
        "window_s": WINDOW,
        "baseline_no_chips": idle,
        "fifty_chips": loaded,
        "cpu_percent_per_chip": round((loaded["cpu_percent"] - idle["cpu_percent"]) / 50, 3),
        "rss_ratio": round(loaded["rss_mb"] / idle["rss_mb"], 2),
    }
    print(json.dumps(result))
    # A benchmark of a bridge that did not sample would measure nothing.
    assert loaded["states_per_s"] >= 40


BASELINE_NODE = """
import asyncio, random
from roost.models import DeviceMeta, PropertySpec
from roost.node import Node
from roost.service import run_service, run_until_signalled
from roost.settings import RoostSettings

META = DeviceMeta(name="synthetic", properties={
    p: PropertySpec(kind="number", precision=2)
    for p in ("temperature", "humidity", "pressure")})

async def serve(settings):
    node = Node(settings, service="baseline", node_id="i2c-bridge")
    device = node.add_device("bme280-76", META)
    async def publish():
        while True:
            device.update(temperature=round(random.uniform(20, 25), 2),
                          humidity=round(random.uniform(40, 60), 1),
                          pressure=round(random.uniform(1000, 1020), 2))
            await asyncio.sleep(0)
    async with node:
        await run_until_signalled(publish())

run_service("baseline", RoostSettings, serve)
"""


async def rate(
    broker: MosquittoBroker, tmp_path: Path, name: str, args: list[str], text: str
) -> float:
    mqtt = mqtt_for(broker)
    counter = Counter()
    async with Bus(mqtt, reconnect=False) as bus:
        await bus.subscribe("perf/i2c-bridge/bme280-76/state", counter)
        async with process(args, tmp_path, name, config(mqtt, text)):
            await wait_for_devices(counter, 1)
            await asyncio.sleep(2.0)
            start = time.monotonic()
            await asyncio.sleep(RATE_WINDOW)
            return round(counter.since(start, start + RATE_WINDOW) / RATE_WINDOW, 1)


def one_bme280(mode: str) -> str:
    return f"""
        [i2c]
        buses = ["sim"]
        interval = 0.0001
        live_interval = 0.0001
        scan_interval = 600

        [i2c.sim]
        seed = 1
        chips = [{{ type = "bme280", address = 0x76 }}]

        [[i2c.devices]]
        address = 0x76
        options = {{ mode = "{mode}", standby = 0.5 }}
        """


async def test_one_bme280_as_fast_as_it_goes(broker: MosquittoBroker, tmp_path: Path) -> None:
    script = tmp_path / "baseline.py"
    script.write_text(BASELINE_NODE)
    baseline = await rate(broker, tmp_path, "baseline", [sys.executable, str(script)], "")
    normal = await rate(broker, tmp_path, "normal", [bridge_script()], one_bme280("normal"))
    forced = await rate(broker, tmp_path, "forced", [bridge_script()], one_bme280("forced"))
    result = {
        "benchmark": "i2c-bridge: one simulated BME280 as fast as it goes, to a subscriber",
        "window_s": RATE_WINDOW,
        "baseline_roost_node_synthetic_states_per_s": baseline,
        "bme280_normal_mode_states_per_s": normal,
        "bme280_forced_mode_states_per_s": forced,
        "normal_to_baseline": round(normal / baseline, 3),
        "forced_to_baseline": round(forced / baseline, 3),
    }
    print(json.dumps(result))
    assert normal > 0 and forced > 0
