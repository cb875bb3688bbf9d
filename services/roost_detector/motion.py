"""Motion: background subtraction (MOG2) on a small grey frame, cleaned by morphology.

It gates the object detector as Frigate's does: the costly model runs only on frames
with motion (or while it is following an object).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from roost_detector.detection import Box, Pixels
from roost_detector.settings import MotionConfig

_OPEN = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
_DILATE = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))


@dataclass(frozen=True, slots=True)
class MotionResult:
    motion: bool
    area: float  # fraction of the frame that moved
    boxes: list[Box]  # in frame pixels


class MotionDetector:
    def __init__(self, config: MotionConfig) -> None:
        self.config = config
        self.frames = 0
        self._subtractor = cv2.createBackgroundSubtractorMOG2(
            history=300, varThreshold=config.threshold, detectShadows=False
        )

    def apply(self, frame: Pixels) -> MotionResult:
        cfg = self.config
        height, width = frame.shape[:2]
        factor = max(1.0, width / cfg.width)
        small: Any = frame
        if factor > 1.0:
            small = cv2.resize(
                frame, (round(width / factor), round(height / factor)), interpolation=cv2.INTER_AREA
            )
        gray = cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), (5, 5), 0)
        mask = self._subtractor.apply(gray)
        self.frames += 1
        if self.frames <= cfg.warmup_frames:
            return MotionResult(False, 0.0, [])  # the background model is still learning
        # Opening drops single-pixel flicker; dilation joins the parts of one moving thing.
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, _OPEN)
        mask = cv2.dilate(mask, _DILATE, iterations=2)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        total = float(mask.shape[0] * mask.shape[1])
        min_area = cfg.min_area * total
        boxes: list[Box] = []
        moved = 0.0
        for contour in contours:
            area = cv2.contourArea(contour)
            if area < min_area:
                continue
            moved += area
            x, y, w, h = cv2.boundingRect(contour)
            boxes.append(
                (
                    round(x * factor),
                    round(y * factor),
                    round((x + w) * factor),
                    round((y + h) * factor),
                )
            )
        return MotionResult(bool(boxes), float(np.clip(moved / total, 0, 1)), boxes)
