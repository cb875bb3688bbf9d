"""The best snapshot of an event: the frame with its top score, the box drawn on it."""

from __future__ import annotations

import cv2

from roost_detector.detection import Box, Pixels

COLOR = (0, 200, 255)


def annotated_jpeg(frame: Pixels, box: Box, caption: str, quality: int = 85) -> bytes:
    image = frame.copy()
    x1, y1, x2, y2 = box
    thickness = max(2, image.shape[1] // 320)
    cv2.rectangle(image, (x1, y1), (x2, y2), COLOR, thickness)
    scale = max(0.5, image.shape[1] / 1280)
    (tw, th), base = cv2.getTextSize(caption, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    top = max(0, y1 - th - base - 4)
    cv2.rectangle(image, (x1, top), (x1 + tw + 6, top + th + base + 4), COLOR, -1)
    cv2.putText(
        image, caption, (x1 + 3, top + th + 2), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1,
        cv2.LINE_AA,
    )  # fmt: skip
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return bytes(data)
