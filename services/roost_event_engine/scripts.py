"""The scripts folder: which file plays which part, and what changed on disk.

    devices/<device>.js          <prop>_ontrigger, <prop>_onchange, onevent for that device
                                 id on any node
    devices/<node>/<device>.js   the same for one node's device
    groups/<group>.js            onchange (and onevent) for a group from config
    <name>.js                    home scripts: onstart, onevent for every event, and
                                 functions for timers and schedules

Every script may define `onstart()`, run once after it loads. Other files are ignored.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

log = logging.getLogger("roost.event_engine.scripts")

MAX_SCRIPT_BYTES = 1_000_000


class Role(StrEnum):
    DEVICE = "device"
    GROUP = "group"
    HOME = "home"


@dataclass(frozen=True)
class Placement:
    role: Role
    target: str  # device id, node/device, group name, or the home script's name


def place(path: str) -> Placement | None:
    """The part a file plays, from its path relative to the scripts folder."""
    parts = path.split("/")
    if not parts[-1].endswith(".js") or any(p.startswith(".") for p in parts):
        return None
    stem = parts[-1][: -len(".js")]
    if not stem:
        return None
    if len(parts) == 1:
        return Placement(Role.HOME, stem)
    if parts[0] == "devices" and len(parts) == 2:
        return Placement(Role.DEVICE, stem)
    if parts[0] == "devices" and len(parts) == 3:
        return Placement(Role.DEVICE, f"{parts[1]}/{stem}")
    if parts[0] == "groups" and len(parts) == 2:
        return Placement(Role.GROUP, stem)
    return None


@dataclass(frozen=True)
class FileVersion:
    mtime_ns: int
    size: int


@dataclass(frozen=True)
class Change:
    path: str
    source: str | None  # None: the file is gone
    error: str | None = None  # it could not be read


class ScriptFolder:
    """Scans the folder; `scan()` returns what was added, changed or removed since the
    last scan."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._seen: dict[str, FileVersion] = {}

    def scan(self) -> list[Change]:
        found: dict[str, FileVersion] = {}
        if self.root.is_dir():
            for file in sorted(self.root.rglob("*.js")):
                rel = file.relative_to(self.root).as_posix()
                if place(rel) is None or not file.is_file():
                    continue
                try:
                    stat = file.stat()
                except OSError:
                    continue
                found[rel] = FileVersion(stat.st_mtime_ns, stat.st_size)
        changes = []
        for rel, version in found.items():
            if self._seen.get(rel) == version:
                continue
            changes.append(self._read(rel, version))
        for rel in self._seen.keys() - found.keys():
            changes.append(Change(rel, None))
        self._seen = found
        return changes

    def _read(self, rel: str, version: FileVersion) -> Change:
        if version.size > MAX_SCRIPT_BYTES:
            return Change(rel, None, f"{rel} is {version.size} bytes; the limit is 1 MB")
        try:
            return Change(rel, (self.root / rel).read_text("utf-8"))
        except UnicodeDecodeError:
            return Change(rel, None, f"{rel} is not UTF-8 text")
        except OSError as exc:
            return Change(rel, None, f"{rel}: {exc.strerror}")


def _copy(source: Traversable, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for item in source.iterdir():
        if item.is_dir():
            _copy(item, target / item.name)
        elif item.name.endswith(".js") or item.name.endswith(".md"):
            (target / item.name).write_bytes(item.read_bytes())


def seed_examples(root: Path) -> bool:
    """Copy the shipped example scripts into `root` if it does not exist yet."""
    if root.exists():
        return False
    _copy(files("roost_event_engine").joinpath("examples"), root)
    log.info("copied the example scripts to %s", root)
    return True
