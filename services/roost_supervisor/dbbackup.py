"""SQLite online backups: one consistent copy of a live database, and the scheduled
backups of the supervisor's databases into the backup folder with retention.

A copy is made in one step from a connection of its own (measured with aiosqlite: a
stepwise backup never finishes while writes go on, and backing up from the connection
that writes deadlocks), switched to a rollback journal so the copy is one self-contained file, and
checked with `PRAGMA quick_check` before it replaces anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from pydantic import JsonValue

from roost.clock import iso, utc_now
from roost.device import Device
from roost.models import DeviceMeta, PropertySpec
from roost.node import Node

log = logging.getLogger("roost_supervisor.dbbackup")

SQLITE_MAGIC = b"SQLite format 3\x00"
STAMP = "%Y%m%dT%H%M%SZ"


class BackupError(Exception):
    """A database could not be copied or its copy is not sound."""


def is_sqlite(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        return False


def online_backup(source: Path, target: Path) -> int:
    """Copy the live database `source` to `target` (blocking); its size in bytes."""
    partial = target.with_name(target.name + ".part")
    partial.unlink(missing_ok=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error:
        src = sqlite3.connect(source, timeout=30)  # WAL without its -shm needs write access
    try:
        dst = sqlite3.connect(partial)
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")
            verdict = dst.execute("PRAGMA quick_check").fetchone()
        finally:
            dst.close()
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(f"{source}: {exc}") from None
    finally:
        src.close()
    if not verdict or verdict[0] != "ok":
        partial.unlink(missing_ok=True)
        raise BackupError(f"{source}: the copy fails quick_check: {verdict}")
    partial.replace(target)
    return target.stat().st_size


def database_key(path: Path, data_dir: Path) -> str:
    """A folder name for a database's backups: its path under the data dir, flattened."""
    try:
        relative = path.resolve().relative_to(data_dir.resolve())
    except ValueError:
        relative = Path(path.name)
    key = re.sub(r"[^A-Za-z0-9_.-]+", "-", relative.with_suffix("").as_posix())
    return key.strip("-") or "database"


@dataclass(frozen=True)
class BackupRun:
    copies: list[Path]
    size: int
    duration: float
    errors: list[str]

    @property
    def ok(self) -> bool:
        return not self.errors


BACKUPS_META = DeviceMeta(
    name="Database backups",
    model="SQLite online backup",
    manufacturer="roost supervisor",
    properties={
        "last_run": PropertySpec(kind="text", name="Last backup"),
        "last_ok": PropertySpec(kind="switch", name="Last backup succeeded"),
        "databases": PropertySpec(kind="number", precision=0),
        "size": PropertySpec(kind="number", unit="B", precision=0, device_class="data_size"),
        "duration": PropertySpec(kind="number", unit="s", precision=2, device_class="duration"),
        "last_error": PropertySpec(kind="text", max_length=255),
        "run": PropertySpec(kind="button", name="Back up now", icon="mdi:database-export"),
        "alert": PropertySpec(kind="event", options=["backup_failed"]),
    },
)


class DatabaseBackups:
    """Scheduled online backups of the configured databases, `keep` per database."""

    def __init__(
        self,
        node: Node,
        *,
        databases: list[Path],
        data_dir: Path,
        directory: Path,
        interval: float,
        keep: int,
        first_delay: float,
    ) -> None:
        self.databases = databases
        self.data_dir = data_dir
        self.directory = directory
        self.interval = interval
        self.keep = keep
        self.first_delay = first_delay
        self._lock = asyncio.Lock()
        self.device: Device = node.add_device("backups", BACKUPS_META, on_set=self._on_set)

    def folder(self, database: Path) -> Path:
        return self.directory / database_key(database, self.data_dir)

    def copies(self, database: Path) -> list[Path]:
        """Existing backups of `database`, oldest first."""
        return sorted(self.folder(database).glob("*.db"))

    def newest(self) -> float | None:
        stamps = [
            copy.stat().st_mtime for database in self.databases for copy in self.copies(database)
        ]
        return max(stamps) if stamps else None

    def run_now(self) -> BackupRun:
        """Back up every configured database that exists (blocking)."""
        started = time.monotonic()
        copies: list[Path] = []
        errors: list[str] = []
        size = 0
        stamp = utc_now().strftime(STAMP)
        for database in self.databases:
            if not database.exists():
                continue
            target = self.folder(database) / f"{database_key(database, self.data_dir)}-{stamp}.db"
            try:
                size += online_backup(database, target)
            except (BackupError, OSError) as exc:
                errors.append(str(exc))
                continue
            copies.append(target)
            for old in self.copies(database)[: -self.keep]:
                with contextlib.suppress(OSError):
                    old.unlink()
        return BackupRun(copies, size, time.monotonic() - started, errors)

    async def backup(self) -> BackupRun:
        """One run, never two at once; publishes the outcome."""
        async with self._lock:
            result = await asyncio.to_thread(self.run_now)
        values: dict[str, JsonValue] = {
            "last_run": iso(),
            "last_ok": result.ok,
            "databases": len(result.copies),
            "size": result.size,
            "duration": result.duration,
            "last_error": "; ".join(result.errors)[:255] or None,
        }
        self.device.update(values, force=True)
        if result.ok:
            log.info(
                "backed up %d database(s), %d bytes, in %.2f s",
                len(result.copies),
                result.size,
                result.duration,
            )
        else:
            log.error("database backup failed: %s", "; ".join(result.errors))
            self.device.emit("backup_failed", {"errors": result.errors})
        return result

    async def _on_set(self, device: Device, values: dict[str, JsonValue]) -> None:
        if values.get("run"):
            await self.backup()

    async def run(self) -> None:
        """Back up every `interval` seconds, counting from the newest backup on disk, so
        restarting the supervisor does not reset the schedule."""
        if self.interval <= 0 or not self.databases:
            return
        newest = await asyncio.to_thread(self.newest)
        wait = self.first_delay
        if newest is not None:
            wait = max(wait, newest + self.interval - time.time())
        while True:
            await asyncio.sleep(wait)
            await self.backup()
            wait = self.interval
