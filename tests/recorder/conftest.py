"""Recorder fixtures: settings on the test's broker and data dir, a recorder running in
this process, and helpers that wait for what it has written."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from roost.bus import Bus
from roost.models import DeviceMeta, PropertySpec
from roost.settings import RoostSettings
from roost.testing import Watcher
from roost_recorder.__main__ import Recorder
from roost_recorder.settings import RecorderSection, Settings
from roost_recorder.status import DEVICE_ID

SENSOR = DeviceMeta(
    name="Greenhouse sensor",
    model="test",
    properties={
        "temperature": PropertySpec(kind="number", unit="°C", precision=2),
        "humidity": PropertySpec(kind="number", unit="%"),
        "fan": PropertySpec(kind="switch", settable=True),
        "mode": PropertySpec(kind="enum", options=["auto", "manual"], settable=True),
        "alarm": PropertySpec(kind="event", options=["hot"]),
    },
)


def recorder_settings(base: RoostSettings, **section: Any) -> Settings:
    options: dict[str, Any] = {"status_interval": 0.05, "batch_interval": 0.05}
    options.update(section)
    return Settings(
        mqtt=base.mqtt, node=base.node, recorder=RecorderSection.model_validate(options)
    )


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[Recorder]:
    """A recorder in this process until the block ends (then stopped as by SIGTERM)."""
    recorder = await Recorder.open(settings)
    try:
        async with recorder.connected():
            tasks = [asyncio.create_task(part) for part in recorder.parts()]
            try:
                await recorder.node.wait_online(5)
                await recorder.ingest_bus.wait_connected(5)
                yield recorder
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        await recorder.close()


class RecorderWatch:
    """Waits on the recorder's own device state: `until_messages(n)` returns once n
    messages are committed."""

    def __init__(self, bus: Bus, node: str = "recorder") -> None:
        self.topic = bus.topics.state(node, DEVICE_ID)
        self.watcher = Watcher(bus, self.topic)

    async def __aenter__(self) -> RecorderWatch:
        await self.watcher.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.watcher.stop()

    async def until(self, check: Any, timeout: float = 10.0) -> dict[str, Any]:
        """The first state of the recorder's device for which `check(state)` holds."""
        state: dict[str, Any] = await self.watcher.wait_json(self.topic, check, timeout=timeout)
        return state

    async def until_stored(self, check: Callable[[], bool], timeout: float = 10.0) -> None:
        """Until `check()` (which reads the database) holds; checked on each state the
        recorder publishes, which it does after its writes."""
        if check():
            return
        await self.watcher.wait_for(lambda _: check(), topic=self.topic, timeout=timeout)


def count(settings: Settings | Path, sql: str, *args: Any) -> int:
    """One number from the recorder's database, read as any SQLite client would."""
    path = settings if isinstance(settings, Path) else settings.database_path()
    with sqlite3.connect(path) as db:
        row = db.execute(sql, args).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def samples_of(settings: Settings | Path, device: str, prop: str, table: str = "samples") -> int:
    """How many rows `device` (node/device) `prop` has in `table` (samples or changes)."""
    node, _, device_id = device.partition("/")
    return count(
        settings,
        f"SELECT count(*) FROM {table} AS t JOIN series AS s ON s.id = t.series_id "
        "JOIN devices AS d ON d.id = s.device_id WHERE d.node = ? AND d.device = ? "
        "AND s.prop = ?",
        node,
        device_id,
        prop,
    )


def probes_stored(settings: Settings | Path, devices: int = 10) -> int:
    """Samples of `count` from the devices sim/probe-0 … probe-<devices - 1>."""
    return sum(samples_of(settings, f"sim/probe-{d}", "count") for d in range(devices))
