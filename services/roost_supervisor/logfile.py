"""An app's output file, rotated by size, and reading its tail for `roost logs`.

`<app>.log` is the current file, `<app>.log.1` … `.N` the older ones. The calls here block
on the file system; the supervisor makes them through `asyncio.to_thread`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from roost.clock import iso

MAX_LINE = 8192
BLOCK = 65536


class RotatingLog:
    """Appends bytes; before a write that would pass `max_bytes` the file is rotated."""

    def __init__(self, path: Path, *, max_bytes: int, backups: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.backups = backups
        self._handle: BinaryIO | None = None
        self._size = 0

    def write(self, data: bytes) -> None:
        handle = self._open()
        if self._size and self._size + len(data) > self.max_bytes:
            self._rotate()
            handle = self._open()
        handle.write(data)
        handle.flush()
        self._size += len(data)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def _open(self) -> BinaryIO:
        if self._handle is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = self.path.open("ab")
            self._size = self._handle.tell()
        return self._handle

    def _rotate(self) -> None:
        self.close()
        if self.backups == 0:
            self.path.unlink(missing_ok=True)
            return
        for index in range(self.backups - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{index}")
            if older.exists():
                older.replace(self.path.with_name(f"{self.path.name}.{index + 1}"))
        if self.path.exists():
            self.path.replace(self.path.with_name(f"{self.path.name}.1"))


@dataclass(frozen=True)
class Chunk:
    lines: list[str]
    cursor: str


def tail(path: Path, lines: int) -> Chunk:
    """The last `lines` lines (from the rotated file too if the current one is short) and
    a cursor at the end of the current file for `after`."""
    found: list[bytes] = []
    for candidate in (path, path.with_name(f"{path.name}.1")):
        if len(found) >= lines:
            break
        with contextlib.suppress(FileNotFoundError):
            found = _last_lines(candidate, lines - len(found)) + found
    return Chunk([_text(line) for line in found[-lines:]], _cursor(path))


def after(path: Path, cursor: str, limit: int) -> Chunk:
    """What was written since `cursor` (at most `limit` lines, the newest kept). A cursor
    from before a rotation reads the rest of the rotated file first."""
    inode, _, offset_text = cursor.partition(":")
    try:
        wanted, offset = int(inode), int(offset_text)
    except ValueError:
        return tail(path, limit)
    data = b""
    rotated = path.with_name(f"{path.name}.1")
    try:
        current = path.stat()
    except FileNotFoundError:
        return Chunk([], cursor)
    if current.st_ino == wanted and offset <= current.st_size:
        data = _read_from(path, offset)
    else:
        with contextlib.suppress(FileNotFoundError):
            if rotated.stat().st_ino == wanted:
                data = _read_from(rotated, offset)
        data += _read_from(path, 0)
    found = data.splitlines()[-limit:] if data else []
    return Chunk([_text(line) for line in found], _cursor(path))


def _cursor(path: Path) -> str:
    try:
        info = path.stat()
    except FileNotFoundError:
        return "0:0"
    return f"{info.st_ino}:{info.st_size}"


def _read_from(path: Path, offset: int, limit: int = 4 * 1024 * 1024) -> bytes:
    with path.open("rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        handle.seek(max(offset, size - limit))
        return handle.read()


def _last_lines(path: Path, count: int) -> list[bytes]:
    """The last `count` lines, reading backwards a block at a time."""
    if count <= 0:
        return []
    with path.open("rb") as handle:
        end = os.fstat(handle.fileno()).st_size
        data = b""
        position = end
        while position > 0 and data.count(b"\n") <= count:
            step = min(BLOCK, position)
            position -= step
            handle.seek(position)
            data = handle.read(step) + data
    return data.splitlines()[-count:]


def _text(line: bytes) -> str:
    text = line.decode("utf-8", errors="replace")
    return text if len(text) <= MAX_LINE else text[:MAX_LINE] + " …"


class OutputLog:
    """A RotatingLog for async callers: one write at a time, each in a worker thread."""

    def __init__(self, path: Path, *, max_bytes: int, backups: int) -> None:
        self.path = path
        self._log = RotatingLog(path, max_bytes=max_bytes, backups=backups)
        self._lock = asyncio.Lock()

    async def write(self, data: bytes) -> None:
        async with self._lock:
            await asyncio.to_thread(self._log.write, data)

    async def note(self, text: str) -> None:
        """A line of the supervisor's own, so the log shows starts and exits."""
        await self.write(f"--- {iso()} roost-supervisor: {text}\n".encode())

    async def close(self) -> None:
        async with self._lock:
            await asyncio.to_thread(self._log.close)
