"""The `[camera]` section: cameras, where files go, how long they stay, where they upload."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import Field, field_validator, model_validator

from roost.settings import RoostSettings, Section
from roost.topics import DeviceId

FileKindName = Literal["jpeg", "segment"]
FILE_KINDS: tuple[FileKindName, ...] = ("jpeg", "segment")


class SyntheticSourceConfig(Section):
    """Frames drawn in software: moving shapes, a clock, a patch of noise; optionally a
    looping video file as the background and a photo that walks across now and then."""

    type: Literal["synthetic"] = "synthetic"
    width: int = Field(default=640, ge=32, le=3840)
    height: int = Field(default=480, ge=32, le=2160)
    shapes: int = Field(default=3, ge=0, le=20)
    clock: bool = True
    noise: bool = True
    video: Path | None = None
    visitor: Path | None = Field(default=None, description="a photo that walks through")
    figure: bool = Field(default=True, description="without a photo, a drawn person walks")
    visitor_height: float = Field(default=0.35, gt=0, le=1)
    visitor_seconds: float = Field(default=6.0, gt=0)
    visitor_gap: float = Field(default=14.0, ge=0)


class OpenCvSourceConfig(Section):
    """Anything OpenCV's VideoCapture opens: a V4L2 device, an RTSP/HTTP URL, a file."""

    type: Literal["opencv"] = "opencv"
    url: str = Field(description="/dev/video0, a device index like 0, rtsp://…, a file path")
    width: int | None = Field(default=None, ge=32)
    height: int | None = Field(default=None, ge=32)
    backend: Literal["any", "v4l2", "ffmpeg", "gstreamer"] = "any"
    loop: bool = Field(default=False, description="start a video file again at its end")
    read_timeout: float = Field(default=10.0, gt=0)


class PiCameraSourceConfig(Section):
    """A Raspberry Pi camera through picamera2 (imported only when configured)."""

    type: Literal["picamera"] = "picamera"
    camera_num: int = Field(default=0, ge=0)
    width: int = Field(default=640, ge=32)
    height: int = Field(default=480, ge=32)
    hflip: bool = False
    vflip: bool = False


SourceConfig = Annotated[
    SyntheticSourceConfig | OpenCvSourceConfig | PiCameraSourceConfig,
    Field(discriminator="type"),
]


class CameraConfig(Section):
    name: str | None = None
    source: SourceConfig = Field(default_factory=SyntheticSourceConfig)
    enabled: bool = True
    fps: float = Field(default=10.0, ge=0.5, le=60)
    snapshot_interval: float = Field(default=5.0, ge=0.5, le=3600)
    snapshot_width: int = Field(default=640, ge=64, le=3840)
    snapshot_max_bytes: int = Field(default=256_000, ge=8_000, le=8_000_000)
    jpeg_interval: float = Field(default=4.0, ge=0, le=86400)
    jpeg_quality: int = Field(default=85, ge=10, le=100)
    recording: bool = True
    segment_seconds: float = Field(default=60.0, ge=1, le=3600)
    encoder: str = "libx264"
    preset: str = "ultrafast"
    crf: int = Field(default=28, ge=0, le=51)
    ffmpeg: str = "ffmpeg"
    ffmpeg_args: list[str] = Field(default_factory=list)
    stream_fps: float = Field(default=0.0, ge=0, le=10)
    stream_width: int = Field(default=640, ge=64, le=3840)
    ring_slots: int = Field(default=4, ge=2, le=64)
    motion_from: str | None = Field(
        default=None, description="`node/device` whose `motion` state the camera mirrors"
    )


class StorageConfig(Section):
    spool_dir: Path | None = None
    archive_dir: Path | None = None
    max_age_hours: float | None = Field(default=168.0, gt=0)
    min_free_mb: float = Field(default=1024.0, ge=0)
    max_archive_mb: float | None = Field(default=None, gt=0)
    check_interval: float = Field(default=300.0, ge=0.05)
    move_delay: float = Field(default=0.0, ge=0)


class UploadConfig(Section):
    target: str | None = Field(
        default=None, description="http(s)://… to POST to, or a directory (a mount) to copy to"
    )
    kinds: list[FileKindName] = Field(default_factory=lambda: list(FILE_KINDS))
    retry_interval: float = Field(default=60.0, ge=0.05)
    timeout: float = Field(default=30.0, gt=0)
    headers: dict[str, str] = Field(default_factory=dict)
    field_name: str = "file"
    delete_after_upload: bool = False

    @field_validator("target")
    @classmethod
    def _target(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("target is empty")
        return value


class CameraSection(Section):
    cameras: dict[DeviceId, CameraConfig] = Field(default_factory=lambda: {"demo": CameraConfig()})
    storage: StorageConfig = Field(default_factory=StorageConfig)
    upload: UploadConfig = Field(default_factory=UploadConfig)
    shm_dir: Path | None = None

    @field_validator("cameras")
    @classmethod
    def _ids(cls, value: dict[str, CameraConfig]) -> dict[str, CameraConfig]:
        for camera_id in value:
            if camera_id == "storage":
                raise ValueError("camera id 'storage' is the storage device's")
        return value

    @model_validator(mode="after")
    def _some_camera(self) -> Self:
        if not self.cameras:
            raise ValueError("no cameras configured")
        return self

    @field_validator("shm_dir")
    @classmethod
    def _shm_dir(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_dir():
            raise ValueError(f"{value} is not a directory")
        return value


class Settings(RoostSettings):
    camera: CameraSection = Field(default_factory=CameraSection)

    def spool_dir(self) -> Path:
        return self.camera.storage.spool_dir or self.data_path("camera", "spool")

    def archive_dir(self) -> Path:
        return self.camera.storage.archive_dir or self.data_path("camera", "archive")

    def upload_dir(self) -> Path:
        return self.data_path("camera", "upload")
