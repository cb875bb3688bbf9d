"""The shared-memory ring: records round the ring, newest-first readers, skips counted."""

from __future__ import annotations

import multiprocessing
import uuid
from pathlib import Path

import pytest

from roost.shmring import (
    FrameDescriptor,
    RecordGone,
    RingError,
    ShmRing,
    ShmRingReader,
    ring_path,
)


def _write(ring: ShmRing, value: int, size: int = 1000) -> int:
    seq, _ = ring.write(bytes([value % 256]) * size, width=size, height=1, channels=1, fmt="gray8")
    return seq


def test_reader_gets_what_was_written(tmp_path: Path) -> None:
    with ShmRing.create(tmp_path / "ring", slots=3, slot_bytes=4096) as ring:
        reader = ShmRingReader(tmp_path / "ring", ring_id=ring.ring_id)
        assert reader.read_newest() is None
        seq, slot = ring.write(b"\x07" * 12, width=2, height=2, channels=3, fmt="bgr24", ts=5.0)
        record = reader.read_newest()
        assert record is not None
        assert (record.seq, record.width, record.height, record.channels) == (seq, 2, 2, 3)
        assert (record.format, record.ts, record.data) == ("bgr24", 5.0, b"\x07" * 12)
        assert slot == 0
        assert reader.read_newest() is None  # nothing newer: no record twice
        reader.close()


def test_slow_reader_skips_to_newest_and_counts(tmp_path: Path) -> None:
    with ShmRing.create(tmp_path / "ring", slots=4, slot_bytes=1000) as ring:
        reader = ShmRingReader(tmp_path / "ring")
        _write(ring, 1)
        assert reader.read_newest() is not None
        for value in range(2, 12):  # ten records while the reader was busy
            _write(ring, value)
        record = reader.read_newest()
        assert record is not None
        assert record.seq == 11 and record.data[0] == 11
        assert reader.skipped == 9
        # An overwritten record is refused, never returned with the wrong pixels.
        with pytest.raises(RecordGone):
            reader.read(2)
        reader.close()


def test_two_readers_are_independent(tmp_path: Path) -> None:
    with ShmRing.create(tmp_path / "ring", slots=2, slot_bytes=100) as ring:
        fast, slow = ShmRingReader(ring.path), ShmRingReader(ring.path)
        for value in range(1, 6):
            _write(ring, value, 100)
            assert fast.read_newest() is not None
        assert slow.read_newest() is not None
        assert (fast.skipped, slow.skipped) == (0, 0)
        _write(ring, 6, 100)
        _write(ring, 7, 100)
        assert fast.read_newest() is not None
        assert fast.skipped == 1
        fast.close()
        slow.close()


def _read_in_child(path: str, ring_id: str, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    reader = ShmRingReader(Path(path), ring_id=ring_id)
    record = reader.read_newest()
    out.put(None if record is None else (record.seq, record.data[:3]))
    reader.close()


def test_another_process_reads_the_ring() -> None:
    # In /dev/shm, which every test run on the host shares: a name only this run uses.
    path = ring_path(f"roost-test-{uuid.uuid4().hex}")
    with ShmRing.create(path, slots=2, slot_bytes=64) as ring:
        ring.write(b"abc", width=3, height=1, channels=1, fmt="gray8")
        ctx = multiprocessing.get_context("spawn")
        out = ctx.Queue()
        child = ctx.Process(target=_read_in_child, args=(str(path), ring.ring_id, out))
        child.start()
        assert out.get(timeout=30) == (1, b"abc")
        child.join(30)
    assert not path.exists()  # the writer removes its ring when it closes


def test_bad_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(RingError, match="cannot open"):
        ShmRingReader(tmp_path / "missing")
    (tmp_path / "junk").write_bytes(b"x" * 200)
    with pytest.raises(RingError, match="not a roost ring"):
        ShmRingReader(tmp_path / "junk")
    with ShmRing.create(tmp_path / "ring", slots=2, slot_bytes=10) as ring:
        with pytest.raises(RingError, match="holds ring"):
            ShmRingReader(ring.path, ring_id="00" * 16)
        with pytest.raises(ValueError, match="does not fit"):
            ring.write(b"x" * 11, width=11, height=1, channels=1, fmt="gray8")


def test_a_recreated_ring_starts_over(tmp_path: Path) -> None:
    path = tmp_path / "ring"
    ring = ShmRing.create(path, slots=2, slot_bytes=10)
    for value in range(5):
        _write(ring, value, 10)
    reader = ShmRingReader(path)
    assert reader.read_newest() is not None
    ring.close()
    with ShmRing.create(path, slots=2, slot_bytes=10) as again:
        _write(again, 9, 10)
        with pytest.raises(RingError, match="holds ring"):
            ShmRingReader(path, ring_id=ring.ring_id)
        fresh = ShmRingReader(path, ring_id=again.ring_id)
        assert fresh.read_newest() is not None
        fresh.close()
    reader.close()


def test_descriptor_round_trips() -> None:
    descriptor = FrameDescriptor(
        ring="/dev/shm/x",
        ring_id="ab" * 16,
        host="pi",
        seq=3,
        slot=0,
        ts=1.5,
        width=640,
        height=480,
        channels=3,
        format="bgr24",
    )
    assert FrameDescriptor.model_validate_json(descriptor.model_dump_json()) == descriptor
