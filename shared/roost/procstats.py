"""What a node reports about its own process: memory, CPU and event-loop lag."""

from __future__ import annotations

import asyncio
import contextlib

import psutil


class LoopLag:
    """Measures how late the event loop wakes a task that asked to sleep `interval`."""

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="loop lag")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def take(self) -> float:
        """The worst lag in seconds since the last take."""
        worst, self.worst = self.worst, 0.0
        return worst

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(self.interval)
            self.worst = max(self.worst, loop.time() - before - self.interval)


class ProcessSample:
    """RSS in bytes and CPU % of one core since the previous sample."""

    def __init__(self) -> None:
        self._process = psutil.Process()
        self._process.cpu_percent(None)

    def rss(self) -> int:
        return int(self._process.memory_info().rss)

    def cpu(self) -> float:
        return float(self._process.cpu_percent(None))
