"""Checking every roost service app's settings before anything starts.

Each service app's console script runs with `--check-config`, with exactly the command
line, environment and working directory its start will have (the same roost.toml, the
broker address `roost up` chose, the app's own `env`), so what it says is what the app
itself would say. The checks run side by side; a check costs one interpreter start.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from collections.abc import Mapping

from roost.errors import CONFIG_ERROR_EXIT, ConfigError
from roost.service import CHECK_CONFIG
from roost_supervisor.launch import Launch, Launcher
from roost_supervisor.process import Exit
from roost_supervisor.services import CATALOG
from roost_supervisor.settings import AppSpec

# Seconds one check may take (an interpreter start and the imports of one service).
CHECK_TIMEOUT = 60.0


class AppConfigErrors(ConfigError):
    """Apps whose settings are wrong: one line each in `problems`."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def error_line(output: str, service: str) -> str:
    """The one line a roost service printed about its config error (the last line it
    wrote), without its `roost-<service>: ` prefix."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    if not lines:
        return "no message"
    return lines[-1].removeprefix(f"{CATALOG[service].script}: ")


async def check_app_configs(apps: Mapping[str, AppSpec], launcher: Launcher) -> list[str]:
    """One line per service app whose settings are wrong (`app i2c-bridge: …`); empty
    when every one of them would start."""
    names = [name for name, spec in apps.items() if spec.service is not None]
    found = await asyncio.gather(
        *(_check(apps[name], launcher.launch(apps[name])) for name in names)
    )
    return [f"app {name}: {problem}" for name, problem in zip(names, found, strict=True) if problem]


async def _check(spec: AppSpec, launch: Launch) -> str | None:
    assert spec.service is not None
    try:
        process = await asyncio.create_subprocess_exec(
            *launch.argv,
            CHECK_CONFIG,
            env=launch.env,
            cwd=launch.cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
    except OSError as exc:
        return f"cannot start {launch.argv[0]}: {exc.strerror or exc}"
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            _, err = await process.communicate()
    except TimeoutError:
        return f"its config check did not finish within {CHECK_TIMEOUT:g} s"
    finally:
        if process.returncode is None:  # timed out, or `roost up` was interrupted
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
    code = process.returncode
    assert code is not None
    if code == 0:
        return None
    line = error_line(err.decode(errors="replace"), spec.service)
    if code == CONFIG_ERROR_EXIT:
        return line
    return f"its config check {Exit(code).describe()}: {line}"
