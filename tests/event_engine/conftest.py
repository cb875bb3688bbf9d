"""An engine on the session broker with scripts of the test's own, and small owner nodes
whose devices the scripts watch and command."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest_asyncio

from roost.bus import Bus
from roost.models import DeviceMeta, PropertySpec
from roost.node import Node
from roost.settings import NodeSettings, RoostSettings
from roost.testing import Watcher
from roost_event_engine.engine import Engine
from roost_event_engine.runlog import LogEntry
from roost_event_engine.settings import EngineSection, Settings

_engines = itertools.count(1)

LAMP = DeviceMeta(
    name="Lamp",
    properties={
        "level": PropertySpec(kind="number", min=0, max=100, settable=True),
        "power": PropertySpec(kind="switch", settable=True),
    },
)
SENSOR = DeviceMeta(
    name="Sensor",
    properties={"temperature": PropertySpec(kind="number", unit="°C")},
    events=["person"],
)
FAN = DeviceMeta(
    name="Fan",
    properties={"duty": PropertySpec(kind="number", min=0, max=100, step=1, settable=True)},
)


@dataclass
class Running:
    engine: Engine
    node: Node
    settings: Settings
    scripts: Path
    bus: Bus

    @property
    def id(self) -> str:
        return self.node.id

    def write(self, path: str, source: str) -> None:
        target = self.scripts / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(source)

    async def entry(self, predicate: Callable[[LogEntry], bool], timeout: float = 10.0) -> LogEntry:
        return await self.engine.runlog.wait_for(predicate, timeout=timeout)

    def watcher(self, leaf: str) -> Watcher:
        return Watcher(self.bus, f"{self.node.topics.prefix}/{self.id}/{leaf}")


def _make_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)


StartEngine = Callable[..., Awaitable[Running]]


@pytest_asyncio.fixture
async def start_engine(
    roost_settings: RoostSettings, tmp_path: Path, bus: Bus
) -> AsyncIterator[StartEngine]:
    running: list[tuple[Running, asyncio.Task[None]]] = []

    async def start(
        scripts: dict[str, str] | None = None, *, node_id: str | None = None, **section: Any
    ) -> Running:
        n = next(_engines)
        root = tmp_path / f"scripts-{n}"
        section.setdefault("scripts_dir", root)
        section.setdefault("devices", {})
        section.setdefault("reload_interval", 0.05)
        section.setdefault("workers", 2)
        if section["scripts_dir"] is not None:
            _make_dir(Path(section["scripts_dir"]))
        settings = Settings(
            mqtt=roost_settings.mqtt,
            node=NodeSettings(id=node_id or f"engine-{n}", data_dir=tmp_path / f"data-{n}"),
            event_engine=EngineSection.model_validate(section),
        )
        node = Node(settings, service="event-engine", persistent_session=True)
        engine = Engine(settings, node)
        run = Running(engine, node, settings, engine.folder.root, bus)
        for path, source in (scripts or {}).items():
            run.write(path, source)
        await engine.attach()
        await node.start()
        task = asyncio.create_task(engine.run())
        running.append((run, task))
        ready = asyncio.create_task(engine.ready.wait())
        done, _ = await asyncio.wait({ready, task}, timeout=20, return_when="FIRST_COMPLETED")
        if ready not in done:
            ready.cancel()
            if task in done:
                task.result()
            raise TimeoutError("the engine did not get ready")
        return run

    async def stop(run: Running) -> None:
        for entry in [e for e in running if e[0] is run]:
            running.remove(entry)
            entry[1].cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await entry[1]
            await run.engine.close()
            await run.node.stop()

    start.stop = stop  # type: ignore[attr-defined]
    yield start
    for run, _ in list(running):
        await stop(run)


@pytest_asyncio.fixture
async def lab(roost_settings: RoostSettings) -> AsyncIterator[Node]:
    """A node `lab` with a lamp, a sensor and a fan that take commands as a real owner."""
    node = Node(roost_settings, service="test", node_id="lab")
    node.add_device("lamp", LAMP).update(level=0, power=False)
    node.add_device("sensor", SENSOR).update(temperature=20.0)
    node.add_device("fan", FAN).update(duty=0)
    async with node:
        await node.wait_online(5)
        yield node
