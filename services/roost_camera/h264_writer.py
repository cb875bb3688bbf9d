"""The h264 writer: MP4 segments of `segment_seconds` through an ffmpeg subprocess.

It feeds ffmpeg raw BGR frames at the camera's frame rate, taking the newest frame at
each tick (a missed frame repeats the last one, a late tick is dropped and counted), so
video time follows wall-clock time. Each segment is its own ffmpeg process writing a
fragmented MP4 (playable even if the process dies mid-way) to `<name>.mp4.part`; the next
segment's process starts before the last one is closed, so no frame falls between them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from roost.backoff import Backoff
from roost_camera.camera import Camera
from roost_camera.files import PART, FinishedFile, OpenFiles, relative_name
from roost_camera.frames import Frame

log = logging.getLogger("roost_camera.h264_writer")

STALE_AFTER = 2.0  # seconds without a new frame before a segment is closed


class EncoderError(Exception):
    pass


@dataclass
class Segment:
    process: asyncio.subprocess.Process
    path: Path
    relative: Path
    start: float
    fps: float
    size: tuple[int, int]
    frames: int = 0


def ffmpeg_command(camera: Camera, width: int, height: int, fps: float, output: Path) -> list[str]:
    cfg = camera.config
    gop = max(1, round(fps * 2))
    return [
        cfg.ffmpeg,
        "-hide_banner",
        "-loglevel",
        "error",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "bgr24",
        "-s",
        f"{width}x{height}",
        "-framerate",
        f"{fps:g}",
        "-i",
        "pipe:0",
        "-an",
        "-c:v",
        cfg.encoder,
        *(["-preset", cfg.preset, "-tune", "zerolatency", "-crf", str(cfg.crf)]
          if cfg.encoder == "libx264" else []),
        "-pix_fmt",
        "yuv420p",
        "-g",
        str(gop),
        *cfg.ffmpeg_args,
        "-movflags",
        "+frag_keyframe+empty_moov+default_base_moof",
        "-f",
        "mp4",
        "-y",
        str(output),
    ]  # fmt: skip


class H264Writer:
    def __init__(
        self,
        camera: Camera,
        spool: Path,
        open_files: OpenFiles,
        on_finished: Callable[[FinishedFile], None],
    ) -> None:
        self.camera = camera
        self.spool = spool
        self.open_files = open_files
        self.on_finished = on_finished
        self.segment: Segment | None = None
        self.last_seq = 0
        self._closing: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        camera = self.camera
        backoff = Backoff(initial=2.0, maximum=60.0)
        try:
            while True:
                if not camera.controls.recording:
                    await camera.wait_changed()
                    continue
                if shutil.which(camera.config.ffmpeg) is None:
                    camera.report_error(
                        f"recording needs {camera.config.ffmpeg}: apt-get install ffmpeg"
                    )
                    camera.controls.recording = False
                    camera.device.update(recording=False)
                    continue
                try:
                    await self._record()
                    backoff.reset()
                except EncoderError as exc:
                    camera.report_error(f"h264 writer: {exc}")
                    await self._finish()
                    await camera.wait_changed(backoff.next())
        finally:
            await self._finish()
            if self._closing:
                await asyncio.gather(*self._closing, return_exceptions=True)

    async def _record(self) -> None:
        """Write ticks until recording stops or frames stop coming."""
        camera = self.camera
        # A frame newer than the last one written: after a stall, wait for fresh frames
        # rather than spinning on the stale one.
        await camera.latest.newer_than(self.last_seq)
        loop = asyncio.get_running_loop()
        due = loop.time()
        while camera.controls.recording:
            fps = camera.controls.fps
            current = camera.latest.frame
            if current is None or time.time() - current.ts > STALE_AFTER:
                await self._finish()  # the camera stopped: close the file, wait for frames
                return
            await self._write(current, fps)
            self.last_seq = current.seq
            due += 1.0 / fps
            late = loop.time() - due
            if late > 1.0 / fps:
                skipped = int(late * fps)
                camera.dropped += skipped
                due += skipped / fps
            await asyncio.sleep(max(0.0, due - loop.time()))
        await self._finish()

    async def _write(self, frame: Frame, fps: float) -> None:
        size = (frame.width, frame.height)
        segment = self.segment
        if segment is not None and (segment.fps != fps or segment.size != size):
            await self._finish()
            segment = None
        if segment is None:
            segment = self.segment = await self._start(frame, fps)
        stdin = segment.process.stdin
        assert stdin is not None
        try:
            # Flat bytes view: the transport measures a multi-dimensional view in rows.
            stdin.write(frame.pixels.data.cast("B"))
            await stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            self.segment = None
            self._close_later(segment)
            raise EncoderError("ffmpeg stopped taking frames") from None
        segment.frames += 1
        if segment.frames >= round(self.camera.config.segment_seconds * fps):
            self.segment = None
            self._close_later(segment)

    async def _start(self, frame: Frame, fps: float) -> Segment:
        relative = relative_name(self.camera.id, frame.ts, ".mp4")
        path = self.spool / relative
        part = path.with_name(path.name + PART)
        part.parent.mkdir(parents=True, exist_ok=True)
        command = ffmpeg_command(self.camera, frame.width, frame.height, fps, part)
        try:
            process = await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
                # Its own session: a Ctrl-C meant for us must not cut the segment short;
                # ffmpeg ends when we close its input (or when we die and the pipe closes).
                start_new_session=True,
            )
        except OSError as exc:
            raise EncoderError(f"cannot start {command[0]}: {exc.strerror}") from None
        self.open_files.add(path)
        self.open_files.add(part)
        log.debug("camera %s: segment %s started", self.camera.id, relative)
        return Segment(process, path, relative, frame.ts, fps, (frame.width, frame.height))

    async def _finish(self) -> None:
        segment, self.segment = self.segment, None
        if segment is not None:
            await self._close(segment)

    def _close_later(self, segment: Segment) -> None:
        task = asyncio.create_task(self._close(segment))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _close(self, segment: Segment) -> None:
        """Close ffmpeg's input, wait for the file, rename it and announce it."""
        part = segment.path.with_name(segment.path.name + PART)
        process = segment.process
        try:
            if process.stdin is not None:
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    process.stdin.close()
                    await process.stdin.wait_closed()
            try:
                _, err = await asyncio.wait_for(process.communicate(), 30)
            except TimeoutError:
                process.kill()
                _, err = await process.communicate()
            if process.returncode != 0:
                message = (err or b"").decode(errors="replace").strip().splitlines()
                self.camera.report_error(
                    f"ffmpeg exited with {process.returncode}: {message[-1] if message else ''}"
                )
            if not part.exists() or part.stat().st_size == 0 or segment.frames == 0:
                part.unlink(missing_ok=True)
                return
            await asyncio.to_thread(os.replace, part, segment.path)
            size = segment.path.stat().st_size
        except asyncio.CancelledError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            raise
        except OSError as exc:
            self.camera.report_error(f"h264 writer: {exc}")
            return
        finally:
            self.open_files.discard(segment.path)
            self.open_files.discard(part)
        end = segment.start + segment.frames / segment.fps
        log.debug("camera %s: segment %s done", self.camera.id, segment.relative)
        self.on_finished(
            FinishedFile(
                segment.path, segment.relative, "segment", self.camera.id, segment.start, end, size
            )
        )
