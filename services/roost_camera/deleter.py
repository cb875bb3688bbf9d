"""The deleter: retention by age, by archive size and by a free-disk floor.

Oldest first, only files the writers make (`.jpg`, `.mp4`), never a `.part` file and
never a file a writer holds open. The free-space floor is kept per filesystem: when the
spool and the archive are on different disks each is measured on its own.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from roost_camera.files import PART, OpenFiles, kind_of
from roost_camera.mover import prune_empty_dirs
from roost_camera.settings import StorageConfig

log = logging.getLogger("roost_camera.deleter")

MB = 1_000_000


class DiskUsage(NamedTuple):
    total: int
    used: int
    free: int


DiskProbe = Callable[[Path], DiskUsage]


def disk_usage(path: Path) -> DiskUsage:
    usage = shutil.disk_usage(path)
    return DiskUsage(usage.total, usage.used, usage.free)


@dataclass(frozen=True)
class Deleted:
    path: Path
    root: Path
    size: int
    reason: str  # age, quota, free_space


@dataclass(frozen=True)
class _Candidate:
    mtime: float
    path: Path
    root: Path
    size: int
    device: int


class Deleter:
    def __init__(
        self,
        roots: list[Path],
        config: StorageConfig,
        open_files: OpenFiles,
        *,
        probe: DiskProbe = disk_usage,
        archive: Path | None = None,
    ) -> None:
        self.roots = roots
        self.config = config
        self.open_files = open_files
        self.probe = probe
        self.archive = archive or roots[-1]

    def candidates(self) -> list[_Candidate]:
        found = []
        for root in self.roots:
            if not root.is_dir():
                continue
            for path in root.rglob("*"):
                if path.name.endswith(PART) or kind_of(path) is None or path in self.open_files:
                    continue
                try:
                    stat = path.stat()
                except FileNotFoundError:
                    continue
                if not path.is_file():
                    continue
                found.append(_Candidate(stat.st_mtime, path, root, stat.st_size, stat.st_dev))
        found.sort(key=lambda c: (c.mtime, str(c.path)))
        return found

    def sweep(self, now: float | None = None) -> list[Deleted]:
        """Delete what retention says must go; returns what was deleted."""
        now = time.time() if now is None else now
        cfg = self.config
        files = self.candidates()
        deleted: list[Deleted] = []
        gone: set[Path] = set()

        def drop(candidate: _Candidate, reason: str) -> bool:
            if candidate.path in self.open_files:  # a writer opened it since the scan
                return False
            try:
                candidate.path.unlink()
            except FileNotFoundError:
                return False
            except OSError as exc:
                log.error("cannot delete %s: %s", candidate.path, exc)
                return False
            gone.add(candidate.path)
            deleted.append(Deleted(candidate.path, candidate.root, candidate.size, reason))
            prune_empty_dirs(candidate.path.parent, candidate.root)
            return True

        if cfg.max_age_hours is not None:
            cutoff = now - cfg.max_age_hours * 3600
            for candidate in files:
                if candidate.mtime < cutoff:
                    drop(candidate, "age")
        if cfg.max_archive_mb is not None:
            in_archive = [c for c in files if c.root == self.archive and c.path not in gone]
            excess = sum(c.size for c in in_archive) - cfg.max_archive_mb * MB
            for candidate in in_archive:
                if excess <= 0:
                    break
                if drop(candidate, "quota"):
                    excess -= candidate.size
        if cfg.min_free_mb > 0:
            for device in sorted({c.device for c in files}):
                on_disk = [c for c in files if c.device == device and c.path not in gone]
                if not on_disk:
                    continue
                deficit = cfg.min_free_mb * MB - self.probe(on_disk[0].root).free
                for candidate in on_disk:
                    if deficit <= 0:
                        break
                    if drop(candidate, "free_space"):
                        deficit -= candidate.size
        for item in deleted:
            log.info("deleted %s (%s)", item.path, item.reason)
        return deleted
