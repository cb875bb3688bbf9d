"""A shared-memory ring of large records (video frames) for readers on the same host.

One writer owns a file in /dev/shm with a header and `slots` fixed-size slots; it writes
record after record round the ring. Readers map the same file and always take the newest
complete record ("high water mark 1"): a reader that falls behind skips to the newest and
counts what it skipped, so a slow reader never builds a backlog and never slows the
writer. Each record is announced by a small `FrameDescriptor` (published on MQTT by the
writer's service), but a reader needs only the ring's path to find the newest record.

Layout (little-endian):

    header  64 B   magic "ROOSTRNG", version u32, header_size u32, slots u32,
                   slot_bytes u32, slot_header u32, pad u32, ring_id 16 B,
                   latest u64 (sequence number of the newest complete record, 0 = none)
    slot i  at header_size + i * (slot_header + slot_bytes):
            begin u64, end u64, ts f64, width u32, height u32, channels u32,
            format 8 B (ASCII, NUL padded), nbytes u32, pad to 64 B; then the data

A slot is guarded like a seqlock: the writer sets `begin` to the new sequence number,
writes the data and metadata, then sets `end`; a reader that finds `begin == end == seq`
after copying has a record no write overlapped. Record `seq` lives in slot
`(seq - 1) % slots`.
"""

from __future__ import annotations

import mmap
import os
import secrets
import struct
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

from pydantic import BaseModel, ConfigDict, Field

MAGIC = b"ROOSTRNG"
VERSION = 1
HEADER = struct.Struct("<8sIIIIII16sQ")  # 56 bytes, padded to HEADER_SIZE
HEADER_SIZE = 64
LATEST_OFFSET = 48
SLOT = struct.Struct("<QQdIII8sI")  # 48 bytes, padded to SLOT_HEADER
SLOT_HEADER = 64
SEQ = struct.Struct("<Q")
DEFAULT_DIR = Path("/dev/shm")


class RingError(Exception):
    """The ring file is missing, not a ring, or of another version."""


class RecordGone(Exception):
    """The record asked for was overwritten before (or while) it was read."""


class FrameDescriptor(BaseModel):
    """The small message that announces one record of a ring (JSON on MQTT)."""

    model_config = ConfigDict(extra="ignore")

    ring: str = Field(description="path of the ring file on the writer's host")
    ring_id: str = Field(description="hex id of this ring; a reader checks it on open")
    host: str
    seq: int = Field(ge=1)
    slot: int = Field(ge=0)
    ts: float = Field(description="capture time, Unix seconds")
    width: int = Field(ge=0)
    height: int = Field(ge=0)
    channels: int = Field(ge=1)
    format: str = Field(description="pixel format, e.g. bgr24 or gray8")
    fps: float | None = None


@dataclass(frozen=True, slots=True)
class Record:
    seq: int
    ts: float
    width: int
    height: int
    channels: int
    format: str
    data: bytes


def ring_path(name: str, directory: Path | None = None) -> Path:
    """Where a ring called `name` lives: /dev/shm, or the temp dir where there is none."""
    base = directory or (DEFAULT_DIR if DEFAULT_DIR.is_dir() else Path("/tmp"))
    return base / name


class ShmRing:
    """The writer's side. `ShmRing.create(path, slots, slot_bytes)`; `write(...)`."""

    def __init__(self, path: Path, fd: int, view: mmap.mmap, slots: int, slot_bytes: int) -> None:
        self.path = path
        self.slots = slots
        self.slot_bytes = slot_bytes
        self._fd = fd
        self._map = view
        self.ring_id = bytes(view[32:48]).hex()
        self.seq = 0

    @classmethod
    def create(cls, path: Path, *, slots: int, slot_bytes: int) -> ShmRing:
        """Create (or replace) the ring file; readers that had the old one see a new id."""
        if slots < 2:
            raise ValueError("a ring needs at least 2 slots")
        if slot_bytes < 1:
            raise ValueError("slot_bytes must be positive")
        size = HEADER_SIZE + slots * (SLOT_HEADER + slot_bytes)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.new")
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o640)
        try:
            os.ftruncate(fd, size)
            view = mmap.mmap(fd, size)
        except OSError:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise
        ring_id = secrets.token_bytes(16)
        view[:56] = HEADER.pack(
            MAGIC, VERSION, HEADER_SIZE, slots, slot_bytes, SLOT_HEADER, 0, ring_id, 0
        )
        # A reader never sees a half-built header: the file appears complete or not at all.
        os.replace(tmp, path)
        return cls(path, fd, view, slots, slot_bytes)

    def _slot_offset(self, slot: int) -> int:
        return HEADER_SIZE + slot * (SLOT_HEADER + self.slot_bytes)

    def write(
        self,
        data: bytes | bytearray | memoryview,
        *,
        width: int,
        height: int,
        channels: int,
        fmt: str,
        ts: float | None = None,
    ) -> tuple[int, int]:
        """Write one record; returns (seq, slot)."""
        view = memoryview(data).cast("B")
        nbytes = view.nbytes
        if nbytes > self.slot_bytes:
            raise ValueError(f"record of {nbytes} bytes does not fit a {self.slot_bytes} B slot")
        seq = self.seq + 1
        slot = (seq - 1) % self.slots
        base = self._slot_offset(slot)
        m = self._map
        m[base : base + 8] = SEQ.pack(seq)
        start = base + SLOT_HEADER
        m[start : start + nbytes] = view
        m[base + 16 : base + SLOT.size] = SLOT.pack(
            seq,
            seq,
            time.time() if ts is None else ts,
            width,
            height,
            channels,
            fmt.encode()[:8],
            nbytes,
        )[16:]
        m[base + 8 : base + 16] = SEQ.pack(seq)
        m[LATEST_OFFSET : LATEST_OFFSET + 8] = SEQ.pack(seq)
        self.seq = seq
        return seq, slot

    def close(self, *, unlink: bool = True) -> None:
        if self._map.closed:
            return
        self._map.close()
        os.close(self._fd)
        if unlink:
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class ShmRingReader:
    """A reader's side: `read_newest()` returns the newest record not yet read, or None.

    `skipped` counts records that were written but never read by this reader.
    """

    def __init__(self, path: Path, *, ring_id: str | None = None) -> None:
        self.path = path
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError as exc:
            raise RingError(f"cannot open ring {path}: {exc.strerror}") from None
        try:
            size = os.fstat(fd).st_size
            if size < HEADER_SIZE:
                raise RingError(f"{path} is not a roost ring (too small)")
            self._map = mmap.mmap(fd, size, prot=mmap.PROT_READ)
        finally:
            os.close(fd)
        magic, version, header_size, slots, slot_bytes, slot_header, _, rid, _ = HEADER.unpack(
            self._map[:56]
        )
        if magic != MAGIC:
            self._map.close()
            raise RingError(f"{path} is not a roost ring")
        if version != VERSION or header_size != HEADER_SIZE or slot_header != SLOT_HEADER:
            self._map.close()
            raise RingError(f"{path} is a ring of another version ({version})")
        if size < HEADER_SIZE + slots * (SLOT_HEADER + slot_bytes):
            self._map.close()
            raise RingError(f"{path} is shorter than its header says")
        self.ring_id = bytes(rid).hex()
        if ring_id is not None and ring_id != self.ring_id:
            self._map.close()
            raise RingError(f"{path} holds ring {self.ring_id}, not {ring_id}")
        self.slots = slots
        self.slot_bytes = slot_bytes
        self.last_seq = 0
        self.skipped = 0
        self.torn = 0

    def latest(self) -> int:
        """The sequence number of the newest complete record (0: none yet)."""
        seq: int = SEQ.unpack(self._map[LATEST_OFFSET : LATEST_OFFSET + 8])[0]
        return seq

    def read(self, seq: int) -> Record:
        """Record `seq`, or RecordGone if it was overwritten before the copy finished."""
        if seq < 1:
            raise RecordGone(f"no record {seq}")
        base = HEADER_SIZE + ((seq - 1) % self.slots) * (SLOT_HEADER + self.slot_bytes)
        m = self._map
        begin, end, ts, width, height, channels, fmt, nbytes = SLOT.unpack(
            m[base : base + SLOT.size]
        )
        if end != seq or begin != seq or nbytes > self.slot_bytes:
            raise RecordGone(f"record {seq} is no longer in the ring")
        start = base + SLOT_HEADER
        data = m[start : start + nbytes]
        if SEQ.unpack(m[base : base + 8])[0] != seq:
            self.torn += 1
            raise RecordGone(f"record {seq} was overwritten while it was read")
        return Record(seq, ts, width, height, channels, fmt.rstrip(b"\0").decode(), data)

    def read_newest(self) -> Record | None:
        """The newest record if it is newer than the last one read; counts skips."""
        for _ in range(3):
            seq = self.latest()
            if seq <= self.last_seq:
                if seq < self.last_seq:  # the writer restarted its count: a new ring
                    self.last_seq = 0
                    continue
                return None
            try:
                record = self.read(seq)
            except RecordGone:
                continue
            if self.last_seq:
                self.skipped += seq - self.last_seq - 1
            self.last_seq = seq
            return record
        return None

    def close(self) -> None:
        if not self._map.closed:
            self._map.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
