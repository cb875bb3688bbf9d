"""Every listing of the `roost` command in an 80-column terminal, against a real system: a
supervisor running the simulated i2c bridge and the event engine with its example scripts,
an app that keeps crashing (a long reason), and an idle one. No key value (an id, a state,
a time) is cut, no line is wider than 80 columns, and sizes and durations read as a person
reads them."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import Path

from rich.cells import cell_len

from roost.bus import Bus
from roost.mirror import StateView
from roost.settings import RoostSettings
from roost_supervisor.services import service_app
from roost_supervisor.settings import Settings
from roost_supervisor.states import AppState

from .cli_process import Result, clean_env, roost
from .conftest import python_app, supervising

WIDTH = 80
CRASHER = "import sys; print('the configuration has no such key'); sys.exit(3)"


def env_for(settings: RoostSettings) -> dict[str, str]:
    mqtt = settings.mqtt
    return clean_env(
        ROOST_MQTT__HOST=mqtt.host,
        ROOST_MQTT__PORT=str(mqtt.port),
        ROOST_MQTT__PREFIX=mqtt.prefix,
        ROOST_MQTT__DISCOVERY_PREFIX=mqtt.discovery_prefix,
        ROOST_CONFIG="",
        COLUMNS=str(WIDTH),
    )


def fits(result: Result) -> list[str]:
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    too_wide = [line for line in lines if cell_len(line) > WIDTH]
    assert not too_wide, "\n".join(too_wide)
    assert "…" not in result.out, result.out
    return lines


def row_of(lines: list[str], first: str) -> str:
    """The line whose first column is exactly `first`."""
    found = [line for line in lines if line.split(" ", 1)[0] == first]
    assert found, f"no row starting with {first!r} in:\n" + "\n".join(lines)
    return found[0]


async def until(view: StateView, check: Callable[[StateView], bool], timeout: float = 30) -> None:
    """Wait until `check` holds, looking again at every change the broker brings."""
    changed = asyncio.Event()
    remove = view.add_listener(lambda _: changed.set())
    try:
        async with asyncio.timeout(timeout):
            while not check(view):
                changed.clear()
                await changed.wait()
    finally:
        remove()


async def next_change(view: StateView) -> None:
    changed = asyncio.Event()
    remove = view.add_listener(lambda _: changed.set())
    try:
        async with asyncio.timeout(30):
            await changed.wait()
    finally:
        remove()


async def test_every_listing_fits_80_columns_and_shows_human_units(
    make_settings: Callable[..., Settings], roost_settings: RoostSettings, tmp_path: Path
) -> None:
    apps = {
        "i2c-bridge": service_app("i2c-bridge"),
        "event-engine": service_app("event-engine"),
        "idle": python_app(),
        "crasher": python_app(CRASHER, backoff_max=30),
    }
    settings = make_settings(apps, sample_interval=0.5)
    env = env_for(roost_settings)
    async with supervising(settings) as h, Bus(roost_settings.mqtt, reconnect=False) as bus:
        view = StateView(bus.topics)
        await view.attach(bus)
        node = h.node

        def ready(v: StateView) -> bool:
            try:
                pwm = v.device("i2c-bridge/pca9685-40")
                idle = v.device(f"{node}/idle")
                crasher = v.device(f"{node}/crasher")
            except KeyError:
                return False
            return (
                "ch0_duty" in pwm.state
                and isinstance(idle.state.get("rss"), int)
                and (crasher.state.get("restarts") or 0) >= 1
            )

        await until(view, ready)
        # the example scripts have run on the bridge's readings
        for _ in range(300):
            log = await bus.request("event-engine", "log", {"limit": 5})
            if log.ok and isinstance(log.data, dict) and log.data.get("entries"):
                break
            await next_change(view)

        status = fits(await roost("status", cwd=tmp_path, env=env))
        for node_id in (node, "i2c-bridge", "event-engine"):
            assert row_of(status, node_id).split()[1] == "online"

        ps = fits(await roost("ps", cwd=tmp_path, env=env))
        assert row_of(ps, "i2c-bridge").split()[1] == "running"
        assert row_of(ps, "idle").split()[1] == "running"
        # whatever moment of its crash loop, its state word is whole
        assert row_of(ps, "crasher").split()[1] in {state.value for state in AppState}
        # memory in MB, never a raw count of bytes
        assert re.search(r"\d+(\.\d)? MB", row_of(ps, "idle")), "\n".join(ps)
        # the reason column is there (folded to the width left)
        assert "reason" in ps[0]

        devices = fits(await roost("devices", cwd=tmp_path, env=env))
        text = "\n".join(devices)
        for device in view.devices():
            row = row_of(devices, device.ref)
            assert row.split()[1] in ("online", "offline"), row
        # values fold between items, never inside one: each `prop=value unit` on one line
        assert re.search(r"ch0_duty=\d+(\.\d+)? %", text), text
        assert re.search(r"frequency=\d+ Hz", text), text
        assert re.search(r"rss=\d+(\.\d)? MB", text), text
        assert not re.search(r"\d{5,} B\b", text), text

        log_lines = fits(await roost("scripts", "log", cwd=tmp_path, env=env))
        times = [line for line in log_lines if re.match(r"\d\d:\d\d:\d\d\.\d{3} ", line)]
        assert times, "\n".join(log_lines)
        assert "i2c-bridge/bme280-76" in "\n".join(log_lines)
