"""The mover: finished files go from the fast spool to the archive.

Files are announced to it as they are finished; at start it also sweeps the spool for
what a previous run left (finished files, and `.part` files no writer holds any more:
a fragmented MP4 cut short by a crash still plays, a half-written JPEG does not).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from roost_camera.files import PART, FinishedFile, OpenFiles, camera_of, kind_of

log = logging.getLogger("roost_camera.mover")


def move_file(source: Path, target: Path) -> None:
    """Rename when both are on one filesystem; else copy beside the target, sync, rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(source, target)
        return
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
    part = target.with_name(target.name + PART)
    shutil.copyfile(source, part)
    with part.open("rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(part, target)
    source.unlink()


def prune_empty_dirs(path: Path, root: Path) -> None:
    """Remove `path` and its parents up to (not including) `root` while they are empty.

    Folders of yesterday and today stay: a writer may be about to create a file there.
    """
    recent = {time.strftime("%Y-%m-%d", time.gmtime(time.time() - d)) for d in (0, 86400)}
    if path.name in recent:
        return
    current = path
    while current != root and root in current.parents:
        try:
            current.rmdir()
        except OSError:
            return
        current = current.parent


class Mover:
    def __init__(
        self,
        spool: Path,
        archive: Path,
        open_files: OpenFiles,
        on_moved: Callable[[FinishedFile], None],
        *,
        delay: float = 0.0,
    ) -> None:
        self.spool = spool
        self.archive = archive
        self.open_files = open_files
        self.on_moved = on_moved
        self.delay = delay
        self.failures = 0
        self._queue: asyncio.Queue[FinishedFile] = asyncio.Queue()

    def submit(self, finished: FinishedFile) -> None:
        self._queue.put_nowait(finished)

    async def run(self) -> None:
        for leftover in await asyncio.to_thread(self.leftovers):
            self._queue.put_nowait(leftover)
        while True:
            finished = await self._queue.get()
            # Never longer than the delay: a leftover's end is its file's mtime, which a
            # clock set back since it was written puts in the future.
            wait = min(finished.end + self.delay - time.time(), self.delay)
            if wait > 0:
                await asyncio.sleep(wait)
            await self.move(finished)

    async def move(self, finished: FinishedFile) -> None:
        if self.spool.resolve() == self.archive.resolve():
            self.on_moved(finished)
            return
        target = self.archive / finished.relative
        try:
            await asyncio.to_thread(move_file, finished.path, target)
        except FileNotFoundError:
            log.info("%s was gone before it could be archived", finished.path)
            return
        except OSError as exc:
            self.failures += 1
            log.error("cannot archive %s: %s; it stays in the spool", finished.path, exc)
            return
        await asyncio.to_thread(prune_empty_dirs, finished.path.parent, self.spool)
        self.on_moved(finished.moved(self.archive))

    def leftovers(self) -> list[FinishedFile]:
        """Files of earlier runs still in the spool, oldest first."""
        found: list[FinishedFile] = []
        if not self.spool.is_dir():
            return found
        for path in sorted(self.spool.rglob("*")):
            if not path.is_file() or path in self.open_files:
                continue
            if path.name.endswith(PART):
                final = path.with_name(path.name[: -len(PART)])
                if kind_of(final) == "segment" and path.stat().st_size > 0:
                    os.replace(path, final)
                    path = final
                else:
                    path.unlink(missing_ok=True)
                    continue
            kind = kind_of(path)
            if kind is None:
                continue
            stat = path.stat()
            relative = path.relative_to(self.spool)
            found.append(
                FinishedFile(
                    path, relative, kind, camera_of(relative), stat.st_mtime, stat.st_mtime,
                    stat.st_size,
                )
            )  # fmt: skip
        found.sort(key=lambda f: f.end)
        return found
