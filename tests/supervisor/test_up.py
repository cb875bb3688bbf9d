"""`roost up` as a user runs it: a process of its own, its own broker, the demo or the
configured apps; the CLI drives it through the broker; Ctrl-C or `roost down` ends it
with no process left behind."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from roost.bus import Bus
from roost.mirror import StateView
from roost.settings import MqttSettings
from roost.testing import Watcher
from roost_supervisor.services import CATALOG

from .cli_process import clean_env, roost, roost_up, write_one_app_config
from .conftest import APPS, gone


async def until(view: StateView, check: Callable[[], bool], timeout: float) -> None:
    async with view.changes() as changes:
        async with asyncio.timeout(timeout):
            while not check():
                await changes.get()


async def test_roost_up_runs_the_demo_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    began = time.monotonic()
    env = clean_env(ROOST_UP__BROKER="own", ROOST_UP__PORT="0")
    installed = {name for name, info in CATALOG.items() if info.installed()}
    async with roost_up(tmp_path, env) as up:
        port = int((await up.line(r"Mosquitto on 127\.0\.0\.1:(\d+)"))[1])
        await up.line(r"broker: running")
        async with Bus(MqttSettings(port=port), reconnect=False) as bus:
            view = StateView(bus.topics)
            discovery = Watcher(bus, f"{bus.topics.discovery_prefix}/#")
            await discovery.start()
            await view.attach(bus)
            await bus.sync()

            def everything_up() -> bool:
                supervisor = view.nodes.get("supervisor")
                if supervisor is None or not supervisor.online:
                    return False
                if not {"host", "backups", *installed} <= set(supervisor.devices):
                    return False
                apps = [supervisor.devices[name] for name in installed]
                if any(app.state.get("state") != "running" for app in apps):
                    return False
                return all(d.meta is not None and d.state for d in view.devices())

            await until(view, everything_up, timeout=60)
            took = time.monotonic() - began
            for device in view.devices():
                prefix = f"/{device.node}/{device.id}_"
                assert any(prefix in m.topic for m in discovery.messages), device.ref
            host = view.device("supervisor/host").state
            assert host["disk_data_free"] > 0
        await up.line(r"roost is up: .* (\d+) of (\d+) app\(s\) running")
        family = up.family()
        assert family  # at least the broker
        assert await up.interrupt() == 0
    assert "roost up: broker: stopped" in up.lines
    assert all(gone(pid) for pid in family), [
        psutil.Process(p).cmdline() for p in family if not gone(p)
    ]
    print(f"demo up with every device's state and discovery in {took:.1f} s")


LOGIN = "http://127.0.0.1:8080/login?token=one-time"


def probe_config(path: Path) -> None:
    python = json.dumps(sys.executable)
    path.write_text(
        f"""
[up]
broker = "own"
port = 0

[supervisor.backup]
interval = 0

[supervisor.apps.probe]
command = [{python}, {json.dumps(str(APPS / "node_app.py"))}, "probe"]
node = "probe"
health = {{ kind = "availability", start_timeout = 30 }}
stop_timeout = 5

[supervisor.apps.sleeper]
command = [{python}, "-c", "import time; print('sleeping', flush=True); time.sleep(600)"]
start_secs = 0.3
stop_timeout = 5

# Writes a login URL as the web UI does; roost up prints it.
[supervisor.apps.fake-webui]
command = [{python}, {json.dumps(str(APPS / "login_url.py"))}, "{LOGIN}"]
start_secs = 0.3
stop_timeout = 5
"""
    )


async def test_cli_drives_roost_up_through_the_broker_and_down_ends_it(tmp_path: Path) -> None:
    probe_config(tmp_path / "roost.toml")
    async with roost_up(tmp_path, clean_env()) as up:
        port = (await up.line(r"Mosquitto on 127\.0\.0\.1:(\d+)"))[1]
        await up.line(r"roost is up: .* 3 of 3 app\(s\) running")
        await up.line(r"web UI: http://127\.0\.0\.1:8080/login\?token=one-time")
        # The CLI runs elsewhere (another directory, no config): it knows only the broker.
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        env = clean_env(ROOST_MQTT__PORT=port)

        ps = await roost("ps", "--json", cwd=elsewhere, env=env)
        assert ps.code == 0, ps.err
        rows = {row["app"]: row for row in json.loads(ps.out)}
        assert rows["supervisor/probe"]["state"] == "running"
        assert rows["supervisor/sleeper"]["state"] == "running"
        old_pid = rows["supervisor/sleeper"]["pid"]

        restarted = await roost("restart", "sleeper", cwd=elsewhere, env=env)
        assert restarted.code == 0, restarted.err
        assert "supervisor/sleeper: running (pid" in restarted.out
        assert gone(old_pid)

        logs = await roost("logs", "probe", "-n", "20", cwd=elsewhere, env=env)
        assert logs.code == 0, logs.err
        assert "node probe serving" in logs.out

        stopped = await roost("stop", "supervisor/sleeper", cwd=elsewhere, env=env)
        assert stopped.code == 0 and "stopped" in stopped.out, stopped.err
        twice = await roost("stop", "sleeper", cwd=elsewhere, env=env)
        assert twice.code == 0 and "already stopped" in twice.out, twice.err
        started = await roost("start", "sleeper", cwd=elsewhere, env=env)
        assert started.code == 0 and "running" in started.out, started.err

        unknown = await roost("restart", "nope", cwd=elsewhere, env=env)
        assert unknown.code == 2 and "no app nope" in unknown.err

        family = up.family()
        down = await roost("down", cwd=elsewhere, env=env)
        assert down.code == 0, down.err
        assert "every app stopped" in down.out
        assert await asyncio.wait_for(up.process.wait(), 60) == 0
    assert any("stopped by `roost down`" in line for line in up.lines)
    assert all(gone(pid) for pid in family)


async def test_init_backup_restore_from_the_command_line(tmp_path: Path) -> None:
    old = tmp_path / "old"
    old.mkdir()
    (old / "roost.toml").write_text("[supervisor.backup]\nkeep = 3\n")
    env = clean_env()
    made = await roost("init", cwd=old, env=env)
    assert made.code == 0, made.err
    assert "admin secret (shown once, stored hashed):" in made.out
    assert "roost init --rotate" in made.out
    again = await roost(
        "init", "--user", "greenhouse-pi:node", "--show", "nodered", cwd=old, env=env
    )
    assert again.code == 0, again.err
    assert "admin secret (shown once" not in again.out
    assert "greenhouse-pi" in again.out
    nodered = (old / "data" / "secrets" / "nodered.password").read_text().strip()
    assert f"nodered: {nodered}" in again.out
    bad = await roost("init", "--user", "x:wizard", cwd=old, env=env)
    assert bad.code == 2 and "role" in bad.err

    written = await roost("backup", "-o", str(tmp_path / "move.tar.gz"), cwd=old, env=env)
    assert written.code == 0, written.err
    assert "roost restore move.tar.gz" in written.out

    new = tmp_path / "new"
    new.mkdir()
    restored = await roost("restore", str(tmp_path / "move.tar.gz"), cwd=new, env=env)
    assert restored.code == 0, restored.err
    assert (new / "roost.toml").read_text() == (old / "roost.toml").read_text()
    assert (new / "data/secrets/greenhouse-pi.password").read_text().strip()
    assert (new / "data/secrets/admin.json").read_bytes() == (
        old / "data/secrets/admin.json"
    ).read_bytes()
    twice = await roost("restore", str(tmp_path / "move.tar.gz"), cwd=new, env=env)
    assert twice.code == 1 and "--force" in twice.err


async def test_a_second_ctrl_c_kills_what_is_left_at_once(tmp_path: Path) -> None:
    deaf = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"
    write_one_app_config(tmp_path, "deaf", deaf, "stop_timeout = 300\n")
    async with roost_up(tmp_path, clean_env()) as up:
        await up.line(r"roost is up: .* 1 of 1 app\(s\) running")
        family = up.family()
        up.process.send_signal(signal.SIGINT)
        await up.line(r"stopping every app")
        up.process.send_signal(signal.SIGINT)
        await up.line(r"killing every app now")
        assert await asyncio.wait_for(up.process.wait(), 30) == 0
    assert "roost up: broker: stopped" in up.lines
    assert all(gone(pid) for pid in family)
