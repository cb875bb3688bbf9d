"""What an object detector is. A detector is one file in this folder: a config model with
a `type` literal and a subclass of `ObjectDetector` naming it, which registers itself."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from roost.settings import Section
from roost_detector.detection import Detection, Pixels


class ModelConfig(Section):
    """Base of every detector plugin's config (unknown keys are refused)."""

    type: str


class ObjectDetector(ABC):
    """Finds objects in a BGR frame. `detect` blocks: the service runs it in a thread."""

    registry: ClassVar[dict[str, type[ObjectDetector]]] = {}
    config_model: ClassVar[type[ModelConfig]]

    def __init_subclass__(cls, *, config: type[ModelConfig] | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if config is not None:
            cls.config_model = config
            kind = config.model_fields["type"].default
            ObjectDetector.registry[kind] = cls

    @abstractmethod
    def __init__(self, config: Any) -> None:
        """Load the model; raises ModelError with a line a person can act on."""

    @property
    @abstractmethod
    def labels(self) -> list[str]:
        """Every label this detector can report."""

    @abstractmethod
    def detect(self, frame: Pixels) -> list[Detection]:
        """Objects in `frame`, boxes in its pixels."""

    def describe(self) -> str:
        return type(self).__name__


class ModelError(Exception):
    """A model cannot be loaded or run."""
