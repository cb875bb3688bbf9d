"""Triggers and the bounded buffer they wait in.

Every state change, event, command to a virtual device and timer becomes a `Trigger`.
The `EventRing` holds at most `capacity` of them, counting those being processed (a
slot is released only when the run returns). Triggers of one key (a device, or a
script for timers) come out one at a time and in order; different keys come out
concurrently, oldest first. Producers that can wait (commands, timers) wait for space;
the MQTT dispatch cannot, so a trigger offered to a full ring is dropped and counted.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

TriggerKind = Literal["change", "set", "event", "call"]


@dataclass(eq=False)
class Trigger:
    kind: TriggerKind
    key: str
    seq: int
    ts: str
    device: str | None = None
    changes: dict[str, dict[str, Any]] = field(default_factory=dict)
    event: dict[str, Any] | None = None
    # call: a named function of one script (timers, schedules, http answers, onstart)
    script: str | None = None
    function: str | None = None
    args: Any = None
    reason: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    optional: bool = False
    arrived: float = field(default_factory=time.monotonic)
    # set: the command's fate goes back to the device's actor
    answer: asyncio.Future[dict[str, Any]] | None = None
    # the functions whose own actions led here (see chains.py)
    chain: tuple[str, ...] = ()

    def describe(self) -> dict[str, Any]:
        """The trigger as the history log shows it."""
        out: dict[str, Any] = {"kind": self.kind if self.kind != "call" else self.reason}
        if self.device is not None:
            out["device"] = self.device
        if self.changes:
            out["changes"] = {prop: change["value"] for prop, change in self.changes.items()}
        if self.event is not None:
            out["event"] = self.event.get("event_type")
        if self.script is not None:
            out["function"] = f"{self.script}:{self.function}"
        return out


class EventRing:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.dropped = 0
        self.accepted = 0
        self._count = 0
        self._pending: dict[str, deque[Trigger]] = {}
        self._ready: deque[str] = deque()
        self._busy: set[str] = set()
        self._has_ready = asyncio.Event()
        self._has_space = asyncio.Event()
        self._has_space.set()

    def __len__(self) -> int:
        """Triggers waiting or being processed."""
        return self._count

    @property
    def full(self) -> bool:
        return self._count >= self.capacity

    def offer(self, trigger: Trigger) -> bool:
        """Take `trigger` if there is room; otherwise drop it and count it."""
        if self.full:
            self.dropped += 1
            return False
        self._add(trigger)
        return True

    async def put(self, trigger: Trigger) -> None:
        """Take `trigger`, waiting for room (backpressure for producers that can wait)."""
        while self.full:
            self._has_space.clear()
            await self._has_space.wait()
        self._add(trigger)

    def _add(self, trigger: Trigger) -> None:
        self._count += 1
        self.accepted += 1
        if self._count >= self.capacity:
            self._has_space.clear()
        queue = self._pending.get(trigger.key)
        if queue is None:
            queue = self._pending[trigger.key] = deque()
        queue.append(trigger)
        if len(queue) == 1 and trigger.key not in self._busy:
            self._ready.append(trigger.key)
            self._has_ready.set()

    async def take(self) -> Trigger:
        """The oldest trigger whose key is not being processed; its key is busy until
        `done`."""
        while not self._ready:
            self._has_ready.clear()
            await self._has_ready.wait()
        key = self._ready.popleft()
        self._busy.add(key)
        return self._pending[key].popleft()

    async def take_many(self, limit: int) -> list[Trigger]:
        """At least one trigger, and every other ready one up to `limit` (each of a
        different key), so one round trip to a worker can carry a burst."""
        out = [await self.take()]
        while self._ready and len(out) < limit:
            key = self._ready.popleft()
            self._busy.add(key)
            out.append(self._pending[key].popleft())
        return out

    def done(self, trigger: Trigger) -> None:
        key = trigger.key
        self._busy.discard(key)
        self._count -= 1
        self._has_space.set()
        queue = self._pending.get(key)
        if queue:
            self._ready.append(key)
            self._has_ready.set()
        elif queue is not None:
            del self._pending[key]
