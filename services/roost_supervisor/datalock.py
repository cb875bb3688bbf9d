"""One roost per data dir: an OS lock held for the supervisor's whole life.

A second `roost up` (or `roost-supervisor`) on the same data dir would take the first
one's apps for leftovers of a dead supervisor and kill them, and stop its broker. The
lock is `fcntl.flock` on `<data dir>/roost.lock`: the kernel drops it when the holder
exits, however it exits, so a crash never leaves a stale lock. The file holds the pid of
the holder, for the message the second one prints; it is never removed (removing it
would let a third process lock a new file while the second still waits on the old one).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from roost.errors import ConfigError

LOCK_NAME = "roost.lock"


class DataDirInUse(ConfigError):
    """Another roost holds this data dir; the message names its pid."""


def lock_path(data_dir: Path) -> Path:
    return data_dir / LOCK_NAME


@contextlib.contextmanager
def hold_data_dir(data_dir: Path, *, what: str = "roost up") -> Iterator[None]:
    """Hold the data dir's lock for the block, or raise DataDirInUse at once, having
    touched nothing else in the data dir."""
    path = lock_path(data_dir)
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise ConfigError(
            f"[node] data_dir {data_dir}: cannot create or write it: {exc.strerror or exc}"
        ) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            raise DataDirInUse(
                f"data dir {data_dir} is in use by another roost ({holder}): one roost "
                "per data dir. Stop it first (`roost down`, or Ctrl-C in its terminal), "
                "or give this one another data dir ([node] data_dir or ROOST_NODE__DATA_DIR)"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {what}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def _holder(fd: int) -> str:
    try:
        text = os.pread(fd, 200, 0).decode(errors="replace").strip()
    except OSError:
        text = ""
    pid, _, what = text.partition(" ")
    if not pid.isdigit():
        return "pid unknown"
    return f"{what or 'roost'}, pid {pid}"
