"""The newest frame of one camera, for the writers in this process ("high water mark 1").

The capture loop replaces the frame; each writer takes the newest when it needs one and
never sees a queue: a writer that is busy for a second simply misses the frames of that
second.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from roost_camera.sources import Pixels


@dataclass(frozen=True, slots=True)
class Frame:
    seq: int
    ts: float  # wall-clock capture time, Unix seconds
    pixels: Pixels

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])


class LatestFrame:
    def __init__(self) -> None:
        self.frame: Frame | None = None
        self._changed = asyncio.Condition()

    async def put(self, frame: Frame) -> None:
        async with self._changed:
            self.frame = frame
            self._changed.notify_all()

    async def clear(self) -> None:
        """The camera stopped: writers waiting for a frame keep waiting."""
        async with self._changed:
            self.frame = None

    async def newer_than(self, seq: int) -> Frame:
        """Wait for a frame newer than `seq` (0: any frame) and return the newest."""
        async with self._changed:
            await self._changed.wait_for(lambda: self.frame is not None and self.frame.seq > seq)
            assert self.frame is not None
            return self.frame
