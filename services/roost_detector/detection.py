"""What detectors produce: labelled, scored boxes in frame pixels; IoU and NMS on them."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Pixels = npt.NDArray[np.uint8]
Box = tuple[int, int, int, int]  # x1, y1, x2, y2


@dataclass(frozen=True, slots=True)
class Detection:
    label: str
    score: float
    box: Box


def iou(a: Box, b: Box) -> float:
    ix1, iy1 = max(a[0], b[0]), max(a[1], b[1])
    ix2, iy2 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0, ix2 - ix1) * max(0, iy2 - iy1)
    if inter == 0:
        return 0.0
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def nms(detections: list[Detection], threshold: float) -> list[Detection]:
    """Greedy non-maximum suppression per label: the best box of each overlapping group."""
    kept: list[Detection] = []
    for detection in sorted(detections, key=lambda d: d.score, reverse=True):
        if all(k.label != detection.label or iou(k.box, detection.box) < threshold for k in kept):
            kept.append(detection)
    return kept


def sigmoid(value: float) -> float:
    """A classifier's margin as a score in (0, 1): 0 → 0.5."""
    return 1.0 / (1.0 + math.exp(-value))
