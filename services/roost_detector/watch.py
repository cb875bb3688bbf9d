"""One camera watched by the detector: its device, motion, detection and tracking loop.

Every `1 / detect_fps` seconds it takes the newest frame, runs motion detection on it
and, when something moved or an object is being followed, the object detector; tracked
objects become events on `roost/<node>/<camera>/event` and the device's state says what
is in view now.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Mapping

from pydantic import JsonValue

from roost.device import Device
from roost.message import Message
from roost.models import DeviceMeta, PropertySpec
from roost.node import Node
from roost.topics import RESERVED_PROPS
from roost_detector.detection import Detection
from roost_detector.engine import Engine
from roost_detector.feed import FeedFrame, FrameFeed
from roost_detector.motion import MotionDetector
from roost_detector.plugins import ModelError
from roost_detector.regions import regions
from roost_detector.settings import CameraDetectConfig, DetectorSection
from roost_detector.snapshot import annotated_jpeg
from roost_detector.tracker import Track, TrackChange, Tracker

log = logging.getLogger("roost_detector.watch")

FIXED_PROPS = {"motion", "occupied", "detect", "detect_fps", "skipped", "source", "snapshot"}
FIXED_PROPS |= {"objects", "motion_area"}
RATE_WINDOW = 10.0


def label_prop(label: str) -> str:
    """A label as a property name: `traffic light` → `traffic_light`."""
    slug = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")
    if not slug or not slug[0].isalpha():
        slug = f"label_{slug}"
    slug = slug[:50]
    if slug in FIXED_PROPS or slug in RESERVED_PROPS or slug.endswith("_count"):
        slug = f"{slug}_object"
    return slug


def watch_meta(camera_id: str, source: str, labels: list[str]) -> DeviceMeta:
    properties: dict[str, PropertySpec] = {
        "detect": PropertySpec(kind="switch", settable=True, name="Object detection"),
        "motion": PropertySpec(kind="switch", device_class="motion"),
        "motion_area": PropertySpec(kind="number", unit="%", precision=1, deadband=2.0,
                                    min_interval=10, entity_category="diagnostic"),
        "occupied": PropertySpec(kind="switch", device_class="occupancy"),
        "objects": PropertySpec(kind="number", name="Objects in view"),
    }  # fmt: skip
    for label in labels:
        prop = label_prop(label)
        properties[prop] = PropertySpec(
            kind="switch", device_class="occupancy", name=f"{label.capitalize()} detected"
        )
        properties[f"{prop}_count"] = PropertySpec(
            kind="number", name=f"{label.capitalize()} count"
        )
    properties.update(
        {
            "detect_fps": PropertySpec(kind="number", unit="fps", precision=1, deadband=0.3,
                                       min_interval=10, entity_category="diagnostic"),
            "skipped": PropertySpec(kind="number", state_class="total_increasing",
                                    min_interval=10, entity_category="diagnostic"),
            "source": PropertySpec(kind="enum", options=["shm", "mqtt", "none"],
                                   entity_category="diagnostic"),
            "snapshot": PropertySpec(kind="image", name="Best snapshot"),
            "detection": PropertySpec(kind="event", name="Detection", options=labels or ["object"]),
        }
    )  # fmt: skip
    return DeviceMeta(
        name=f"Detector {camera_id}", model=f"detector for {source}", manufacturer="roost",
        properties=properties,
    )  # fmt: skip


class CameraWatch:
    def __init__(
        self,
        node: Node,
        engine: Engine,
        device_id: str,
        source_node: str,
        source_camera: str,
        section: DetectorSection,
        config: CameraDetectConfig,
    ) -> None:
        self.node = node
        self.engine = engine
        self.id = device_id
        self.ref = f"{source_node}/{source_camera}"
        self.section = section
        self.fps = config.detect_fps or section.detect_fps
        self.min_score = config.min_score if config.min_score is not None else section.min_score
        wanted = config.track or section.track
        known = engine.detector.labels
        self.labels = [label for label in known if wanted is None or label in wanted]
        unknown = sorted(set(wanted or []) - set(known))
        if unknown:
            log.warning("%s: the model has no labels %s; ignored", device_id, ", ".join(unknown))
        transport = config.transport or section.transport
        self.feed = FrameFeed(source_node, source_camera, transport)
        self.motion = MotionDetector(section.motion)
        self.tracker = Tracker(section.tracking)
        self.detecting = True
        self.last_motion = 0.0
        self._frames = 0
        self._since = time.monotonic()
        self.device: Device = node.add_device(
            device_id, watch_meta(device_id, self.ref, self.labels), on_set=self._apply
        )
        initial: dict[str, JsonValue] = {
            "detect": True, "motion": False, "occupied": False, "objects": 0, "source": "none",
            "skipped": 0,
        }  # fmt: skip
        for label in self.labels:
            initial[label_prop(label)] = False
            initial[f"{label_prop(label)}_count"] = 0
        self.device.update(initial)

    async def _apply(self, device: Device, values: dict[str, JsonValue]) -> Mapping[str, JsonValue]:
        if "detect" in values:
            self.detecting = bool(values["detect"])
        return {"detect": self.detecting}

    def _on_camera_availability(self, message: Message) -> None:
        """No camera node, no frames: this device cannot see anything until it is back."""
        self.device.set_available(message.payload == b"online")

    # the loop --------------------------------------------------------------------------
    async def run(self) -> None:
        source_node = self.ref.partition("/")[0]
        availability = await self.node.bus.subscribe(
            self.node.topics.node_availability(source_node), self._on_camera_availability
        )
        loop = asyncio.get_running_loop()
        due = loop.time()
        try:
            while True:
                frame = await asyncio.to_thread(self.feed.take)
                if frame is not None:
                    await self._process(frame)
                self._finish_tick(time.time())
                due += 1.0 / self.fps
                now = loop.time()
                if due < now:
                    due = now  # detection is slower than asked: no catching up
                await asyncio.sleep(due - now)
        finally:
            self.feed.close()
            await availability.remove()

    async def _process(self, frame: FeedFrame) -> None:
        started = time.perf_counter()
        result = await asyncio.to_thread(self.motion.apply, frame.pixels)
        self.engine.count_frame((time.perf_counter() - started) * 1000)
        self._frames += 1
        if result.motion:
            self.last_motion = time.time()
        detections: list[Detection] = []
        if self.detecting and (result.motion or self.tracker.tracks):
            height, width = frame.pixels.shape[:2]
            if self.section.regions:
                boxes = result.boxes + [track.box for track in self.tracker.tracks]
                areas = regions(boxes, width, height)
            else:
                areas = [(0, 0, width, height)]
            try:
                async with self.engine.lock:
                    found = await asyncio.to_thread(self.engine.detect_in, frame.pixels, areas)
            except ModelError as exc:
                self.device.error("failed", str(exc))
                found = []
            detections = [d for d in found if d.score >= self.min_score and d.label in self.labels]
        changes = self.tracker.update(detections, frame.ts, frame.pixels)
        await self._announce(changes)
        self.device.update(source=frame.source, motion_area=result.area * 100)

    def _finish_tick(self, now: float) -> None:
        self._announce_nowait(self.tracker.expire(now))
        off_delay = self.section.motion.off_delay
        motion = self.last_motion > 0 and now - self.last_motion <= off_delay
        active = self.tracker.active
        values: dict[str, JsonValue] = {
            "motion": motion, "occupied": bool(active), "objects": len(active),
        }  # fmt: skip
        for label in self.labels:
            count = sum(1 for track in active if track.label == label)
            values[label_prop(label)] = count > 0
            values[f"{label_prop(label)}_count"] = count
        elapsed = time.monotonic() - self._since
        if elapsed >= RATE_WINDOW:
            values["detect_fps"] = self._frames / elapsed
            values["skipped"] = self.feed.skipped_total
            self._frames = 0
            self._since = time.monotonic()
        if self.feed.source is None and time.monotonic() - self.feed.last_arrival > 10:
            values["source"] = "none"
        self.device.update(values)

    # events ----------------------------------------------------------------------------
    async def _announce(self, changes: list[TrackChange]) -> None:
        for change in changes:
            if change.phase != "end" and change.track.best_changed:
                await self._publish_snapshot(change.track)
            self._emit(change)

    def _announce_nowait(self, changes: list[TrackChange]) -> None:
        for change in changes:
            self._emit(change)

    def _emit(self, change: TrackChange) -> None:
        track = change.track
        data = track.data(self.ref)
        data["has_snapshot"] = track.best_frame is not None
        self.device.emit(track.label, data, phase=change.phase, event_id=track.id)
        log.info("%s: %s %s %s (%.2f)", self.id, track.label, change.phase, track.id, track.score)

    async def _publish_snapshot(self, track: Track) -> None:
        if track.best_frame is None or track.best_box is None:
            return
        track.best_changed = False
        caption = f"{track.label} {track.top_score:.0%}"
        try:
            data = await asyncio.to_thread(
                annotated_jpeg,
                track.best_frame,
                track.best_box,
                caption,
                self.section.snapshot_quality,
            )
        except ValueError as exc:
            log.warning("%s: snapshot: %s", self.id, exc)
            return
        self.device.publish_blob("snapshot", data)
