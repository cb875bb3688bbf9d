"""The frames of one camera, newest first: from its shared-memory ring when the ring is on
this host, else from its low-rate JPEGs on MQTT.

The camera announces every frame with a `FrameDescriptor` on `roost/<node>/<camera>/frame`
(the service routes those messages here); the feed keeps only the newest descriptor and
JPEG ("high water mark 1"), so however slow detection is, nothing queues up: `take()`
returns the newest frame not yet seen and the frames in between are counted as skipped.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
from pydantic import ValidationError

from roost.message import Message
from roost.shmring import FrameDescriptor, RingError, ShmRingReader
from roost_detector.detection import Pixels
from roost_detector.jpeg import MAX_PIXELS, jpeg_size

log = logging.getLogger("roost_detector.feed")

FRAME_BLOB = "frame"
JPEG_BLOB = "jpeg"
CHANNELS = {"bgr24": 3, "gray8": 1}
Source = Literal["shm", "mqtt"]


@dataclass(frozen=True, slots=True)
class FeedFrame:
    seq: int
    ts: float
    pixels: Pixels
    source: Source


class FrameFeed:
    def __init__(self, node: str, camera: str, transport: str = "auto") -> None:
        self.node = node
        self.camera = camera
        self.transport = transport
        self.descriptor: FrameDescriptor | None = None
        self.reader: ShmRingReader | None = None
        self.skipped = 0
        self.invalid = 0
        self.last_arrival = 0.0
        self._ring_failed: str | None = None  # ring id we could not open: use MQTT
        self._jpeg: bytes | None = None
        self._jpeg_count = 0
        self._jpeg_taken = 0

    def close(self) -> None:
        if self.reader is not None:
            self.reader.close()
            self.reader = None

    # arrivals (in the bus's dispatch loop: quick, no I/O) ------------------------------
    def on_message(self, leaf: str, message: Message) -> None:
        """A message on the camera's `frame` or `jpeg` topic."""
        if leaf == FRAME_BLOB and self.transport != "mqtt":
            self._on_frame(message)
        elif leaf == JPEG_BLOB and self.transport != "shm":
            self._on_jpeg(message)

    def _on_frame(self, message: Message) -> None:
        try:
            self.descriptor = FrameDescriptor.model_validate_json(message.payload)
        except ValidationError:
            self.invalid += 1
            return
        self.last_arrival = time.monotonic()

    def _on_jpeg(self, message: Message) -> None:
        if not message.payload:
            return
        self._jpeg = message.payload
        self._jpeg_count += 1
        self.last_arrival = time.monotonic()

    # taking the newest frame (blocking: run in a worker thread) -----------------------
    @property
    def source(self) -> Source | None:
        if self.reader is not None:
            return "shm"
        if self._jpeg is not None:
            return "mqtt"
        return None

    def take(self) -> FeedFrame | None:
        """The newest frame not taken before, or None."""
        frame = self._take_shm()
        if frame is not None:
            return frame
        return self._take_jpeg()

    def _open(self, descriptor: FrameDescriptor) -> ShmRingReader | None:
        reader = self.reader
        if reader is not None and reader.ring_id == descriptor.ring_id:
            return reader
        if self._ring_failed == descriptor.ring_id:
            return None
        if reader is not None:
            self.skipped += reader.skipped
            reader.close()
            self.reader = None
        try:
            self.reader = ShmRingReader(Path(descriptor.ring), ring_id=descriptor.ring_id)
        except RingError as exc:
            log.info("camera %s/%s: no shared memory here (%s); using MQTT JPEGs",
                     self.node, self.camera, exc)  # fmt: skip
            self._ring_failed = descriptor.ring_id
            return None
        log.info("camera %s/%s: reading frames from %s", self.node, self.camera, descriptor.ring)
        return self.reader

    def _take_shm(self) -> FeedFrame | None:
        descriptor = self.descriptor
        if descriptor is None:
            return None
        reader = self._open(descriptor)
        if reader is None:
            return None
        record = reader.read_newest()
        if record is None:
            return None
        channels = CHANNELS.get(record.format)
        if channels is None or channels != record.channels:
            self.invalid += 1
            return None
        pixels = np.frombuffer(record.data, dtype=np.uint8)
        try:
            pixels = pixels.reshape(record.height, record.width, channels)
        except ValueError:
            self.invalid += 1
            return None
        if channels == 1:
            pixels = np.asarray(cv2.cvtColor(pixels, cv2.COLOR_GRAY2BGR), dtype=np.uint8)
        return FeedFrame(record.seq, record.ts, pixels, "shm")

    def _take_jpeg(self) -> FeedFrame | None:
        data, count = self._jpeg, self._jpeg_count
        if data is None or count == self._jpeg_taken:
            return None
        if self._jpeg_taken:
            self.skipped += count - self._jpeg_taken - 1
        self._jpeg_taken = count
        size = jpeg_size(data)
        if size is None or size[0] * size[1] > MAX_PIXELS:
            # Not a JPEG, or one that would take gigabytes to decode: refused unread.
            self.invalid += 1
            if size is not None:
                log.warning("camera %s/%s: refused a %d x %d JPEG", self.node, self.camera, *size)
            return None
        pixels = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
        if pixels is None:
            self.invalid += 1
            return None
        return FeedFrame(count, time.time(), np.asarray(pixels, dtype=np.uint8), "mqtt")

    @property
    def skipped_total(self) -> int:
        return self.skipped + (self.reader.skipped if self.reader is not None else 0)
