"""compose.yaml run for real: Podman's API, Docker Compose, the images of the Dockerfile.
Checked as a user would, from the host, through the published broker and web UI ports.

The tests share one stack and run in file order: the last one stops it, starts it again
and finds the recorder's history still there."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import pytest_asyncio

from roost.bus import Bus
from roost.settings import MqttSettings
from roost.testing import Watcher
from roost_i2c_bridge.sim.greenhouse import DEMO_CHIPS

from .engine import ROOT, SERVICES, Builds, Compose, PodmanService, free_port, run

pytestmark = pytest.mark.timeout(2400)  # the first test waits for every image to build

# A sensor the recorder keeps history of, and a setting nothing in the demo changes back.
SENSOR = ("i2c-bridge/bme280-76", "temperature")
PWM_TOPIC = "roost/i2c-bridge/pca9685-40"
# The demo greenhouse's chips on the simulated bus: the bridge's devices once it has scanned.
CHIPS = [f"{chip['type']}-{chip['address']:02x}" for chip in DEMO_CHIPS]
FIGURES = ROOT / "test-artifacts" / "containers.json"


@dataclass
class Stack:
    compose: Compose
    up_at: float
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def mqtt(self) -> MqttSettings:
        return MqttSettings(host="127.0.0.1", port=self.compose.broker_port)


@pytest.fixture(scope="module")
def stack(engine: PodmanService, images: Builds) -> Iterator[Stack]:
    compose = Compose(engine, f"roost-test-{os.getpid()}", free_port(), free_port())
    up_at = time.monotonic()
    compose("up", "--detach", "--no-build")
    build = {"bases_s": round(images.bases), "total_s": round(images.total), "steps": images.lines}
    stack = Stack(compose, up_at, {"build": build})
    try:
        yield stack
    finally:
        compose("down", "--volumes", "--timeout", "10", check=False)
        FIGURES.parent.mkdir(exist_ok=True)
        FIGURES.write_text(json.dumps(stack.figures, indent=2))
        print(json.dumps(stack.figures, indent=2))


@asynccontextmanager
async def connected(stack: Stack) -> AsyncIterator[Bus]:
    """A client of the stack's broker, once the broker accepts it (it may be starting)."""
    async with Bus(stack.mqtt) as client:
        await client.wait_connected(timeout=60)
        yield client


@pytest_asyncio.fixture
async def bus(stack: Stack) -> AsyncIterator[Bus]:
    async with connected(stack) as client:
        yield client


def retained(watch: Watcher) -> dict[str, bytes]:
    """The newest payload per topic (an empty payload clears it)."""
    latest: dict[str, bytes] = {}
    for m in watch.messages:
        if m.payload:
            latest[m.topic] = m.payload
        else:
            latest.pop(m.topic, None)
    return latest


def missing_states(latest: dict[str, bytes]) -> list[str]:
    """What is not yet on the broker: a node online with every device's state (the
    i2c-bridge's chips, found by its first scan of the simulated bus, among them)."""
    missing = []
    for node in SERVICES:
        if latest.get(f"roost/{node}/availability") != b"online":
            missing.append(f"{node} online")
            continue
        devices = json.loads(latest[f"roost/{node}/info"])["devices"]
        if node == "i2c-bridge":
            devices = sorted({*devices, *CHIPS})
        missing += [f"{node}/{device} state" for device in devices
                    if f"roost/{node}/{device}/state" not in latest]  # fmt: skip
    return missing


async def wait_until(watch: Watcher, done: Any, timeout: float, what: str) -> None:
    try:
        await watch.wait_for(lambda _m: done(), timeout=timeout)
    except TimeoutError:
        raise AssertionError(f"{what} within {timeout:g} s") from None


async def test_every_node_comes_online_and_publishes_its_devices_state(
    stack: Stack, bus: Bus
) -> None:
    async with Watcher(bus, "roost/#") as watch:
        if missing_states(retained(watch)):
            await wait_until(watch, lambda: not missing_states(retained(watch)), 180,
                             "every node online with its devices' state")  # fmt: skip
        stack.figures["up_to_every_state_s"] = round(time.monotonic() - stack.up_at, 1)
        latest = retained(watch)
    devices = {n: json.loads(latest[f"roost/{n}/info"])["devices"] for n in SERVICES}
    stack.figures["devices"] = devices
    # The supervisor holds no services: it must not try to run any, only its own devices.
    assert set(devices["supervisor"]) <= {"host", "backups"}, devices["supervisor"]


def test_every_container_is_healthy(stack: Stack) -> None:
    # The image's own HEALTHCHECK, run now (the engine's timer would run it every 30 s):
    # every node is online at this point, so every check must pass.
    results = {}
    for c in stack.compose.containers():
        service = c["Config"]["Labels"]["com.docker.compose.service"]  # type: ignore[index]
        if service in SERVICES:
            check = run("podman", "healthcheck", "run", str(c["Id"]), check=False)
            results[service] = (check.returncode, check.stdout.strip() + check.stderr.strip())
    assert set(results) == set(SERVICES), results
    assert all(code == 0 for code, _ in results.values()), results


async def test_the_web_ui_answers_its_login_page(stack: Stack) -> None:
    url = f"http://127.0.0.1:{stack.compose.webui_port}/login"
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(url)
    assert response.status_code == 200
    assert "<form" in response.text


async def test_the_detector_reads_the_cameras_frames_through_shared_memory(bus: Bus) -> None:
    async with Watcher(bus, "roost/detector/+/state") as watch:
        state = await watch.wait_for(
            lambda m: m.json().get("source") in ("shm", "mqtt"), timeout=120
        )
    assert state.json()["source"] == "shm", state.payload


async def test_the_recorder_answers_history_of_the_bridges_sensor(stack: Stack, bus: Bus) -> None:
    points = await history_points(bus)
    assert points
    stack.figures["history_points_before_down"] = len(points)


async def history_points(bus: Bus) -> list[list[Any]]:
    """The sensor's raw points of the last hour, once the recorder has any."""
    device, prop = SENSOR
    params = {"device": device, "prop": prop, "from": -3600}
    async with Watcher(bus, "roost/recorder/availability") as watch:
        await watch.wait_for(lambda m: m.payload == b"online", timeout=120)
    async with asyncio.timeout(120):
        while True:
            response = await bus.request("recorder", "history", params, timeout=30)
            data: Any = response.data
            if response.ok and data["points"]:
                return list(data["points"])
            # The recorder writes in batches: wait for the sensor's next state, then ask again.
            async with Watcher(bus, f"roost/{device}/state") as watch:
                await watch.wait_for(lambda m: not m.retain, timeout=60)


async def test_a_command_from_the_host_moves_a_device(bus: Bus) -> None:
    async with Watcher(bus, f"{PWM_TOPIC}/state") as watch:
        before = watch.mark()
        pub = await asyncio.create_subprocess_exec(
            "mosquitto_pub",
            "-p",
            str(bus.settings.port),
            "-t",
            f"{PWM_TOPIC}/set/ch1_duty",
            "-m",
            "42.5",
        )
        assert await pub.wait() == 0
        state = await watch.wait_json(
            f"{PWM_TOPIC}/state",
            lambda s: abs(s["ch1_duty"] - 42.5) < 0.05,
            since=before,
            timeout=30,
        )
    assert state["ch1_duty"] == pytest.approx(42.5)


async def test_down_stops_every_container_cleanly_and_the_data_survives(
    stack: Stack, bus: Bus
) -> None:
    before = await history_points(bus)
    async with Watcher(bus, "roost/+/info") as watch:
        since = watch.mark()
        start = time.monotonic()
        await asyncio.to_thread(stack.compose, "stop", "--timeout", "10")
        stack.figures["stop_s"] = round(time.monotonic() - start, 1)
        stopped = {
            m.topic.split("/")[1]
            for m in watch.messages[since:]
            if m.payload and m.json().get("state") == "stopped"
        }
    # Every node said `stopped` on its way out (a crash or a kill would not).
    assert stopped >= set(SERVICES), set(SERVICES) - stopped
    exits = {}
    for c in stack.compose.containers():
        exits[c["Config"]["Labels"]["com.docker.compose.service"]] = c["State"]["ExitCode"]  # type: ignore[index]
    stack.figures["exit_codes"] = exits
    # 137 would be SIGKILL after the grace period; a roost service exits 0 on SIGTERM.
    assert all(code in (0, 143) for code in exits.values()), exits
    logs = stack.compose("logs", "--no-color").stdout
    assert "Traceback" not in logs, logs[-4000:]
    await bus.close()

    stack.compose("down", "--timeout", "10")
    stack.compose("up", "--detach", "--no-build")
    async with connected(stack) as again:
        after = await history_points(again)
    assert before[0] in after, (before[:3], after[:3])
