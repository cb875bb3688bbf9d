"""What a frame source is. A source is one file: a subclass of `FrameSource` naming the
config type it serves registers itself."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

Pixels = npt.NDArray[np.uint8]


class SourceError(Exception):
    """The source cannot be opened or stopped delivering; the message says why."""


class SourceEnded(SourceError):
    """A finite source (a video file without `loop`) has no more frames."""


class FrameSource(ABC):
    """Delivers BGR frames (`height × width × 3`, uint8). Blocking calls: the capture
    loop runs them in a worker thread.

    `live` sources (cameras, streams) deliver at their own pace and the capture loop
    drops what it does not need; the others (synthetic, files) are read when a frame is
    due.
    """

    kind: ClassVar[str]
    live: ClassVar[bool] = False
    registry: ClassVar[dict[str, type[FrameSource]]] = {}

    def __init_subclass__(cls, *, source_type: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if source_type is not None:
            cls.kind = source_type
            FrameSource.registry[source_type] = cls

    @abstractmethod
    def __init__(self, config: Any) -> None:
        """Take the source's own config model; open nothing yet."""

    @abstractmethod
    def open(self) -> None:
        """Connect to the device or stream; raises SourceError."""

    @abstractmethod
    def read(self, now: float) -> Pixels:
        """The next frame (`now` is the wall-clock time it is for); raises SourceError."""

    @abstractmethod
    def close(self) -> None:
        """Release the device; safe to call twice."""

    def describe(self) -> str:
        return self.kind
