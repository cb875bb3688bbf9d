"""OpenCV's Haar cascades, shipped inside opencv-python-headless 4.x: faces, full bodies,
and any other cascade file. Offline, no download.

Score is the logistic of the cascade's final stage weight.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import cv2
from pydantic import Field

from roost_detector.detection import Detection, Pixels, nms, sigmoid
from roost_detector.plugins.base import ModelConfig, ModelError, ObjectDetector

DEFAULT_CASCADES = {
    "face": "haarcascade_frontalface_default.xml",
    "person": "haarcascade_fullbody.xml",
}


class HaarConfig(ModelConfig):
    type: Literal["haar"] = "haar"
    cascades: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_CASCADES),
        description="label → cascade: a file name in OpenCV's data folder or a path",
    )
    resize_width: int = Field(default=640, ge=128)
    scale_factor: float = Field(default=1.1, gt=1.0, le=2.0)
    min_neighbors: int = Field(default=4, ge=0)
    min_size: int = Field(default=24, ge=8)
    nms: float = Field(default=0.45, gt=0, le=1)


def cascade_path(name: str) -> Path:
    given = Path(name)
    if given.is_file():
        return given
    return Path(cv2.data.haarcascades) / name  # type: ignore[attr-defined]


class HaarDetector(ObjectDetector, config=HaarConfig):
    def __init__(self, config: HaarConfig) -> None:
        self.config = config
        self.cascades: dict[str, cv2.CascadeClassifier] = {}
        for label, name in config.cascades.items():
            path = cascade_path(name)
            cascade = cv2.CascadeClassifier(str(path))
            if cascade.empty():
                raise ModelError(f"Haar cascade for {label!r}: cannot load {path}")
            self.cascades[label] = cascade

    @property
    def labels(self) -> list[str]:
        return list(self.cascades)

    def detect(self, frame: Pixels) -> list[Detection]:
        cfg = self.config
        height, width = frame.shape[:2]
        factor = max(1.0, width / cfg.resize_width)
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        if factor > 1.0:
            gray = cv2.resize(
                gray, (round(width / factor), round(height / factor)), interpolation=cv2.INTER_AREA
            )
        gray = cv2.equalizeHist(gray)
        found = []
        for label, cascade in self.cascades.items():
            rects, _, weights = cascade.detectMultiScale3(
                gray,
                scaleFactor=cfg.scale_factor,
                minNeighbors=cfg.min_neighbors,
                minSize=(cfg.min_size, cfg.min_size),
                outputRejectLevels=True,
            )
            for (x, y, w, h), weight in zip(rects, weights, strict=False):
                box = (
                    round(x * factor),
                    round(y * factor),
                    round((x + w) * factor),
                    round((y + h) * factor),
                )
                found.append(Detection(label, sigmoid(float(weight)), box))
        return nms(found, cfg.nms)

    def describe(self) -> str:
        return f"OpenCV Haar cascades ({', '.join(self.cascades)})"
