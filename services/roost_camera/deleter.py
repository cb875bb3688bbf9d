"""The deleter: retention by age, by archive size and by a free-disk floor.

Oldest first, only files the writers make (`.jpg`, `.mp4`), never a `.part` file and
never a file a writer holds open. The free-space floor is kept per filesystem: when the
spool and the archive are on different disks each is measured on its own.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from roost_camera.files import PART, SUFFIXES, OpenFiles
from roost_camera.mover import prune_empty_dirs
from roost_camera.settings import StorageConfig

log = logging.getLogger("roost_camera.deleter")

MB = 1_000_000
SUFFIX_NAMES = tuple(SUFFIXES)


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


@dataclass(frozen=True, slots=True)
class _Candidate:
    mtime: float
    path: str  # a str, not a Path: a scan makes one per file, and Paths are slow to make
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
        self.usage: dict[Path, tuple[int, int]] = {}  # root → (bytes, files) after a sweep

    def candidates(self) -> list[_Candidate]:
        """The writers' finished files under every root, oldest first."""
        found: list[_Candidate] = []
        for root in self.roots:
            self._walk(root, root, found)
        found.sort(key=lambda c: (c.mtime, c.path))
        return found

    def _walk(self, root: Path, folder: Path, found: list[_Candidate]) -> None:
        # os.scandir: one stat per file, no per-path objects for folders' listings.
        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError):
            return
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                self._walk(root, Path(entry.path), found)
                continue
            name = entry.name
            if name.endswith(PART) or not name.endswith(SUFFIX_NAMES):
                continue
            path = entry.path
            if path in self.open_files:
                continue
            try:
                stat = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            found.append(_Candidate(stat.st_mtime, path, root, stat.st_size, stat.st_dev))

    def sweep(self, now: float | None = None) -> list[Deleted]:
        """Delete what retention says must go; returns what was deleted."""
        now = time.time() if now is None else now
        cfg = self.config
        files = self.candidates()
        deleted: list[Deleted] = []
        gone: set[str] = set()

        def drop(candidate: _Candidate, reason: str) -> bool:
            if candidate.path in self.open_files:  # a writer opened it since the scan
                return False
            path = Path(candidate.path)
            try:
                path.unlink()
            except FileNotFoundError:
                return False
            except OSError as exc:
                log.error("cannot delete %s: %s", candidate.path, exc)
                return False
            gone.add(candidate.path)
            deleted.append(Deleted(path, candidate.root, candidate.size, reason))
            prune_empty_dirs(path.parent, candidate.root)
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
        self.usage = {
            root: (
                sum(c.size for c in files if c.root == root and c.path not in gone),
                sum(1 for c in files if c.root == root and c.path not in gone),
            )
            for root in self.roots
        }
        return deleted
