"""One camera: its device, its controls, and the capture loop that feeds the frame ring.

The capture loop owns the source (opened, read and closed in worker threads, since
OpenCV and picamera2 block). Every frame it keeps goes into the shared-memory ring, is
announced by a descriptor on `roost/<node>/<camera>/frame` (QoS 0, not retained) and
replaces the newest frame the writers in this process read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import JsonValue
from pydantic_core import from_json

from roost.backoff import Backoff
from roost.device import Device
from roost.message import Message
from roost.models import DeviceMeta, PropertySpec
from roost.node import Node
from roost.shmring import FrameDescriptor, ShmRing, ring_path
from roost_camera.frames import Frame, LatestFrame
from roost_camera.settings import CameraConfig
from roost_camera.sources import FrameSource, Pixels, SourceEnded, SourceError, make_source

log = logging.getLogger("roost_camera.camera")

FRAME_BLOB = "frame"
JPEG_BLOB = "jpeg"
RATE_WINDOW = 5.0
STATUSES = ["connecting", "streaming", "error", "ended", "disabled"]


def camera_meta(camera_id: str, config: CameraConfig) -> DeviceMeta:
    source = config.source.type
    return DeviceMeta(
        name=config.name or f"Camera {camera_id}",
        model=f"{source} camera",
        manufacturer="roost",
        properties={
            "enabled": PropertySpec(kind="switch", settable=True, icon="mdi:cctv"),
            "fps": PropertySpec(
                kind="number", unit="fps", min=0.5, max=60, step=0.5, settable=True,
                entity_category="config",
            ),
            "snapshot_interval": PropertySpec(
                kind="number", unit="s", min=0.5, max=3600, step=0.5, settable=True,
                entity_category="config",
            ),
            "jpeg_interval": PropertySpec(
                kind="number", unit="s", min=0, max=86400, step=0.5, settable=True,
                entity_category="config",
            ),
            "recording": PropertySpec(kind="switch", settable=True, icon="mdi:record-rec"),
            "motion": PropertySpec(kind="switch", device_class="motion"),
            "status": PropertySpec(kind="enum", options=STATUSES, entity_category="diagnostic"),
            "last_error": PropertySpec(kind="text", entity_category="diagnostic"),
            "frame_rate": PropertySpec(
                kind="number", unit="fps", precision=1, deadband=0.5, min_interval=10,
                entity_category="diagnostic",
            ),
            "width": PropertySpec(kind="number", unit="px", entity_category="diagnostic"),
            "height": PropertySpec(kind="number", unit="px", entity_category="diagnostic"),
            "dropped": PropertySpec(
                kind="number", state_class="total_increasing", min_interval=10,
                entity_category="diagnostic",
            ),
            "snapshot": PropertySpec(kind="image", name="Snapshot"),
            "file": PropertySpec(kind="event", name="File written", options=["jpeg", "segment"]),
        },
    )  # fmt: skip


@dataclass
class Controls:
    """The settable values; the config gives the start values, commands change them."""

    enabled: bool
    fps: float
    snapshot_interval: float
    jpeg_interval: float
    recording: bool


class Camera:
    def __init__(self, node: Node, camera_id: str, config: CameraConfig, shm_dir: object) -> None:
        self.node = node
        self.id = camera_id
        self.config = config
        self.controls = Controls(
            enabled=config.enabled,
            fps=config.fps,
            snapshot_interval=config.snapshot_interval,
            jpeg_interval=config.jpeg_interval,
            recording=config.recording,
        )
        self.latest = LatestFrame()
        self.host = socket.gethostname()
        self.ring: ShmRing | None = None
        self._ring_file = ring_path(f"roost-{node.id}-{camera_id}", shm_dir)  # type: ignore[arg-type]
        self._changed = asyncio.Event()
        self._seq = 0
        self._rate_count = 0
        self._rate_since = time.monotonic()
        self.dropped = 0
        self.device: Device = node.add_device(
            camera_id, camera_meta(camera_id, config), on_set=self._apply, heartbeat=300
        )
        status = "connecting" if config.enabled else "disabled"
        self.device.update({**self._control_values(), "status": status})

    # commands --------------------------------------------------------------------------
    def _control_values(self) -> dict[str, JsonValue]:
        c = self.controls
        return {
            "enabled": c.enabled,
            "fps": c.fps,
            "snapshot_interval": c.snapshot_interval,
            "jpeg_interval": c.jpeg_interval,
            "recording": c.recording,
        }

    async def _apply(self, device: Device, values: dict[str, JsonValue]) -> Mapping[str, JsonValue]:
        for prop, value in values.items():
            setattr(self.controls, prop, value)
        if values.get("enabled") is False:
            device.update(status="disabled")
        self.changed()
        return self._control_values()

    def changed(self) -> None:
        """Wake every loop that waits on the controls."""
        self._changed.set()

    async def wait_changed(self, timeout: float | None = None) -> bool:
        """Wait until a control changes (True) or `timeout` passes (False)."""
        self._changed.clear()
        try:
            await asyncio.wait_for(self._changed.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def report_error(self, message: str) -> None:
        log.warning("camera %s: %s", self.id, message)
        self.device.update(last_error=message[:255])

    # the detector's motion, mirrored ---------------------------------------------------
    async def follow_motion(self) -> None:
        ref = self.config.motion_from or f"detector/{self.id}"
        node_id, _, device_id = ref.partition("/")
        topics = self.node.topics
        state_topic = topics.state(node_id, device_id)

        def on_state(message: Message) -> None:
            try:
                state = from_json(message.payload) if message.payload else {}
            except ValueError:
                return
            if isinstance(state, dict) and "motion" in state:
                motion = state["motion"]
                self.device.update(motion=motion if isinstance(motion, bool) else None)

        def on_availability(message: Message) -> None:
            if message.payload != b"online":
                self.device.update(motion=None)

        await self.node.bus.subscribe(state_topic, on_state)
        await self.node.bus.subscribe(topics.node_availability(node_id), on_availability)

    # capture ---------------------------------------------------------------------------
    async def run(self) -> None:
        backoff = Backoff(initial=1.0, maximum=30.0)
        while True:
            if not self.controls.enabled:
                self.device.update(status="disabled")
                await self.wait_changed()
                continue
            source = make_source(self.config.source)
            self.device.update(status="connecting")
            try:
                await asyncio.to_thread(source.open)
                log.info("camera %s: %s open", self.id, source.describe())
                await self._stream(source, backoff)
            except SourceEnded as exc:
                log.info("camera %s: %s", self.id, exc)
                self.device.update(status="ended")
                await self._idle()
                await self.wait_changed()  # a new enable starts the source again
            except SourceError as exc:
                self.device.update(status="error")
                self.report_error(str(exc))
                await self._idle()
                await self.wait_changed(backoff.next())
            finally:
                await asyncio.to_thread(source.close)

    async def _idle(self) -> None:
        await self.latest.clear()

    async def _stream(self, source: FrameSource, backoff: Backoff) -> None:
        due = time.time()
        first = True
        while self.controls.enabled:
            period = 1.0 / self.controls.fps
            if not source.live:
                delay = due - time.time()
                if delay > 0 and await self.wait_changed(delay):
                    continue  # a control changed: look at it again before reading
            pixels = await asyncio.to_thread(source.read, max(due, time.time()))
            now = time.time()
            if source.live and now < due - period / 4:
                continue  # the camera runs faster than asked: keep only what is due
            due = due + period if due + period > now - period else now + period
            self._keep(pixels, now)
            await self.latest.put(Frame(self._seq, now, pixels))
            if first:
                self.device.update(status="streaming", last_error=None)
                backoff.reset()
                first = False
        self.device.update(status="disabled")
        await self._idle()

    def _keep(self, pixels: Pixels, ts: float) -> None:
        height, width = int(pixels.shape[0]), int(pixels.shape[1])
        ring = self.ring
        if ring is None or ring.slot_bytes != pixels.nbytes:
            if ring is not None:
                ring.close()
            ring = self.ring = ShmRing.create(
                self._ring_file, slots=self.config.ring_slots, slot_bytes=pixels.nbytes
            )
            self.device.update(width=width, height=height)
        seq, slot = ring.write(
            pixels.data, width=width, height=height, channels=3, fmt="bgr24", ts=ts
        )
        self._seq = seq
        if self.node.bus.connected.is_set():
            # Only while connected: a descriptor queued during an outage is stale on arrival.
            descriptor = FrameDescriptor(
                ring=str(ring.path),
                ring_id=ring.ring_id,
                host=self.host,
                seq=seq,
                slot=slot,
                ts=ts,
                width=width,
                height=height,
                channels=3,
                format="bgr24",
                fps=self.controls.fps,
            )
            self.node.bus.publish_nowait(
                self.node.topics.blob(self.node.id, self.id, FRAME_BLOB),
                descriptor.model_dump_json(exclude_none=True),
                qos=0,
            )
        self._rate_count += 1
        elapsed = time.monotonic() - self._rate_since
        if elapsed >= RATE_WINDOW:
            self.device.update(frame_rate=self._rate_count / elapsed, dropped=self.dropped)
            self._rate_count = 0
            self._rate_since = time.monotonic()

    def close(self) -> None:
        if self.ring is not None:
            self.ring.close()
            self.ring = None


async def run_camera(camera: Camera) -> None:
    try:
        await camera.run()
    finally:
        with contextlib.suppress(Exception):
            camera.close()
