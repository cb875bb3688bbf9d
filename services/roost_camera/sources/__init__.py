"""Frame sources, registered by subclassing `FrameSource` (one file each)."""

from __future__ import annotations

from roost_camera.settings import SourceConfig
from roost_camera.sources import opencv, picamera, synthetic
from roost_camera.sources.base import FrameSource, Pixels, SourceEnded, SourceError

__all__ = ["FrameSource", "Pixels", "SourceEnded", "SourceError", "make_source"]
_REGISTERED = (opencv, picamera, synthetic)


def make_source(config: SourceConfig) -> FrameSource:
    cls = FrameSource.registry[config.type]
    return cls(config)
