"""The recorder's own device, `database`: what it wrote, what waits, how big it is."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from roost.device import Device
from roost.models import DeviceMeta, PropertySpec

DEVICE_ID = "database"


def _counter(name: str, unit: str | None = None) -> PropertySpec:
    return PropertySpec(
        kind="number",
        name=name,
        unit=unit,
        precision=0,
        state_class="total_increasing",
        entity_category="diagnostic",
    )


def _gauge(name: str, unit: str | None = None, precision: int = 0) -> PropertySpec:
    return PropertySpec(
        kind="number",
        name=name,
        unit=unit,
        precision=precision,
        state_class="measurement",
        entity_category="diagnostic",
    )


META = DeviceMeta(
    name="Recorder database",
    model="SQLite history",
    manufacturer="roost",
    properties={
        "recording": PropertySpec(
            kind="switch",
            name="Recording",
            device_class="running",
            entity_category="diagnostic",
        ),
        "messages": _counter("Messages recorded"),
        "rows_written": _counter("Rows written"),
        "rate": _gauge("Messages per second", "msg/s", precision=1),
        "backlog": _gauge("Messages waiting to be written"),
        "errors": _counter("Bad messages"),
        "last_error": PropertySpec(
            kind="text", name="Last bad message", entity_category="diagnostic"
        ),
        "database_size": PropertySpec(
            kind="number",
            name="Database size",
            unit="MB",
            precision=2,
            device_class="data_size",
            state_class="measurement",
            entity_category="diagnostic",
        ),
        "last_write": PropertySpec(
            kind="text", name="Last write", device_class="timestamp", entity_category="diagnostic"
        ),
        "sink": PropertySpec(
            kind="enum",
            name="InfluxDB sink",
            options=["off", "ok", "retrying"],
            entity_category="diagnostic",
        ),
        "sink_backlog": _gauge("Points waiting for InfluxDB"),
        "sink_dropped": _counter("Points dropped from the InfluxDB backlog"),
    },
)


@dataclass(frozen=True)
class Figures:
    recording: bool
    messages: int
    rows_written: int
    backlog: int
    errors: int
    last_error: str | None
    database_size: int
    last_write: str | None
    sink: str
    sink_backlog: int
    sink_dropped: int


class StatusReporter:
    """Publishes the figures every `interval` seconds (and when asked to, e.g. after a
    write, no more often than the interval allows)."""

    def __init__(self, device: Device, figures: Callable[[], Figures], interval: float) -> None:
        self.device = device
        self._figures = figures
        self._interval = interval
        self._last_messages = 0
        self._last_at: float | None = None

    def update(self) -> None:
        figures = self._figures()
        loop = asyncio.get_running_loop()
        now = loop.time()
        rate = 0.0
        if self._last_at is not None and now > self._last_at:
            rate = (figures.messages - self._last_messages) / (now - self._last_at)
        self._last_messages, self._last_at = figures.messages, now
        self.device.update(
            recording=figures.recording,
            messages=figures.messages,
            rows_written=figures.rows_written,
            rate=rate,
            backlog=figures.backlog,
            errors=figures.errors,
            last_error=figures.last_error,
            database_size=figures.database_size / 1e6,
            last_write=figures.last_write,
            sink=figures.sink,
            sink_backlog=figures.sink_backlog,
            sink_dropped=figures.sink_dropped,
        )

    async def run(self) -> None:
        while True:
            self.update()
            await asyncio.sleep(self._interval)
