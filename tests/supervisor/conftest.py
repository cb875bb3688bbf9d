"""Running a real supervisor against the session broker, with real child processes."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest

from roost.bus import Bus
from roost.settings import RoostSettings
from roost.testing import Watcher
from roost_supervisor.launch import Launcher
from roost_supervisor.settings import (
    AppSpec,
    BackupSection,
    HostSection,
    Settings,
    SupervisorSection,
)
from roost_supervisor.supervisor import Supervisor

APPS = Path(__file__).parent / "apps"
SLEEPER = "import time; time.sleep(600)"


def python_app(code: str = SLEEPER, **fields: Any) -> AppSpec:
    fields.setdefault("start_secs", 0.2)
    fields.setdefault("stop_timeout", 3.0)
    return AppSpec.model_validate({"command": [sys.executable, "-c", code], **fields})


def script_app(script: str, *args: str, **fields: Any) -> AppSpec:
    fields.setdefault("start_secs", 0.2)
    fields.setdefault("stop_timeout", 3.0)
    return AppSpec.model_validate(
        {"command": [sys.executable, str(APPS / script), *args], **fields}
    )


def supervisor_settings(base: RoostSettings, apps: dict[str, AppSpec], **section: Any) -> Settings:
    section.setdefault("host", HostSection(interval=0.5))
    section.setdefault("backup", BackupSection(interval=0))
    section.setdefault("sample_interval", 0.5)
    return Settings(
        mqtt=base.mqtt,
        node=base.node,
        supervisor=SupervisorSection(apps=apps, **section),
    )


@dataclass
class Harness:
    supervisor: Supervisor
    bus: Bus
    watcher: Watcher
    stop: asyncio.Event
    task: asyncio.Task[None]

    async def shutdown(self) -> None:
        """Stop the supervisor (every app) and wait until it has gone offline."""
        self.stop.set()
        await asyncio.wait_for(self.task, 30)

    @property
    def node(self) -> str:
        return self.supervisor.node.id

    def state_topic(self, app: str) -> str:
        return self.bus.topics.state(self.node, app)

    async def state(
        self,
        app: str,
        check: Callable[[dict[str, Any]], bool],
        *,
        since: int = 0,
        timeout: float = 15,
    ) -> dict[str, Any]:
        """The first state of `app` (at or after `since`) for which `check` holds."""
        return await self.watcher.wait_json(  # type: ignore[no-any-return]
            self.state_topic(app), check, since=since, timeout=timeout
        )

    async def running(self, app: str, *, since: int = 0) -> dict[str, Any]:
        return await self.state(app, lambda s: s["state"] == "running", since=since)

    async def press(self, app: str, button: str) -> None:
        await self.bus.publish(self.bus.topics.set(self.node, app), {button: True})

    def mark(self) -> int:
        return self.watcher.mark()

    @contextlib.asynccontextmanager
    async def bus_watch(self, topic_filter: str) -> AsyncIterator[Watcher]:
        async with Watcher(self.bus, topic_filter) as watcher:
            yield watcher


@contextlib.asynccontextmanager
async def supervising(settings: Settings) -> AsyncIterator[Harness]:
    from roost_supervisor.services import planned_apps

    launcher = Launcher(settings.mqtt, settings.node.data_dir)
    supervisor = Supervisor(settings, planned_apps(settings), launcher)
    stop = asyncio.Event()
    async with Bus(settings.mqtt, reconnect=False) as bus:
        watcher = Watcher(bus, f"{bus.topics.prefix}/#")
        await watcher.start()
        task = asyncio.create_task(supervisor.serve(stop.wait()))
        harness = Harness(supervisor, bus, watcher, stop, task)
        try:
            yield harness
        finally:
            await harness.shutdown()
            await watcher.stop()


def gone(pid: int) -> bool:
    """True once `pid` no longer runs (a zombie waiting for its parent counts as gone)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.fixture
def make_settings(roost_settings: RoostSettings) -> Callable[..., Settings]:
    def make(apps: dict[str, AppSpec], **section: Any) -> Settings:
        return supervisor_settings(roost_settings, apps, **section)

    return make
