"""A config mistake is said once, not crash-looped: `roost up` checks every service app's
settings before it starts anything."""

from __future__ import annotations

import asyncio
from pathlib import Path

from roost.errors import CONFIG_ERROR_EXIT

from .cli_process import clean_env, communicate, roost_up

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
