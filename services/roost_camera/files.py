"""Files the writers make: where they go, which are still being written, what is done.

A writer writes `<name>.part` in the spool and renames it when the file is complete, so
a `.part` file is never finished, and it registers the path in `OpenFiles` while it is
open so the deleter and the mover keep their hands off it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

PART = ".part"
FileKind = Literal["jpeg", "segment"]
SUFFIXES: dict[str, FileKind] = {".jpg": "jpeg", ".mp4": "segment"}


@dataclass(frozen=True)
class FinishedFile:
    path: Path  # absolute
    relative: Path  # from the spool or archive root: <camera>/<date>/<name>
    kind: FileKind
    camera: str
    start: float
    end: float
    size: int

    def event_data(self, root: Path | None = None) -> dict[str, object]:
        data: dict[str, object] = {
            "camera": self.camera,
            "kind": self.kind,
            "file": str(self.relative),
            "path": str(self.path),
            "bytes": self.size,
            "start": round(self.start, 3),
            "end": round(self.end, 3),
        }
        if self.kind == "segment":
            data["duration"] = round(self.end - self.start, 3)
        return data

    def moved(self, root: Path) -> FinishedFile:
        path = root / self.relative
        return FinishedFile(
            path, self.relative, self.kind, self.camera, self.start, self.end, self.size
        )


def relative_name(camera: str, ts: float, suffix: str) -> Path:
    """`<camera>/<YYYY-MM-DD>/<camera>-<YYYYmmddTHHMMSS>Z<suffix>`, in UTC."""
    moment = time.gmtime(ts)
    day = time.strftime("%Y-%m-%d", moment)
    stamp = time.strftime("%Y%m%dT%H%M%S", moment)
    millis = int((ts % 1) * 1000)
    return Path(camera, day, f"{camera}-{stamp}.{millis:03d}Z{suffix}")


def kind_of(path: Path) -> FileKind | None:
    return SUFFIXES.get(path.suffix)


def camera_of(relative: Path) -> str:
    return relative.parts[0] if len(relative.parts) > 1 else ""


class OpenFiles:
    """Paths being written right now (shared by the writers, the mover and the deleter).

    Paths are compared as given: everyone builds them from the same resolved spool and
    archive roots (resolving each one again would cost a retention scan dearly).
    """

    def __init__(self) -> None:
        self._paths: set[str] = set()

    def add(self, path: Path) -> None:
        self._paths.add(str(path))

    def discard(self, path: Path) -> None:
        self._paths.discard(str(path))

    def __contains__(self, path: object) -> bool:
        """`path` as a Path or a str."""
        return str(path) in self._paths

    def __len__(self) -> int:
        return len(self._paths)
