"""The object detector shared by every camera, and its `model` device.

One model instance serves all cameras, one frame at a time (a 2-core Pi has no room for
two inferences at once); the device reports how long inference takes, how many frames
per second it gets through and how many the cameras skipped.
"""

from __future__ import annotations

import asyncio
import time

from roost.device import Device
from roost.models import DeviceMeta, PropertySpec
from roost.node import Node
from roost_detector.detection import Box, Detection, Pixels, nms
from roost_detector.plugins import ObjectDetector

MODEL_ID = "model"
WINDOW = 10.0
MERGE_IOU = 0.45  # a person seen in two overlapping regions is one person

MODEL_META = DeviceMeta(
    name="Object detector",
    model="roost detector",
    manufacturer="roost",
    properties={
        "model": PropertySpec(kind="text", entity_category="diagnostic"),
        "labels": PropertySpec(kind="text", entity_category="diagnostic", max_length=4096),
        "inference_ms": PropertySpec(
            kind="number", unit="ms", precision=1, deadband=2.0, min_interval=10
        ),
        "motion_ms": PropertySpec(
            kind="number", unit="ms", precision=1, deadband=1.0, min_interval=10
        ),
        "fps": PropertySpec(kind="number", unit="fps", precision=1, deadband=0.2, min_interval=10),
        "skipped": PropertySpec(kind="number", state_class="total_increasing", min_interval=10),
        "cameras": PropertySpec(kind="number"),
    },
)


class Engine:
    def __init__(self, node: Node, detector: ObjectDetector) -> None:
        self.detector = detector
        self.lock = asyncio.Lock()
        self.device: Device = node.add_device(MODEL_ID, MODEL_META, heartbeat=300)
        self.device.update(
            model=detector.describe(), labels=", ".join(detector.labels)[:4096], cameras=0
        )
        self._inference: list[float] = []
        self._motion: list[float] = []
        self._frames = 0
        self._since = time.monotonic()

    def detect_in(self, frame: Pixels, areas: list[Box]) -> list[Detection]:
        """Detect in each region of `frame`; boxes in frame pixels, overlaps merged.

        Blocking; call with `lock` held from a worker thread. One inference time is
        recorded per frame, however many regions it took.
        """
        started = time.perf_counter()
        found: list[Detection] = []
        try:
            for x1, y1, x2, y2 in areas:
                crop = frame[y1:y2, x1:x2]
                for d in self.detector.detect(crop):
                    bx1, by1, bx2, by2 = d.box
                    found.append(
                        Detection(d.label, d.score, (bx1 + x1, by1 + y1, bx2 + x1, by2 + y1))
                    )
        finally:
            self._inference.append((time.perf_counter() - started) * 1000)
        return nms(found, MERGE_IOU) if len(areas) > 1 else found

    def count_frame(self, motion_ms: float) -> None:
        self._frames += 1
        self._motion.append(motion_ms)

    def report(self, skipped: int, cameras: int) -> None:
        elapsed = time.monotonic() - self._since
        if elapsed < WINDOW:
            return
        values: dict[str, object] = {
            "fps": self._frames / elapsed,
            "skipped": skipped,
            "cameras": cameras,
        }
        if self._inference:
            values["inference_ms"] = sum(self._inference) / len(self._inference)
        if self._motion:
            values["motion_ms"] = sum(self._motion) / len(self._motion)
        self.device.update(values)  # type: ignore[arg-type]
        self._inference.clear()
        self._motion.clear()
        self._frames = 0
        self._since = time.monotonic()
