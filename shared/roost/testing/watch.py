"""Waiting for messages in tests: collect what arrives on a filter, wait for a match."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from roost.bus import Bus, Subscription, topic_matches
from roost.message import Message

Predicate = Callable[[Message], bool]


class Watcher:
    """Every message on `topic_filter` since `start()`; `wait_for` returns the first one
    (at or after `since`) that matches, or raises TimeoutError."""

    def __init__(self, bus: Bus, topic_filter: str, *, retain_as_published: bool = True) -> None:
        self.bus = bus
        self.filter = topic_filter
        self.messages: list[Message] = []
        self._arrived = asyncio.Event()
        self._sub: Subscription | None = None
        self._rap = retain_as_published

    async def start(self) -> Watcher:
        """Subscribe; returns once the retained messages on the filter have arrived."""
        self._sub = await self.bus.subscribe(
            self.filter, self._on_message, retain_as_published=self._rap
        )
        await self.bus.sync()
        return self

    async def stop(self) -> None:
        if self._sub is not None:
            await self._sub.remove()
            self._sub = None

    async def __aenter__(self) -> Watcher:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _on_message(self, message: Message) -> None:
        self.messages.append(message)
        self._arrived.set()

    def mark(self) -> int:
        """A position: pass it as `since` to wait only for what arrives after now."""
        return len(self.messages)

    def on(self, topic: str) -> list[Message]:
        return [m for m in self.messages if m.topic == topic]

    async def wait_for(
        self,
        predicate: Predicate | None = None,
        *,
        topic: str | None = None,
        since: int = 0,
        timeout: float = 5.0,
    ) -> Message:
        def matches(message: Message) -> bool:
            if topic is not None and not topic_matches(topic, message.topic):
                return False
            return predicate is None or predicate(message)

        async def scan() -> Message:
            index = since
            while True:
                while index < len(self.messages):
                    message = self.messages[index]
                    index += 1
                    if matches(message):
                        return message
                self._arrived.clear()
                await self._arrived.wait()

        try:
            async with asyncio.timeout(timeout):
                return await scan()
        except TimeoutError:
            seen = [m.topic for m in self.messages[since:]][-10:]
            raise TimeoutError(
                f"no message on {topic or self.filter} matched within {timeout} s; "
                f"last topics seen: {seen}"
            ) from None

    async def wait_json(
        self,
        topic: str,
        check: Callable[[Any], bool] = lambda _: True,
        *,
        since: int = 0,
        timeout: float = 5.0,
    ) -> Any:
        """The JSON of the first message on `topic` for which `check(json)` holds."""

        def predicate(message: Message) -> bool:
            if not message.payload:
                return False
            try:
                return bool(check(message.json()))
            except (ValueError, KeyError, TypeError):
                return False

        message = await self.wait_for(predicate, topic=topic, since=since, timeout=timeout)
        return message.json()
