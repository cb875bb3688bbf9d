"""What every node's retained availability topic says, for health checks and `roost up`."""

from __future__ import annotations

import asyncio
import contextlib

from roost.bus import Bus
from roost.errors import TopicError
from roost.message import Message
from roost.topics import TopicKind, Topics


class AvailabilityBoard:
    """`roost/+/availability` as it arrives: node id → online; waiters for `online`."""

    def __init__(self, topics: Topics) -> None:
        self._topics = topics
        self.online: dict[str, bool] = {}
        self._changed: dict[str, asyncio.Event] = {}

    async def attach(self, bus: Bus) -> None:
        await bus.subscribe(self._topics.any_node("availability"), self._on_message)

    def _on_message(self, message: Message) -> None:
        with contextlib.suppress(TopicError):
            parsed = self._topics.parse(message.topic)
            if parsed.kind is TopicKind.NODE_AVAILABILITY and parsed.node is not None:
                self.online[parsed.node] = message.payload == b"online"
                event = self._changed.pop(parsed.node, None)
                if event is not None:
                    event.set()

    def forget(self, node: str) -> None:
        """Wait for a fresh `online` from this node from now on."""
        self.online.pop(node, None)

    def is_online(self, node: str) -> bool:
        return self.online.get(node, False)

    async def wait_online(self, node: str) -> None:
        while not self.is_online(node):
            event = self._changed.setdefault(node, asyncio.Event())
            await event.wait()
