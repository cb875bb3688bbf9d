"""The history log: one entry per processed trigger, the newest `size` kept."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from roost.clock import iso
from roost.paging import json_size

MAX_LINE = 2000
MAX_LINES = 100


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
    skip: int = Field(default=0, ge=0, description="newest matching entries to skip: `next`")


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

    def query(self, params: LogParams, budget: int) -> tuple[list[JsonValue], int | None]:
        """The matching entries as JSON, newest last like a log file, at most `limit` and
        `budget` bytes of them; and the `skip` of the next (older) page, if any."""
        out: list[JsonValue] = []
        skipped = 0
        used = 0
        for entry in reversed(self._entries):
            if params.errors and entry.error is None:
                continue
            if params.device is not None and not _about(entry, params.device):
                continue
            if skipped < params.skip:
                skipped += 1
                continue
            if len(out) >= params.limit:
                return out[::-1], params.skip + len(out)
            wire = entry.model_dump(mode="json")
            used += json_size(wire) + 1
            if out and used > budget:
                return out[::-1], params.skip + len(out)
            out.append(wire)
        return out[::-1], None


def clip_lines(lines: list[str]) -> list[str]:
    """A script's log lines as an entry keeps them: each and their number capped, so one
    chatty script cannot make an entry (and the `log` answer) grow without bound."""
    kept = [
        line if len(line) <= MAX_LINE else f"{line[:MAX_LINE]}… ({len(line) - MAX_LINE} more)"
        for line in lines[:MAX_LINES]
    ]
    if len(lines) > MAX_LINES:
        kept.append(f"… {len(lines) - MAX_LINES} more lines")
    return kept


def _about(entry: LogEntry, device: str) -> bool:
    ref = entry.trigger.get("device")
    return isinstance(ref, str) and (ref == device or ref.endswith("/" + device))
