"""Where to look: regions round motion and tracked objects, as Frigate does, so the object
detector spends its time on the parts of the frame that changed, not on the whole frame.

Each box grows by a margin and to at least the size the detector needs to see a person
whole; overlapping regions merge; when they cover most of the frame, the frame it is.
"""

from __future__ import annotations

from roost_detector.detection import Box

MARGIN = 0.5  # of the box's size, on each side
FULL_FRAME = 0.6  # regions covering more than this share of the frame → the whole frame


def _grow(box: Box, width: int, height: int, min_w: int, min_h: int) -> Box:
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    w2 = max(min_w, round(w * (1 + 2 * MARGIN)))
    h2 = max(min_h, round(h * (1 + 2 * MARGIN)))
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    left = int(min(max(0, cx - w2 / 2), max(0, width - w2)))
    top = int(min(max(0, cy - h2 / 2), max(0, height - h2)))
    return (left, top, min(width, left + w2), min(height, top + h2))


def _overlap(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _union(a: Box, b: Box) -> Box:
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def regions(
    boxes: list[Box], width: int, height: int, *, min_w: int = 128, min_h: int = 256
) -> list[Box]:
    """Regions to run the object detector on; [] when there is nothing to look at."""
    if not boxes:
        return []
    grown = [_grow(box, width, height, min_w, min_h) for box in boxes]
    merged: list[Box] = []
    for box in grown:
        while True:
            hit = next((m for m in merged if _overlap(m, box)), None)
            if hit is None:
                break
            merged.remove(hit)
            box = _union(hit, box)
        merged.append(box)
    area = sum((x2 - x1) * (y2 - y1) for x1, y1, x2, y2 in merged)
    if area > FULL_FRAME * width * height:
        return [(0, 0, width, height)]
    return merged
