"""A JPEG's size is read from its header before it is decoded: 631 bytes declaring
30000 x 30000 pixels took the detector 32 s of CPU and 5.2 GB of memory to decode."""

from __future__ import annotations

import cv2
import numpy as np

from roost.message import Message
from roost_detector.feed import FrameFeed
from roost_detector.jpeg import jpeg_size


def _jpeg(width: int, height: int) -> bytes:
    ok, buf = cv2.imencode(".jpg", np.zeros((height, width, 3), np.uint8))
    assert ok
    return bytes(buf.tobytes())


def _declaring(data: bytes, width: int, height: int) -> bytes:
    """The same bytes with the frame header claiming another size."""
    patched = bytearray(data)
    at = patched.find(b"\xff\xc0")
    patched[at + 5 : at + 7] = height.to_bytes(2, "big")
    patched[at + 7 : at + 9] = width.to_bytes(2, "big")
    return bytes(patched)


def test_the_size_comes_from_the_header() -> None:
    assert jpeg_size(_jpeg(64, 48)) == (64, 48)
    assert jpeg_size(_declaring(_jpeg(16, 16), 30000, 30000)) == (30000, 30000)
    for junk in (b"", b"\xff\xd8", b"\xff\xd8\xff\xda\x00\x02", b"not a jpeg", b"\xff\xd8" * 9):
        assert jpeg_size(junk) is None


def test_a_jpeg_bomb_is_refused_unread_and_a_real_frame_decoded() -> None:
    feed = FrameFeed("fz", "cam", transport="mqtt")
    feed.on_message("jpeg", Message("t/fz/cam/jpeg", _declaring(_jpeg(16, 16), 30000, 30000)))
    assert feed.take() is None
    assert feed.invalid == 1
    feed.on_message("jpeg", Message("t/fz/cam/jpeg", _jpeg(64, 48)))
    frame = feed.take()
    assert frame is not None and frame.pixels.shape == (48, 64, 3)
