"""The `[detector]` section: which cameras, how often, which model, motion and tracking."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from roost.settings import RoostSettings, Section
from roost.topics import DeviceId
from roost_detector.plugins import ModelConfig, model_config
from roost_detector.plugins.hog import HogConfig

Transport = Literal["auto", "shm", "mqtt"]


class MotionConfig(Section):
    width: int = Field(default=320, ge=64, description="frames are scaled to this width first")
    threshold: int = Field(default=25, ge=1, le=255, description="MOG2 variance threshold")
    min_area: float = Field(default=0.002, gt=0, le=1, description="fraction of the frame")
    warmup_frames: int = Field(default=10, ge=0)
    off_delay: float = Field(default=5.0, ge=0, description="seconds without motion → off")


class TrackingConfig(Section):
    min_hits: int = Field(default=2, ge=1, description="detections before an event starts")
    end_after: float = Field(default=3.0, gt=0, description="seconds unseen → event ends")
    iou: float = Field(default=0.2, gt=0, le=1, description="overlap that continues a track")
    max_distance: float = Field(
        default=1.0, ge=0, description="else: centre distance, in box sizes, that continues it"
    )
    update_interval: float = Field(default=1.0, ge=0)


class CameraDetectConfig(Section):
    source: str | None = Field(
        default=None, description="`node/camera` of the frames; default camera/<id>"
    )
    enabled: bool = True
    transport: Transport | None = Field(
        default=None, description="auto: the ring when it is on this host, else MQTT JPEGs"
    )
    detect_fps: float | None = Field(default=None, gt=0, le=30)
    min_score: float | None = Field(default=None, ge=0, le=1)
    track: list[str] | None = None


class DetectorSection(Section):
    cameras: dict[DeviceId, CameraDetectConfig] = Field(default_factory=dict)
    auto: bool = Field(default=True, description="detect on every camera that sends frames")
    max_auto_cameras: int = Field(
        default=16, ge=0, description="cameras watched automatically, at most (each costs CPU)"
    )
    transport: Transport = "auto"
    detect_fps: float = Field(default=5.0, gt=0, le=30)
    min_score: float = Field(default=0.6, ge=0, le=1)
    track: list[str] | None = Field(default=None, description="labels to report; None: all")
    threads: int = Field(default=1, ge=1, le=64, description="OpenCV threads")
    regions: bool = Field(default=True, description="detect only round motion and objects")
    snapshot_quality: int = Field(default=85, ge=10, le=100)
    model: ModelConfig = Field(default_factory=HogConfig)
    motion: MotionConfig = Field(default_factory=MotionConfig)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)

    @field_validator("model", mode="before")
    @classmethod
    def _model(cls, value: Any) -> ModelConfig:
        return model_config(value)

    @field_validator("cameras")
    @classmethod
    def _ids(cls, value: dict[str, CameraDetectConfig]) -> dict[str, CameraDetectConfig]:
        for camera_id in value:
            if camera_id == "model":
                raise ValueError("camera id 'model' is the model device's")
        return value


class Settings(RoostSettings):
    detector: DetectorSection = Field(default_factory=DetectorSection)
