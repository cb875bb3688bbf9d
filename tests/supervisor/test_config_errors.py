"""A config mistake is said once, not crash-looped: `roost up` checks every service app's
settings before it starts anything, and a roost service that exits with the config-error
code is `failed` with its error line, not restarted until a `start`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

from roost.errors import CONFIG_ERROR_EXIT
from roost_supervisor.services import service_app
from roost_supervisor.settings import Settings
from roost_supervisor.states import AppState

from .cli_process import clean_env, communicate, roost, roost_up
from .conftest import gone

BAD_I2C = "[i2c]\nscan_intervall = 5\n"
ERROR = "key i2c.scan_intervall: unknown key"


async def test_up_refuses_a_bad_config_and_starts_nothing(tmp_path: Path) -> None:
    (tmp_path / "roost.toml").write_text(
        f'[up]\nbroker = "own"\nport = 0\n\n[supervisor.backup]\ninterval = 0\n\n{BAD_I2C}'
    )
    async with roost_up(tmp_path, clean_env()) as up:
        assert await asyncio.wait_for(up.process.wait(), 90) == CONFIG_ERROR_EXIT
        family = up.family()
    err = (tmp_path / "roost-up.stderr").read_text().splitlines()
    assert f"roost: app i2c-bridge: config file {tmp_path / 'roost.toml'}, {ERROR}" in err, err
    assert err[-1].startswith("roost: nothing started"), err
    assert not any("broker:" in line or "apps:" in line for line in up.lines), up.lines
    assert not (tmp_path / "data" / "mosquitto" / "mosquitto.pid").exists()
    assert not (tmp_path / "data" / "supervisor" / "logs").exists()
    assert family == []


async def test_up_refuses_a_data_dir_it_cannot_make_in_one_line(tmp_path: Path) -> None:
    """A data dir that cannot be made (under /proc) was a Python traceback and exit 1."""
    blocked = tmp_path / "file"
    blocked.write_text("a file, not a folder")
    (tmp_path / "roost.toml").write_text(
        f'[node]\ndata_dir = "{blocked / "data"}"\n\n[up]\nbroker = "own"\nport = 0\n'
    )
    async with roost_up(tmp_path, clean_env()) as up:
        assert await asyncio.wait_for(up.process.wait(), 90) == CONFIG_ERROR_EXIT
    err = (tmp_path / "roost-up.stderr").read_text()
    assert "Traceback" not in err, err
    assert f"[node] data_dir {blocked / 'data'}: cannot create or write it" in err, err


async def test_check_config_flag(tmp_path: Path) -> None:
    (tmp_path / "roost.toml").write_text(BAD_I2C)
    bad = await _script("i2c-bridge", "--check-config", cwd=tmp_path)
    assert bad == (CONFIG_ERROR_EXIT, "", f"roost-i2c-bridge: config file roost.toml, {ERROR}\n")
    (tmp_path / "roost.toml").write_text("[i2c]\nscan_interval = 5\n")
    good = await _script("i2c-bridge", "--check-config", cwd=tmp_path)
    assert good == (0, "roost-i2c-bridge: config ok\n", "")
    wrong = await _script("i2c-bridge", "--frobnicate", cwd=tmp_path)
    assert wrong[0] == CONFIG_ERROR_EXIT and "--frobnicate" in wrong[2]


async def _script(service: str, *args: str, cwd: Path) -> tuple[int, str, str]:
    from roost_supervisor.services import service_command

    process = await asyncio.create_subprocess_exec(
        *service_command(service),
        *args,
        cwd=cwd,
        env=clean_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await communicate(process, 60)
    assert process.returncode is not None
    return process.returncode, out, err


async def test_a_config_error_exit_is_failed_not_restarted(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    from .conftest import supervising

    config = tmp_path / "bridge.toml"
    config.write_text(BAD_I2C)
    # A backoff of 0 would restart a crashed app at once: `failed` must not.
    bridge = service_app("i2c-bridge", env={"ROOST_CONFIG": str(config)}, backoff_initial=0)
    settings = make_settings({"i2c-bridge": bridge})
    async with supervising(settings) as h:
        failed = await h.state("i2c-bridge", lambda s: s["state"] == "failed", timeout=60)
        assert failed["reason"] == f"config error: config file {config}, {ERROR}"
        assert failed["exit_code"] == CONFIG_ERROR_EXIT
        assert failed["pid"] is None and failed["restarts"] == 0
        actor = h.supervisor.actors["i2c-bridge"]
        assert not actor.goal_up and actor.pending is None  # nothing will start it again
        log = actor.output.path.read_text()
        assert log.count("roost-supervisor: starting") == 1, log
        states = [m.json()["state"] for m in h.watcher.on(h.state_topic("i2c-bridge"))]
        assert "crashed" not in states and "backoff" not in states, states

        # `failed` is one of the state's options, for Home Assistant's enum sensor too.
        meta = await h.watcher.wait_json(h.bus.topics.meta(h.node, "i2c-bridge"))
        assert "failed" in meta["properties"]["state"]["options"]
        sensor = h.bus.topics.discovery("sensor", h.node, "i2c-bridge_state")
        async with h.bus_watch(sensor) as discovery:
            assert "failed" in (await discovery.wait_json(sensor))["options"]

        # `roost ps` shows it with its reason, from anywhere that reaches the broker.
        mqtt = settings.mqtt
        env = clean_env(ROOST_MQTT__PORT=str(mqtt.port), ROOST_MQTT__PREFIX=mqtt.prefix)
        ps = await roost("ps", "--json", cwd=tmp_path, env=env)
        assert ps.code == 0, ps.err
        row = {r["app"]: r for r in json.loads(ps.out)}["supervisor/i2c-bridge"]
        assert row["state"] == "failed"
        assert row["reason"] == failed["reason"]

        # Fixed, a `start` runs it (the failed state waits for exactly that).
        config.write_text("[i2c]\nscan_interval = 5\n")
        mark = h.mark()
        await h.press("i2c-bridge", "start")
        running = await h.running("i2c-bridge", since=mark)
        assert running["restarts"] == 0
        pid = running["pid"]
    assert gone(pid)


def test_every_app_state_is_documented() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "services" / "supervisor.md").read_text()
    listed = next(line for line in doc.splitlines() if line.startswith("| `state` | enum |"))
    for state in AppState:
        assert f"| `{state.value}` |" in doc, state
        assert f"`{state.value}`" in listed, state
