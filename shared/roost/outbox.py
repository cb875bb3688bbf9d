"""The queue of messages waiting to be published, kept across reconnects.

A retained message replaces a pending one for the same topic in place: a retained topic
is state, so only its newest value is worth sending, and a burst of updates to one device
costs one publish when the broker is slow. Transient messages (events, errors, commands)
queue in order up to a limit; past it the newest are dropped and counted.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field

from paho.mqtt.properties import Properties


@dataclass(slots=True, eq=False)
class Outgoing:
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = False
    properties: Properties | None = None
    attempts: int = 0
    waiters: list[asyncio.Future[None]] = field(default_factory=list)

    def resolve(self, error: BaseException | None = None) -> None:
        for waiter in self.waiters:
            if not waiter.done():
                if error is None:
                    waiter.set_result(None)
                else:
                    waiter.set_exception(error)
        self.waiters.clear()


class Outbox:
    def __init__(self, limit: int = 10_000) -> None:
        self._queue: deque[Outgoing] = deque()
        self._retained: dict[str, Outgoing] = {}
        self._transient = 0
        self._ready = asyncio.Event()
        self.limit = limit
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._queue)

    def put(self, item: Outgoing) -> bool:
        """Queue `item`; False when it was dropped because the queue is full."""
        if item.retain:
            pending = self._retained.get(item.topic)
            if pending is not None:
                pending.payload = item.payload
                pending.qos = max(pending.qos, item.qos)
                pending.properties = item.properties
                pending.waiters.extend(item.waiters)
                return True
            self._retained[item.topic] = item
        else:
            if self._transient >= self.limit:
                self.dropped += 1
                return False
            self._transient += 1
        self._queue.append(item)
        self._ready.set()
        return True

    def put_front(self, item: Outgoing) -> None:
        """Give back an item whose publish failed, ahead of everything else."""
        if item.retain:
            if item.topic in self._retained:
                return  # a newer value is already queued
            self._retained[item.topic] = item
        else:
            self._transient += 1
        self._queue.appendleft(item)
        self._ready.set()

    async def get(self) -> Outgoing:
        while not self._queue:
            self._ready.clear()
            await self._ready.wait()
        item = self._queue.popleft()
        if item.retain:
            del self._retained[item.topic]
        else:
            self._transient -= 1
        return item

    def discard_retained(self) -> None:
        """Drop pending retained items: the owner is about to publish all of its state."""
        kept: deque[Outgoing] = deque()
        for item in self._queue:
            if item.retain:
                item.resolve()
            else:
                kept.append(item)
        self._queue = kept
        self._retained.clear()
