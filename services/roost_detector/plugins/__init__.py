"""Object detector plugins: one file each, registered by subclassing `ObjectDetector`."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from roost_detector.plugins import haar, hog, onnx
from roost_detector.plugins.base import ModelConfig, ModelError, ObjectDetector

__all__ = ["ModelConfig", "ModelError", "ObjectDetector", "make_detector", "model_config"]
_REGISTERED = (haar, hog, onnx)


def model_config(raw: Any) -> ModelConfig:
    """Validate `[detector.model]` against the config of the plugin its `type` names."""
    if isinstance(raw, ModelConfig):
        return raw
    if not isinstance(raw, dict):
        raise ValueError("model must be a table with a `type`")
    kind = raw.get("type", "hog")
    plugin = ObjectDetector.registry.get(kind)
    if plugin is None:
        known = ", ".join(sorted(ObjectDetector.registry))
        raise ValueError(f"unknown model type {kind!r} (known: {known})")
    try:
        return plugin.config_model.model_validate({**raw, "type": kind})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        message = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
        raise ValueError(f"{kind} model, {where}: {message}") from None


def make_detector(config: ModelConfig) -> ObjectDetector:
    return ObjectDetector.registry[config.type](config)
