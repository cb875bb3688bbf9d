"""The file uploader: archived files to an HTTP endpoint or a directory (a mounted share).

Every file to send is first recorded as a small JSON entry under
`data/camera/upload/pending/`, so nothing is lost when the target is down or the service
restarts; a retry job walks the entries on a schedule, oldest first, and stops a pass at
the first failure (the target is down: no use hammering it). An entry whose file the
deleter has removed is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ValidationError

from roost_camera.files import PART, FinishedFile
from roost_camera.settings import UploadConfig

log = logging.getLogger("roost_camera.uploader")


class UploadError(Exception):
    pass


class PendingUpload(BaseModel):
    path: str
    file: str  # relative: <camera>/<date>/<name>
    kind: str
    camera: str
    start: float
    end: float
    queued: float
    attempts: int = 0
    last_error: str | None = None


class Target(ABC):
    @abstractmethod
    async def send(self, entry: PendingUpload, path: Path) -> None:
        """Deliver one file; raises UploadError."""

    async def close(self) -> None:
        return None

    @abstractmethod
    def describe(self) -> str: ...


class DirectoryTarget(Target):
    """A copy into a directory, keeping `<camera>/<date>/` folders. The directory itself
    must exist: a missing mount point is a failure, never a folder filling the root disk."""

    def __init__(self, config: UploadConfig) -> None:
        assert config.target is not None
        self.root = Path(config.target.removeprefix("file://"))

    def _copy(self, entry: PendingUpload, path: Path) -> None:
        if not self.root.is_dir():
            raise UploadError(f"target directory {self.root} is missing (is the share mounted?)")
        target = self.root / entry.file
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            part = target.with_name(target.name + PART)
            shutil.copyfile(path, part)
            os.replace(part, target)
        except OSError as exc:
            raise UploadError(f"copy to {target}: {exc.strerror or exc}") from None

    async def send(self, entry: PendingUpload, path: Path) -> None:
        await asyncio.to_thread(self._copy, entry, path)

    def describe(self) -> str:
        return str(self.root)


def make_target(config: UploadConfig) -> Target:
    target = config.target or ""
    if target.startswith(("http://", "https://")):
        # Imported only when used: httpx and its TLS stack cost ~15 MB of RSS.
        from roost_camera.http_target import HttpTarget

        return HttpTarget(config)
    return DirectoryTarget(config)


@dataclass
class UploadCounters:
    uploaded: int = 0
    failures: int = 0
    expired: int = 0


class Uploader:
    def __init__(
        self,
        config: UploadConfig,
        directory: Path,
        *,
        on_uploaded: Callable[[PendingUpload], None],
        on_failed: Callable[[PendingUpload, str], None],
    ) -> None:
        self.config = config
        self.pending_dir = directory / "pending"
        self.target = make_target(config)
        self.on_uploaded = on_uploaded
        self.on_failed = on_failed
        self.counters = UploadCounters()
        self._wake = asyncio.Event()

    def wants(self, finished: FinishedFile) -> bool:
        return finished.kind in self.config.kinds

    def submit(self, finished: FinishedFile) -> None:
        """Record a file to send (it survives restarts) and wake the upload job."""
        entry = PendingUpload(
            path=str(finished.path),
            file=str(finished.relative),
            kind=finished.kind,
            camera=finished.camera,
            start=finished.start,
            end=finished.end,
            queued=time.time(),
        )
        self.pending_dir.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:6]}.json"
        part = self.pending_dir / (name + PART)
        part.write_text(entry.model_dump_json())
        os.replace(part, self.pending_dir / name)
        self._wake.set()

    def pending(self) -> list[Path]:
        if not self.pending_dir.is_dir():
            return []
        return sorted(self.pending_dir.glob("*.json"))

    async def run(self) -> None:
        log.info("uploading to %s", self.target.describe())
        try:
            while True:
                self._wake.clear()
                await self.run_once()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.config.retry_interval)
        finally:
            await self.target.close()

    async def run_once(self) -> bool:
        """One pass over the pending entries; False if it stopped at a failure."""
        for entry_path in self.pending():
            try:
                entry = PendingUpload.model_validate_json(entry_path.read_bytes())
            except (OSError, ValidationError, ValueError) as exc:
                log.error("dropping unreadable upload entry %s: %s", entry_path.name, exc)
                entry_path.unlink(missing_ok=True)
                continue
            path = Path(entry.path)
            if not await asyncio.to_thread(path.is_file):
                log.info("not uploading %s: the file is gone", entry.file)
                self.counters.expired += 1
                entry_path.unlink(missing_ok=True)
                continue
            try:
                await self.target.send(entry, path)
            except UploadError as exc:
                self.counters.failures += 1
                entry.attempts += 1
                entry.last_error = str(exc)
                entry_path.write_text(entry.model_dump_json())
                log.warning("upload of %s failed (%d tries): %s", entry.file, entry.attempts, exc)
                self.on_failed(entry, str(exc))
                return False
            entry_path.unlink(missing_ok=True)
            self.counters.uploaded += 1
            if self.config.delete_after_upload:
                await asyncio.to_thread(path.unlink, missing_ok=True)
            self.on_uploaded(entry)
        return True


def describe_entry(entry: PendingUpload) -> dict[str, object]:
    return json.loads(entry.model_dump_json())  # type: ignore[no-any-return]
