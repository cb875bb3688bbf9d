"""Supervisor benchmarks: each prints one JSON line with its figures, a baseline measured
in the same run on the same machine, and their ratio.

Run: .venv/bin/pytest --perf tests/perf/test_supervisor.py -s

- up_to_ready: `roost up` (its own broker) until every device has state and discovery
  and every app runs: the demo (every installed service), and five minimal roost nodes
  as apps; baseline: a bare Mosquitto and one minimal roost node started the same way
  until that node's device has state and discovery.
- idle: RSS and CPU of `roost-supervisor` idling with 10 apps; baselines: the same with no
  apps, and a minimal roost node (one device) idling over the same window.
- kill_to_running: kill -9 of an app (a roost node, health = its availability) until the
  supervisor reports it running again; with the default backoff and with
  backoff_initial = 0 (the supervisor's own reaction); baseline: starting the same node by
  hand until its availability says online.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import psutil
import pytest

from roost.bus import Bus
from roost.mirror import StateView
from roost.settings import MqttSettings
from roost.testing import Watcher
from roost.testing.broker import Broker, MosquittoBroker

pytestmark = [pytest.mark.perf, pytest.mark.timeout(900)]

HERE = Path(__file__).resolve().parent
NODE_APP = HERE.parent / "supervisor" / "apps" / "node_app.py"
BIN = Path(sys.executable).parent
ROUNDS = 3


def report(name: str, **figures: Any) -> None:
    print(json.dumps({"benchmark": f"supervisor.{name}", **figures}))


def env_for(port: int, prefix: str = "roost", **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROOST_")}
    env.update(ROOST_MQTT__PORT=str(port), ROOST_MQTT__PREFIX=prefix, **extra)
    return env


async def until(view: StateView, check: Callable[[], bool], timeout: float = 120) -> None:
    async with view.changes() as changes, asyncio.timeout(timeout):
        while not check():
            await changes.get()


@contextlib.asynccontextmanager
async def process(
    argv: list[str], *, env: dict[str, str], cwd: Path, stdout: Any = subprocess.DEVNULL
) -> AsyncIterator[subprocess.Popen[bytes]]:
    proc = await asyncio.to_thread(
        subprocess.Popen,
        argv,
        env=env,
        cwd=cwd,
        stdout=stdout,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(asyncio.to_thread(proc.wait), 60)
            except TimeoutError:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


async def watch_devices(
    port: int, prefix: str, check: Callable[[StateView, Watcher], bool]
) -> None:
    """Connect as soon as the broker answers; return when `check` holds."""
    deadline = time.monotonic() + 60
    while True:
        try:
            bus = Bus(MqttSettings(port=port, prefix=prefix), reconnect=False, connect_timeout=2)
            await bus.start()
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.02)
    try:
        view = StateView(bus.topics)
        discovery = Watcher(bus, f"{bus.topics.discovery_prefix}/#")
        await discovery.start()
        await view.attach(bus)
        await until(view, lambda: check(view, discovery))
    finally:
        await bus.close()


def all_devices_ready(view: StateView, discovery: Watcher, node: str, devices: set[str]) -> bool:
    have = view.nodes.get(node)
    if have is None or not have.online or not devices <= set(have.devices):
        return False
    if not all(d.meta is not None and d.state for d in view.devices()):
        return False
    for device in view.devices():
        marker = f"/{device.node}/{device.id}_"
        if not any(marker in m.topic for m in discovery.messages):
            return False
    return True


# up_to_ready ---------------------------------------------------------------------------
NODE_APPS = 5


@pytest.mark.parametrize("variant", ["demo", "five-node-apps"])
async def test_up_to_ready(tmp_path: Path, variant: str) -> None:
    """`demo`: no config, every installed service. `five-node-apps`: five minimal roost
    nodes as apps (health: their availability), for a figure that does not depend on
    which services are installed."""
    from roost_supervisor.services import CATALOG

    if variant == "demo":
        apps = {n for n, i in CATALOG.items() if i.installed()}
    else:
        apps = {f"app{i}" for i in range(NODE_APPS)}
    ups, bases = [], []
    for round_ in range(ROUNDS):
        work = tmp_path / f"up{round_}"
        work.mkdir()
        port = _free_port()
        env = env_for(port, ROOST_UP__BROKER="own", ROOST_UP__PORT=str(port))
        if variant != "demo":
            config = work / "roost.toml"
            lines = []
            for name in sorted(apps):
                lines += [
                    f"[supervisor.apps.{name}]",
                    f"command = {toml_value([sys.executable, str(NODE_APP), name])}",
                    f'node = "{name}"',
                    'health = { kind = "availability" }',
                    "",
                ]
            config.write_text("\n".join(lines))
            env["ROOST_CONFIG"] = str(config)
        began = time.monotonic()
        async with process([str(BIN / "roost"), "up"], env=env, cwd=work):
            await watch_devices(
                port,
                "roost",
                lambda v, d: (
                    all_devices_ready(v, d, "supervisor", {"host", "backups", *apps})
                    and all(
                        v.nodes["supervisor"].devices[a].state.get("state") == "running"
                        for a in apps
                    )
                ),
            )
            ups.append(time.monotonic() - began)
        (tmp_path / f"base{round_}").mkdir()
        bases.append(await _baseline_start(tmp_path / f"base{round_}"))
    up, base = statistics.median(ups), statistics.median(bases)
    report(
        f"up_to_ready.{variant}",
        apps=sorted(apps),
        seconds=round(up, 3),
        all_seconds=[round(x, 3) for x in ups],
        baseline_bare_broker_and_one_node_seconds=round(base, 3),
        ratio=round(up / base, 2),
    )


async def _baseline_start(work: Path) -> float:
    """A bare Mosquitto and one minimal roost node, started cold, until the node's device
    has state and discovery."""
    began = time.monotonic()
    broker = MosquittoBroker(work / "mosquitto")
    await asyncio.to_thread(broker.start)
    try:
        env = env_for(broker.port)
        async with process([sys.executable, str(NODE_APP), "probe"], env=env, cwd=work):
            await watch_devices(
                broker.port, "roost", lambda v, d: all_devices_ready(v, d, "probe", {"probe"})
            )
            return time.monotonic() - began
    finally:
        broker.stop()


def _free_port() -> int:
    from roost.testing.broker import free_port

    return free_port()


# idle ----------------------------------------------------------------------------------
IDLE_WINDOW = 30.0


def toml_value(value: Any) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(value)  # strings, numbers and booleans are the same in TOML


def apps_config(path: Path, count: int, **app: Any) -> None:
    lines = ["[supervisor.backup]", "interval = 0", ""]
    for index in range(count):
        lines.append(f"[supervisor.apps.app{index}]")
        for key, value in app.items():
            lines.append(f"{key} = {toml_value(value)}")
        lines.append("")
    path.write_text("\n".join(lines))


def cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


async def _idle_figures(pid: int) -> tuple[int, float]:
    """RSS (bytes) at the end and CPU (% of one core) over IDLE_WINDOW."""
    before = cpu_seconds(pid)
    began = time.monotonic()
    await asyncio.sleep(IDLE_WINDOW)  # measuring idleness: the wait is the measurement
    cpu = (cpu_seconds(pid) - before) / (time.monotonic() - began) * 100
    return psutil.Process(pid).memory_info().rss, cpu


async def test_idle_with_ten_apps(tmp_path: Path, mosquitto: Broker) -> None:
    figures: dict[str, tuple[int, float]] = {}
    for label, count in (("ten-apps", 10), ("no-apps", 0)):
        work = tmp_path / label
        work.mkdir()
        apps_config(work / "roost.toml", count, command=["sleep", "100000"], start_secs=0.5)
        env = env_for(mosquitto.port, f"idle{label}", ROOST_CONFIG=str(work / "roost.toml"))
        async with process([str(BIN / "roost-supervisor")], env=env, cwd=work) as sup:
            await watch_devices(
                mosquitto.port,
                f"idle{label}",
                lambda v, d, n=count: (
                    all_devices_ready(v, d, "supervisor", {f"app{i}" for i in range(n)} | {"host"})
                    and all(
                        dev.state.get("state") == "running"
                        for dev in v.nodes["supervisor"].devices.values()
                        if dev.id.startswith("app")
                    )
                ),
            )
            figures[label] = await _idle_figures(sup.pid)
    work = tmp_path / "node"
    work.mkdir()
    env = env_for(mosquitto.port, "idlenode")
    async with process([sys.executable, str(NODE_APP), "probe"], env=env, cwd=work) as node:
        await watch_devices(
            mosquitto.port, "idlenode", lambda v, d: all_devices_ready(v, d, "probe", {"probe"})
        )
        figures["node"] = await _idle_figures(node.pid)
    (rss10, cpu10), (rss0, cpu0), (rss_node, cpu_node) = (
        figures["ten-apps"],
        figures["no-apps"],
        figures["node"],
    )
    report(
        "idle",
        window_seconds=IDLE_WINDOW,
        rss_mb_ten_apps=round(rss10 / 1e6, 1),
        cpu_percent_ten_apps=round(cpu10, 2),
        rss_mb_no_apps=round(rss0 / 1e6, 1),
        cpu_percent_no_apps=round(cpu0, 2),
        baseline_node_rss_mb=round(rss_node / 1e6, 1),
        baseline_node_cpu_percent=round(cpu_node, 2),
        rss_ratio_to_node=round(rss10 / rss_node, 2),
        rss_mb_per_app=round((rss10 - rss0) / 10 / 1e6, 2),
        cpu_ratio_to_node=round(cpu10 / cpu_node, 2) if cpu_node > 0 else None,
    )


# kill_to_running -----------------------------------------------------------------------
KILLS = 5


async def test_kill_to_running(tmp_path: Path, mosquitto: Broker) -> None:
    results: dict[str, list[float]] = {}
    for label, backoff in (("default_backoff", None), ("no_backoff", 0.0)):
        work = tmp_path / label
        work.mkdir()
        app: dict[str, Any] = {
            "command": [sys.executable, str(NODE_APP), "probe"],
            "node": "probe",
            "health": {"kind": "availability"},
            # Each kill counts as a first failure after a stable run (no growing backoff).
            "reset_after": 0,
        }
        if backoff is not None:
            app["backoff_initial"] = backoff
        apps_config(work / "roost.toml", 1, **app)
        prefix = f"kill-{label.replace('_', '-')}"
        env = env_for(mosquitto.port, prefix, ROOST_CONFIG=str(work / "roost.toml"))
        async with (
            process([str(BIN / "roost-supervisor")], env=env, cwd=work),
            Bus(MqttSettings(port=mosquitto.port, prefix=prefix), reconnect=False) as bus,
            Watcher(bus, f"{prefix}/supervisor/app0/state") as states,
        ):
            topic = bus.topics.state("supervisor", "app0")
            state = await states.wait_json(topic, lambda s: s["state"] == "running", timeout=60)
            times = []
            for _ in range(KILLS):
                mark = states.mark()
                began = time.monotonic()
                os.kill(state["pid"], signal.SIGKILL)
                old = state["pid"]
                state = await states.wait_json(
                    topic,
                    lambda s, old=old: s["state"] == "running" and s["pid"] != old,
                    since=mark,
                    timeout=60,
                )
                times.append(time.monotonic() - began)
            results[label] = times
    base = []
    for round_ in range(KILLS):
        prefix = f"killbase{round_}"
        async with (
            Bus(MqttSettings(port=mosquitto.port, prefix=prefix), reconnect=False) as bus,
            Watcher(bus, f"{prefix}/probe/availability") as seen,
        ):
            began = time.monotonic()
            env = env_for(mosquitto.port, prefix)
            async with process([sys.executable, str(NODE_APP), "probe"], env=env, cwd=tmp_path):
                await seen.wait_for(lambda m: m.payload == b"online", timeout=60)
                base.append(time.monotonic() - began)
    baseline = statistics.median(base)
    default, immediate = (statistics.median(results[k]) for k in ("default_backoff", "no_backoff"))
    report(
        "kill_to_running",
        app="roost node, health = availability",
        seconds_default_backoff=round(default, 3),
        seconds_no_backoff=round(immediate, 3),
        all_default=[round(x, 3) for x in results["default_backoff"]],
        all_no_backoff=[round(x, 3) for x in results["no_backoff"]],
        baseline_start_by_hand_seconds=round(baseline, 3),
        ratio_no_backoff=round(immediate / baseline, 2),
        ratio_default_backoff=round(default / baseline, 2),
    )
