"""OpenCV's built-in HOG people detector: offline, no model file, label `person`.

Score is the logistic of the SVM margin (margin 0 → 0.5, 1 → 0.73, 2 → 0.88).
"""

from __future__ import annotations

from typing import Any, Literal

import cv2
from pydantic import Field

from roost_detector.detection import Detection, Pixels, nms, sigmoid
from roost_detector.plugins.base import ModelConfig, ObjectDetector


class HogConfig(ModelConfig):
    type: Literal["hog"] = "hog"
    resize_width: int = Field(default=640, ge=128, description="frames are scaled down to this")
    win_stride: int = Field(default=8, ge=4, le=32)
    padding: int = Field(default=8, ge=0, le=32)
    scale: float = Field(default=1.05, gt=1.0, le=2.0)
    hit_threshold: float = 0.0
    nms: float = Field(default=0.45, gt=0, le=1)


class HogDetector(ObjectDetector, config=HogConfig):
    def __init__(self, config: HogConfig) -> None:
        self.config = config
        self.hog = cv2.HOGDescriptor()
        people: Any = cv2.HOGDescriptor.getDefaultPeopleDetector()
        self.hog.setSVMDetector(people)

    @property
    def labels(self) -> list[str]:
        return ["person"]

    def detect(self, frame: Pixels) -> list[Detection]:
        cfg = self.config
        height, width = frame.shape[:2]
        factor = 1.0
        image: Any = frame
        if width > cfg.resize_width:
            factor = width / cfg.resize_width
            image = cv2.resize(
                frame, (cfg.resize_width, round(height / factor)), interpolation=cv2.INTER_AREA
            )
        rects, weights = self.hog.detectMultiScale(
            image,
            hitThreshold=cfg.hit_threshold,
            winStride=(cfg.win_stride, cfg.win_stride),
            padding=(cfg.padding, cfg.padding),
            scale=cfg.scale,
        )
        found = []
        for (x, y, w, h), weight in zip(rects, weights, strict=False):
            box = (
                round(x * factor),
                round(y * factor),
                round((x + w) * factor),
                round((y + h) * factor),
            )
            found.append(Detection("person", sigmoid(float(weight)), box))
        return nms(found, cfg.nms)

    def describe(self) -> str:
        return "OpenCV HOG people detector"
