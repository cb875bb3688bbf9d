"""A Raspberry Pi camera through picamera2 (Raspberry Pi OS: `apt install python3-picamera2`).

picamera2 is imported only when a camera is configured with `type = "picamera"`, so the
service runs anywhere else without it.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from roost_camera.settings import PiCameraSourceConfig
from roost_camera.sources.base import FrameSource, Pixels, SourceError


class PiCameraSource(FrameSource, source_type="picamera"):
    live = True

    def __init__(self, config: PiCameraSourceConfig) -> None:
        self.config = config
        self._camera: Any = None

    def open(self) -> None:
        try:
            picamera2 = importlib.import_module("picamera2")
            libcamera = importlib.import_module("libcamera")
        except ImportError:
            raise SourceError(
                "picamera2 is not installed: on Raspberry Pi OS `apt install python3-picamera2` "
                "and create the venv with --system-site-packages"
            ) from None
        cfg = self.config
        try:
            camera = picamera2.Picamera2(cfg.camera_num)
            # BGR888 in libcamera's naming is B,G,R byte order in memory: OpenCV's BGR.
            video = camera.create_video_configuration(
                main={"size": (cfg.width, cfg.height), "format": "RGB888"},
                transform=libcamera.Transform(hflip=int(cfg.hflip), vflip=int(cfg.vflip)),
                buffer_count=2,
            )
            camera.configure(video)
            camera.start()
        except Exception as exc:  # picamera2 raises bare RuntimeErrors for a missing camera
            raise SourceError(f"Pi camera {cfg.camera_num}: {exc}") from None
        self._camera = camera

    def read(self, now: float) -> Pixels:
        if self._camera is None:
            raise SourceError("Pi camera is not open")
        try:
            frame = self._camera.capture_array("main")
        except Exception as exc:
            raise SourceError(f"Pi camera {self.config.camera_num}: {exc}") from None
        return np.ascontiguousarray(frame[:, :, :3], dtype=np.uint8)

    def close(self) -> None:
        if self._camera is not None:
            try:
                self._camera.stop()
                self._camera.close()
            finally:
                self._camera = None

    def describe(self) -> str:
        return f"picamera {self.config.camera_num}"
