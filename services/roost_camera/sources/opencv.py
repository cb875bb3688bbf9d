"""Any source OpenCV's VideoCapture opens: a V4L2 device, an RTSP or HTTP stream, a file."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from roost_camera.settings import OpenCvSourceConfig
from roost_camera.sources.base import FrameSource, Pixels, SourceEnded, SourceError

BACKENDS = {
    "any": cv2.CAP_ANY,
    "v4l2": cv2.CAP_V4L2,
    "ffmpeg": cv2.CAP_FFMPEG,
    "gstreamer": cv2.CAP_GSTREAMER,
}
STREAM_SCHEMES = ("rtsp://", "rtsps://", "http://", "https://", "rtmp://", "udp://", "tcp://")


def is_file(url: str) -> bool:
    return not url.isdigit() and not url.startswith(("/dev/", *STREAM_SCHEMES))


def redact(url: str) -> str:
    """The URL without a password, for logs and state."""
    if "://" not in url or "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, _, host = rest.rpartition("@")
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"


class OpenCvSource(FrameSource, source_type="opencv"):
    def __init__(self, config: OpenCvSourceConfig) -> None:
        self.config = config
        self.file = is_file(config.url)
        self._capture: cv2.VideoCapture | None = None

    @property
    def live(self) -> bool:  # type: ignore[override]
        return not self.file

    def open(self) -> None:
        cfg = self.config
        if self.file and not Path(cfg.url).is_file():
            raise SourceError(f"video file {cfg.url} does not exist")
        if cfg.url.startswith(("rtsp://", "rtsps://")):
            # TCP survives lossy Wi-Fi far better than the UDP default: no smeared frames.
            os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp")
        target: int | str = int(cfg.url) if cfg.url.isdigit() else cfg.url
        timeout_ms = int(cfg.read_timeout * 1000)
        params = [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
            timeout_ms,
            cv2.CAP_PROP_READ_TIMEOUT_MSEC,
            timeout_ms,
        ]
        capture = cv2.VideoCapture(target, BACKENDS[cfg.backend], params)
        if not capture.isOpened():
            capture.release()
            raise SourceError(f"cannot open {redact(cfg.url)}")
        if cfg.width:
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, cfg.width)
        if cfg.height:
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, cfg.height)
        if self.live:
            # Keep the driver's queue short so a frame is recent when it is read.
            capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        self._capture = capture

    def read(self, now: float) -> Pixels:
        capture = self._capture
        if capture is None:
            raise SourceError("source is not open")
        ok, frame = capture.read()
        if not ok and self.file and self.config.loop:
            capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = capture.read()
        if not ok or frame is None:
            if self.file:
                raise SourceEnded(f"end of {self.config.url}")
            raise SourceError(f"no frame from {redact(self.config.url)}")
        if frame.ndim == 2:
            frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
        cfg = self.config
        if cfg.width and cfg.height and (frame.shape[1], frame.shape[0]) != (cfg.width, cfg.height):
            frame = cv2.resize(frame, (cfg.width, cfg.height), interpolation=cv2.INTER_AREA)
        return np.ascontiguousarray(frame, dtype=np.uint8)

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None

    def describe(self) -> str:
        return f"opencv {redact(self.config.url)}"
