"""One roost per data dir: a second `roost up` on the same data dir says which pid holds
it and exits non-zero, touching nothing: the first one's apps and broker keep running."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import psutil

from roost.testing.broker import free_port
from roost_supervisor.datalock import hold_data_dir, lock_path

from .cli_process import clean_env, roost, roost_up, write_one_app_config


def _tree(root: Path) -> dict[str, float]:
    return {str(p.relative_to(root)): p.stat().st_mtime for p in root.rglob("*") if p.is_file()}


async def test_a_locked_data_dir_is_refused_before_anything_is_made(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with hold_data_dir(data, what="a test"):
        before = _tree(data)
        result = await roost("up", cwd=tmp_path, env=clean_env())
        assert _tree(data) == before  # no accounts, no broker dir, no logs
    assert result.code != 0
    assert f"pid {os.getpid()}" in result.err
    assert "one roost per data dir" in result.err
    assert "ROOST_NODE__DATA_DIR" in result.err
    assert lock_path(data).is_file()


async def test_roost_supervisor_alone_takes_the_same_lock(tmp_path: Path) -> None:
    data = tmp_path / "data"
    supervisor = str(Path(sys.executable).parent / "roost-supervisor")
    with hold_data_dir(data, what="a test"):
        process = await asyncio.create_subprocess_exec(
            supervisor,
            cwd=tmp_path,
            env=clean_env(ROOST_NODE__DATA_DIR=str(data), ROOST_MQTT__PORT=str(free_port())),
            stderr=asyncio.subprocess.PIPE,
        )
        async with asyncio.timeout(60):
            _, err = await process.communicate()
    assert process.returncode == 2
    assert f"a test, pid {os.getpid()}" in err.decode()
    assert not (data / "supervisor").exists()


async def test_a_second_roost_up_leaves_the_first_ones_apps_alone(tmp_path: Path) -> None:
    write_sleeper_config(tmp_path)
    async with roost_up(tmp_path, clean_env()) as up:
        await up.line(r"roost is up: .* 1 of 1 app\(s\) running")
        family = up.family()
        assert family
        second = await roost("up", cwd=tmp_path, env=clean_env())
        assert second.code != 0
        assert f"pid {up.process.pid}" in second.err, second.err
        assert up.process.returncode is None
        assert all(psutil.pid_exists(pid) for pid in family)
        assert not any("left running" in line or "stopped" in line for line in up.lines)
        # The first one still stops cleanly, and only then is the data dir free again.
        assert await up.interrupt() == 0
    with hold_data_dir(tmp_path / "data"):
        pass


async def test_a_second_roost_up_on_the_same_broker_refuses_its_live_node_ids(
    tmp_path: Path,
) -> None:
    """Another data dir, the same broker: its supervisor's id is live, so it refuses
    before starting any app, and the first system's nodes are never marked stopped."""
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    write_sleeper_config(first)
    async with roost_up(first, clean_env()) as up:
        port = (await up.line(r"Mosquitto on 127\.0\.0\.1:(\d+)"))[1]
        await up.line(r"roost is up: .* 1 of 1 app\(s\) running")
        family = up.family()
        (second / "roost.toml").write_text(
            f"""
[up]
broker = "external"

[mqtt]
port = {port}

[supervisor.backup]
interval = 0

[supervisor.apps.sleeper]
command = [{json.dumps(sys.executable)}, "-c", {json.dumps(SLEEPER)}]
start_secs = 0.3
"""
        )
        again = await roost("up", cwd=second, env=clean_env())
        assert again.code == 2, (again.out, again.err)
        assert "'supervisor' is already live" in again.err
        assert "ROOST_NODE__ID" in again.err
        assert "roost is up" not in again.out
        env = clean_env(ROOST_MQTT__PORT=port)
        ps = await roost("ps", "--json", cwd=first, env=env)
        assert ps.code == 0, ps.err
        rows = {row["app"]: row for row in json.loads(ps.out)}
        assert rows["supervisor/sleeper"]["state"] == "running"
        assert rows["supervisor/sleeper"]["pid"] in family
        assert all(psutil.pid_exists(pid) for pid in family)


SLEEPER = "import time; time.sleep(600)"


def write_sleeper_config(folder: Path) -> None:
    """A roost.toml with its own broker and one app that sleeps."""
    write_one_app_config(folder, "sleeper", SLEEPER)
