"""The image writer: a full-size JPEG every `jpeg_interval` seconds into dated folders."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from pathlib import Path

from roost_camera.camera import Camera
from roost_camera.encoding import encode_jpeg
from roost_camera.files import PART, FinishedFile, OpenFiles, relative_name

log = logging.getLogger("roost_camera.jpeg_writer")


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + PART)
    with part.open("wb") as handle:
        handle.write(data)
    os.replace(part, path)


async def write_jpegs(
    camera: Camera, spool: Path, open_files: OpenFiles, on_finished: Callable[[FinishedFile], None]
) -> None:
    seq = 0
    while True:
        interval = camera.controls.jpeg_interval
        if interval <= 0:
            await camera.wait_changed()
            continue
        frame = await camera.latest.newer_than(seq)
        seq = frame.seq
        relative = relative_name(camera.id, frame.ts, ".jpg")
        path = spool / relative
        open_files.add(path)
        try:
            data = await asyncio.to_thread(encode_jpeg, frame.pixels, camera.config.jpeg_quality)
            await asyncio.to_thread(_write, path, data)
        except (OSError, ValueError) as exc:
            camera.report_error(f"jpeg writer: {exc}")
        else:
            on_finished(
                FinishedFile(path, relative, "jpeg", camera.id, frame.ts, frame.ts, len(data))
            )
        finally:
            open_files.discard(path)
        await camera.wait_changed(interval)
