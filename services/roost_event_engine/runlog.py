"""The history log: one entry per processed trigger, the newest `size` kept."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from roost.clock import iso


class LogEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ts: str = Field(default_factory=iso)
    trigger: dict[str, Any]
    functions: list[str] = Field(default_factory=list)
    sent: list[dict[str, Any]] = Field(default_factory=list)
    duration_ms: float = 0.0
    error: str | None = None
    errors: list[dict[str, Any]] = Field(default_factory=list)
    logs: list[str] = Field(default_factory=list)
    stopped: str | None = None
    vetoed: dict[str, str] = Field(default_factory=dict)
    worker: int | None = None


class LogParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=100, ge=1, le=100_000)
    device: str | None = None
    errors: bool = False


class RunLog:
    def __init__(self, size: int) -> None:
        self._entries: deque[LogEntry] = deque(maxlen=size)
        self._added = asyncio.Event()

    def add(self, entry: LogEntry) -> None:
        self._entries.append(entry)
        self._added.set()

    async def wait_for(
        self, predicate: Callable[[LogEntry], bool], *, timeout: float = 5.0
    ) -> LogEntry:
        """The first entry, old or new, for which `predicate` holds."""

        async def scan() -> LogEntry:
            while True:
                for entry in self._entries:
                    if predicate(entry):
                        return entry
                self._added.clear()
                await self._added.wait()

        return await asyncio.wait_for(scan(), timeout)

    def entries(self) -> list[LogEntry]:
        return list(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def query(self, params: LogParams) -> list[LogEntry]:
        """Newest last, like a log file."""
        out: list[LogEntry] = []
        for entry in reversed(self._entries):
            if params.errors and entry.error is None:
                continue
            if params.device is not None and not _about(entry, params.device):
                continue
            out.append(entry)
            if len(out) >= params.limit:
                break
        out.reverse()
        return out


def _about(entry: LogEntry, device: str) -> bool:
    ref = entry.trigger.get("device")
    return isinstance(ref, str) and (ref == device or ref.endswith("/" + device))
