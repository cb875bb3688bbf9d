"""The `storage` device: where the writers' files go after they are finished.

Finished file → event on its camera → mover (spool → archive) → `archived` event →
uploader (when a target is configured). The deleter runs every `check_interval`; disk
usage of the spool and the archive is the device's state.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from roost.device import Device
from roost.errors import ErrorCode
from roost.models import DeviceMeta, PropertySpec
from roost.node import Node
from roost_camera.deleter import MB, Deleter, DiskProbe, disk_usage
from roost_camera.files import FinishedFile, OpenFiles
from roost_camera.mover import Mover
from roost_camera.settings import Settings
from roost_camera.uploader import PendingUpload, Uploader
from roost_camera.watchdog import supervised

log = logging.getLogger("roost_camera.storage")

STORAGE_ID = "storage"


def _mb(**extra: object) -> PropertySpec:
    return PropertySpec.model_validate(
        {"kind": "number", "unit": "MB", "precision": 1, "device_class": "data_size", **extra}
    )


STORAGE_META = DeviceMeta(
    name="Camera storage",
    model="spool and archive",
    manufacturer="roost",
    properties={
        "spool_mb": _mb(deadband=1.0),
        "archive_mb": _mb(deadband=1.0),
        "disk_free_mb": _mb(deadband=10.0),
        "disk_free_percent": PropertySpec(kind="number", unit="%", precision=1, deadband=0.5),
        "files": PropertySpec(kind="number", icon="mdi:file-multiple"),
        "deleted": PropertySpec(kind="number", state_class="total_increasing"),
        "upload_pending": PropertySpec(kind="number"),
        "uploaded": PropertySpec(kind="number", state_class="total_increasing"),
        "upload_failures": PropertySpec(kind="number", state_class="total_increasing"),
        "last_upload_error": PropertySpec(kind="text", entity_category="diagnostic"),
        "events": PropertySpec(
            kind="event",
            name="File",
            options=["archived", "deleted", "uploaded", "upload_failed"],
        ),
    },
)


class Storage:
    def __init__(
        self,
        node: Node,
        settings: Settings,
        open_files: OpenFiles,
        *,
        probe: DiskProbe = disk_usage,
    ) -> None:
        cfg = settings.camera
        self.spool = settings.spool_dir().resolve()
        self.archive = settings.archive_dir().resolve()
        self.spool.mkdir(parents=True, exist_ok=True)
        self.archive.mkdir(parents=True, exist_ok=True)
        self.config = cfg.storage
        self.probe = probe
        self.deleted = 0
        self.device: Device = node.add_device(STORAGE_ID, STORAGE_META, heartbeat=300)
        self.mover = Mover(
            self.spool, self.archive, open_files, self._archived, delay=cfg.storage.move_delay
        )
        roots = [self.spool] if self.spool == self.archive else [self.spool, self.archive]
        self.deleter = Deleter(roots, cfg.storage, open_files, probe=probe, archive=self.archive)
        self.uploader: Uploader | None = None
        if cfg.upload.target:
            self.uploader = Uploader(
                cfg.upload,
                settings.upload_dir(),
                on_uploaded=self._uploaded,
                on_failed=self._upload_failed,
            )
        self.device.update(
            deleted=0, uploaded=0, upload_failures=0, upload_pending=self._pending_count()
        )

    def _pending_count(self) -> int:
        return len(self.uploader.pending()) if self.uploader is not None else 0

    # the pipeline ----------------------------------------------------------------------
    def finished(self, finished: FinishedFile) -> None:
        """A writer finished a file in the spool."""
        self.mover.submit(finished)

    def _archived(self, finished: FinishedFile) -> None:
        self.device.emit("archived", finished.event_data())
        if self.uploader is not None and self.uploader.wants(finished):
            try:
                self.uploader.submit(finished)
            except OSError as exc:
                log.error("cannot queue %s for upload: %s", finished.path, exc)
            self.device.update(upload_pending=self._pending_count())

    def _uploaded(self, entry: PendingUpload) -> None:
        assert self.uploader is not None
        self.device.emit(
            "uploaded", {"camera": entry.camera, "kind": entry.kind, "file": entry.file}
        )
        self.device.update(
            uploaded=self.uploader.counters.uploaded, upload_pending=self._pending_count()
        )

    def _upload_failed(self, entry: PendingUpload, message: str) -> None:
        assert self.uploader is not None
        self.device.emit(
            "upload_failed",
            {
                "camera": entry.camera,
                "file": entry.file,
                "attempts": entry.attempts,
                "error": message,
            },
        )
        self.device.update(
            upload_failures=self.uploader.counters.failures,
            upload_pending=self._pending_count(),
            last_upload_error=message[:255],
        )

    # the parts -------------------------------------------------------------------------
    def parts(self) -> list[Coroutine[Any, Any, None]]:
        named: dict[str, Callable[[], Coroutine[Any, Any, None]]] = {
            "mover": self.mover.run,
            "retention": self.retention,
        }
        if self.uploader is not None:
            named["uploader"] = self.uploader.run
        return [supervised(f"storage {name}", part, self._failed) for name, part in named.items()]

    def _failed(self, message: str) -> None:
        self.device.error(ErrorCode.FAILED, message)

    async def retention(self) -> None:
        while True:
            await self.sweep()
            await asyncio.sleep(self.config.check_interval)

    async def sweep(self) -> None:
        """Run the deleter once and publish the disk usage."""
        removed = await asyncio.to_thread(self.deleter.sweep)
        for item in removed:
            self.device.emit(
                "deleted",
                {
                    "file": str(item.path.relative_to(item.root)),
                    "bytes": item.size,
                    "reason": item.reason,
                },
            )
        self.deleted += len(removed)
        await self.report_usage()

    async def report_usage(self) -> None:
        """Usage as the last retention pass counted it (one scan serves both)."""
        usage = self.deleter.usage
        spool_bytes, spool_files = usage.get(self.spool, (0, 0))
        if self.spool == self.archive:
            archive_bytes, archive_files = 0, 0
        else:
            archive_bytes, archive_files = usage.get(self.archive, (0, 0))
        disk = await asyncio.to_thread(self.probe, self.archive)
        self.device.update(
            spool_mb=spool_bytes / MB,
            archive_mb=archive_bytes / MB,
            files=spool_files + archive_files,
            disk_free_mb=disk.free / MB,
            disk_free_percent=100.0 * disk.free / disk.total if disk.total else None,
            deleted=self.deleted,
            upload_pending=self._pending_count(),
        )
