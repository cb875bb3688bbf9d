"""JPEG encoding with a size bound (snapshots on MQTT must stay small)."""

from __future__ import annotations

import cv2
import numpy as np

from roost_camera.sources import Pixels

MIN_QUALITY = 30


def encode_jpeg(pixels: Pixels, quality: int = 85) -> bytes:
    ok, data = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return bytes(data)


def scaled(pixels: Pixels, width: int) -> Pixels:
    """`pixels` no wider than `width`, aspect kept."""
    h, w = pixels.shape[:2]
    if w <= width:
        return pixels
    height = max(1, round(h * width / w))
    return np.asarray(
        cv2.resize(pixels, (width, height), interpolation=cv2.INTER_AREA), dtype=np.uint8
    )


def bounded_jpeg(pixels: Pixels, *, width: int, max_bytes: int, quality: int = 80) -> bytes:
    """A JPEG at most `width` wide and `max_bytes` long: lower quality first, then smaller."""
    image = scaled(pixels, width)
    while True:
        q = quality
        while True:
            data = encode_jpeg(image, q)
            if len(data) <= max_bytes or q <= MIN_QUALITY:
                break
            q = max(MIN_QUALITY, q - 15)
        if len(data) <= max_bytes or image.shape[1] <= 64:
            return data
        image = scaled(image, int(image.shape[1] * 0.7))
