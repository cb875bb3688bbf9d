"""The wheel as users get it: built from this tree, installed (not editable) with `[all]`
into a venv of its own, every console script serves from it.

The wheel is built from a copy of the tree without the ignored build output (`build/`,
`*.egg-info`, `.venv`): setuptools keeps the files of earlier builds in `build/`, so an
in-tree build could pass here and still lack a file on a clean clone. The copy keeps
`tests/` and any `__pycache__` so the check that the wheel holds neither can fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import zipfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import httpx
import psutil
import pytest

from roost.bus import Bus
from roost.settings import RoostSettings
from roost.testing import Watcher

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_ROOTS = ("shared", "services")
# Generated or private top-level directories: never part of a build (.gitignore).
NOT_SOURCE = {".git", ".venv", "build", "dist", "data", "node_modules", "test-artifacts",
              ".mypy_cache", ".ruff_cache", ".pytest_cache"}  # fmt: skip
NOT_IN_A_WHEEL = {"tests", "__pycache__", ".venv", "venv", "site-packages", "node_modules",
                  ".mypy_cache", ".ruff_cache", ".pytest_cache", "build"}  # fmt: skip
START_TIMEOUT = 60.0  # imports of OpenCV and friends on a busy 2-core machine
STOP_TIMEOUT = 20.0

# Installing [all] and starting seven services takes a minute or two.
pytestmark = pytest.mark.timeout(600)


@dataclass(frozen=True)
class Installed:
    source: Path
    wheel: Path
    venv: Path

    def script(self, name: str) -> Path:
        return self.venv / "bin" / name

    def names(self) -> list[str]:
        with zipfile.ZipFile(self.wheel) as archive:
            return archive.namelist()


def _copy_source(target: Path) -> Path:
    def ignore(directory: str, names: list[str]) -> set[str]:
        top = Path(directory) == ROOT
        return {n for n in names if (top and n in NOT_SOURCE) or n.endswith(".egg-info")}

    shutil.copytree(ROOT, target, ignore=ignore, symlinks=True)
    return target


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    work = tmp_path_factory.mktemp("wheel")
    source = _copy_source(work / "source")
    dist = work / "dist"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    subprocess.run(
        [*pip, "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(dist), str(source)],
        check=True, capture_output=True,
    )  # fmt: skip
    (wheel,) = dist.glob("roost-*.whl")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    # A real install with dependencies (from pip's cache or the index), as a user gets it;
    # without compiling every module up front, which costs time and proves nothing here.
    subprocess.run(
        [venv / "bin" / "python", "-m", "pip", "install", "-q", "--disable-pip-version-check",
         "--no-compile", f"{wheel}[all]"],
        check=True, capture_output=True,
    )  # fmt: skip
    return Installed(source, wheel, venv)


def data_files(tree: Path) -> set[str]:
    """Every file of the packages in `tree` that is not Python source: what a wheel must
    carry beside the modules (package paths, as in the wheel)."""
    found = set()
    for where in PACKAGE_ROOTS:
        for package in (tree / where).iterdir():
            if not (package / "__init__.py").is_file():
                continue
            for path in package.rglob("*"):
                source = path.suffix in (".py", ".pyc") or "__pycache__" in path.parts
                if path.is_file() and not source:
                    found.add(path.relative_to(tree / where).as_posix())
    return found


def test_the_wheel_ships_every_data_file_and_nothing_else(installed: Installed) -> None:
    names = installed.names()
    missing = data_files(installed.source) - set(names)
    assert not missing, f"the wheel lacks {sorted(missing)} (pyproject.toml package-data)"
    packages = {
        p.name
        for where in PACKAGE_ROOTS
        for p in (installed.source / where).iterdir()
        if (p / "__init__.py").is_file()
    }
    tops = {name.split("/")[0] for name in names}
    assert tops == {*packages, next(t for t in tops if t.endswith(".dist-info"))}
    unwanted = [
        name
        for name in names
        if NOT_IN_A_WHEEL & set(PurePosixPath(name).parts)
        or name.endswith((".pyc", "pyvenv.cfg", "conftest.py"))
        or PurePosixPath(name).name.startswith("test_")
    ]
    assert not unwanted


def test_the_venv_runs_the_wheel_not_this_tree(installed: Installed) -> None:
    probe = "import roost, roost_webui; print(roost.__file__); print(roost_webui.__file__)"
    found = subprocess.run(
        [installed.venv / "bin" / "python", "-c", probe],
        env=clean_env(), cwd=installed.venv, check=True, capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    assert all(Path(path).is_relative_to(installed.venv) for path in found), found


# running its console scripts ---------------------------------------------------------------
def clean_env(**extra: str) -> dict[str, str]:
    """The environment without the caller's roost settings, venv or source tree."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("ROOST_") and key not in ("PYTHONPATH", "VIRTUAL_ENV")
    }
    env["PATH"] = os.pathsep.join(
        entry for entry in env.get("PATH", "").split(os.pathsep) if not entry.startswith(str(ROOT))
    )
    env.update(extra)
    return env


def broker_env(settings: RoostSettings, **extra: str) -> dict[str, str]:
    mqtt = settings.mqtt
    return clean_env(
        ROOST_MQTT__HOST=mqtt.host,
        ROOST_MQTT__PORT=str(mqtt.port),
        ROOST_MQTT__PREFIX=mqtt.prefix,
        ROOST_MQTT__DISCOVERY_PREFIX=mqtt.discovery_prefix,
        **extra,
    )


@dataclass
class Running:
    """A started console script and what it has printed so far."""

    process: asyncio.subprocess.Process
    lines: list[str] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    async def line(self, pattern: str, timeout: float = START_TIMEOUT) -> re.Match[str]:
        """The first printed line matching `pattern` (waits for it)."""
        seen = 0
        try:
            async with asyncio.timeout(timeout):
                while True:
                    for text in self.lines[seen:]:
                        if match := re.search(pattern, text):
                            return match
                    seen = len(self.lines)
                    if self.process.returncode is not None:
                        raise AssertionError(f"it exited; it printed:\n{self.output}")
                    self.arrived.clear()
                    await self.arrived.wait()
        except TimeoutError:
            raise AssertionError(f"no line like {pattern!r}; it printed:\n{self.output}") from None

    async def stop(self, sig: signal.Signals = signal.SIGTERM) -> int:
        self.process.send_signal(sig)
        async with asyncio.timeout(STOP_TIMEOUT):
            return await self.process.wait()


@contextlib.asynccontextmanager
async def started(*command: str | Path, cwd: Path, env: dict[str, str]) -> AsyncIterator[Running]:
    process = await asyncio.create_subprocess_exec(
        *command, cwd=cwd, env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    running = Running(process)

    async def read() -> None:
        assert process.stdout is not None
        async for raw in process.stdout:
            running.lines.append(raw.decode(errors="replace").rstrip("\n"))
            running.arrived.set()
        await process.wait()
        running.arrived.set()

    reader = asyncio.create_task(read())
    try:
        yield running
    finally:
        if process.returncode is None:  # the test failed: leave nothing running
            with contextlib.suppress(psutil.Error):
                for child in psutil.Process(process.pid).children(recursive=True):
                    child.kill()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        await reader


@dataclass(frozen=True)
class Serves:
    """What proves a service serves: its node's device(s) publishing as they should."""

    node: str
    device: str
    check: Callable[[Any], bool]
    config: str = ""


def _all_set(*props: str) -> Callable[[Any], bool]:
    return lambda state: all(state[p] is not None for p in props)


EXAMPLE_SCRIPTS = 3  # services/roost_event_engine/examples/**/*.js
SERVICES: dict[str, Serves] = {
    "i2c-bridge": Serves("i2c-bridge", "bme280-76", _all_set("temperature", "humidity")),
    "recorder": Serves("recorder", "database", lambda state: state is not None),
    # The shipped examples (copied into the data dir) all load in workers that run the
    # shipped runtime.js.
    "event-engine": Serves(
        "event-engine",
        "engine",
        lambda s: s["scripts"] == EXAMPLE_SCRIPTS and s["broken_scripts"] == 0,
    ),
    "camera": Serves("camera", "demo", lambda state: state is not None),
    "detector": Serves("detector", "model", lambda state: state is not None),
    # It runs an app from the same venv: the i2c bridge's console script beside its own.
    "supervisor": Serves(
        "supervisor",
        "i2c-bridge",
        lambda s: s["state"] == "running",
        config='[supervisor]\nservices = ["i2c-bridge"]\n[supervisor.backup]\ninterval = 0\n',
    ),
}


@pytest.mark.parametrize("service", sorted(SERVICES))
async def test_each_service_serves_from_the_wheel(
    installed: Installed, roost_settings: RoostSettings, bus: Bus, tmp_path: Path, service: str
) -> None:
    serves = SERVICES[service]
    if serves.config:
        (tmp_path / "roost.toml").write_text(serves.config)
    t = bus.topics
    async with Watcher(bus, f"{t.prefix}/#") as seen:
        script = installed.script(f"roost-{service}")
        async with started(script, cwd=tmp_path, env=broker_env(roost_settings)) as running:
            try:
                await seen.wait_for(
                    lambda m: m.payload == b"online",
                    topic=t.node_availability(serves.node),
                    timeout=START_TIMEOUT,
                )
                await seen.wait_json(
                    t.state(serves.node, serves.device), serves.check, timeout=START_TIMEOUT
                )
                mark = seen.mark()
                assert await running.stop() == 0
                await seen.wait_for(
                    lambda m: m.payload == b"offline",
                    topic=t.node_availability(serves.node),
                    since=mark,
                )
            except (AssertionError, TimeoutError) as exc:
                raise AssertionError(f"{exc}\nroost-{service} printed:\n{running.output}") from None
    assert "Traceback" not in running.output, running.output


async def test_the_web_ui_serves_its_pages_from_the_wheel(
    installed: Installed, roost_settings: RoostSettings, tmp_path: Path
) -> None:
    env = broker_env(roost_settings, ROOST_WEBUI__PORT="0")
    async with started(installed.script("roost-webui"), cwd=tmp_path, env=env) as running:
        base = (await running.line(r"web UI at (http://\S+)"))[1]
        link = (await running.line(r"one-time login link .*: (http://\S+)"))[1]
        await check_web_ui(installed, base, link)
        assert await running.stop() == 0
    assert "Traceback" not in running.output, running.output


async def check_web_ui(installed: Installed, base: str, link: str) -> None:
    """The login page, a login through the link, the app page and every static file."""
    static = [
        name.removeprefix("roost_webui/")
        for name in installed.names()
        if name.startswith("roost_webui/static/")
    ]
    assert "static/login.html" in static
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        login = await client.get("/login")
        assert login.status_code == 200
        assert "<form" in login.text
        entered = await client.get(link, follow_redirects=True)
        assert entered.status_code == 200
        index = await client.get("/")
        assert index.status_code == 200
        assert "/static/" in index.text
        for path in static:
            if path.endswith(".html"):
                continue  # pages, served above through their routes
            answer = await client.get(f"/{path}")
            assert answer.status_code == 200, path


async def cli(installed: Installed, *args: str, env: dict[str, str]) -> tuple[int, str]:
    """`roost ARGS` from the wheel's venv: its exit code and what it printed."""
    process = await asyncio.create_subprocess_exec(
        installed.script("roost"), *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    async with asyncio.timeout(START_TIMEOUT):
        said = (await process.communicate())[0].decode()
    assert process.returncode is not None
    return process.returncode, said


async def test_the_cli_from_the_wheel_drives_a_service(
    installed: Installed, roost_settings: RoostSettings, bus: Bus, tmp_path: Path
) -> None:
    env = {**broker_env(roost_settings), "COLUMNS": "200"}
    code, version = await cli(installed, "version", env=env)
    assert code == 0, version
    assert installed.wheel.name.startswith(f"roost-{version.strip()}-")
    code, usage = await cli(installed, "--help", env=env)
    # Commands the services add through entry points, read from the wheel's metadata.
    assert all(f" {command} " in usage for command in ("up", "ps", "scripts", "i2c")), usage
    t = bus.topics
    async with Watcher(bus, f"{t.prefix}/#") as seen:
        script = installed.script("roost-i2c-bridge")
        async with started(script, cwd=tmp_path, env=broker_env(roost_settings)) as running:
            await seen.wait_json(
                t.meta("i2c-bridge", "pca9685-40"), lambda meta: True, timeout=START_TIMEOUT
            )
            code, said = await cli(installed, "set", "pca9685-40", "ch1_duty=40", env=env)
            assert code == 0, said
            await seen.wait_json(
                t.state("i2c-bridge", "pca9685-40"), lambda s: s["ch1_duty"] == 40.0
            )
            assert await running.stop() == 0


async def test_roost_up_from_the_wheel_starts_its_own_broker_and_the_web_ui(
    installed: Installed, tmp_path: Path
) -> None:
    (tmp_path / "roost.toml").write_text(
        '[supervisor]\nservices = ["webui"]\n\n[supervisor.backup]\ninterval = 0\n\n'
        "[webui]\nport = 0\n"
    )
    # Its own Mosquitto, from the config template the wheel ships, on a free port.
    env = clean_env(ROOST_UP__BROKER="own", ROOST_UP__PORT="0")
    async with started(installed.script("roost"), "up", cwd=tmp_path, env=env) as up:
        await up.line(r"starting Mosquitto on 127\.0\.0\.1:\d+")
        await up.line(r"roost is up: .* 1 of 1 app\(s\) running: webui")
        link = (await up.line(r"web UI: (http://\S+)"))[1]
        await check_web_ui(installed, link.split("/login")[0], link)
        assert await up.stop(signal.SIGINT) == 0
    assert "broker: stopped" in up.output
    assert "Traceback" not in up.output, up.output
