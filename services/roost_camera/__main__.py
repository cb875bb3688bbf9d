"""`roost-camera`: every configured camera with its writers, plus the storage parts."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from functools import partial
from typing import Any

from roost.node import Node
from roost.service import run_service, run_until_signalled
from roost_camera.camera import Camera, run_camera
from roost_camera.deleter import DiskProbe, disk_usage
from roost_camera.files import FinishedFile, OpenFiles
from roost_camera.h264_writer import H264Writer
from roost_camera.jpeg_writer import write_jpegs
from roost_camera.settings import Settings
from roost_camera.snapshot import publish_snapshots, stream_jpegs
from roost_camera.storage import Storage
from roost_camera.watchdog import supervised

SERVICE = "camera"


class CameraService:
    """The node, its cameras and the storage device, wired together."""

    def __init__(self, settings: Settings, *, probe: DiskProbe = disk_usage) -> None:
        self.settings = settings
        self.node = Node(settings, service=SERVICE)
        self.open_files = OpenFiles()
        self.storage = Storage(self.node, settings, self.open_files, probe=probe)
        self.cameras = {
            camera_id: Camera(self.node, camera_id, config, settings.camera.shm_dir)
            for camera_id, config in settings.camera.cameras.items()
        }

    def _announcer(self, camera: Camera) -> Callable[[FinishedFile], None]:
        def finished(file: FinishedFile) -> None:
            camera.device.emit(file.kind, file.event_data())
            self.storage.finished(file)

        return finished

    def parts(self) -> list[Coroutine[Any, Any, None]]:
        parts: list[Coroutine[Any, Any, None]] = list(self.storage.parts())
        spool = self.storage.spool
        for camera in self.cameras.values():
            announce = self._announcer(camera)
            h264 = H264Writer(camera, spool, self.open_files, announce)
            named: dict[str, Callable[[], Coroutine[Any, Any, None]]] = {
                "capture": partial(run_camera, camera),
                "snapshots": partial(publish_snapshots, camera),
                "jpeg stream": partial(stream_jpegs, camera),
                "jpeg writer": partial(write_jpegs, camera, spool, self.open_files, announce),
                "h264 writer": h264.run,
            }
            parts += [
                supervised(f"camera {camera.id} {name}", part, camera.report_error)
                for name, part in named.items()
            ]
        return parts

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[CameraService]:
        """The node connected and every camera following its detector's motion."""
        async with self.node:
            for camera in self.cameras.values():
                await camera.follow_motion()
            yield self


async def serve(settings: Settings) -> None:
    service = CameraService(settings)
    async with service.running():
        await run_until_signalled(*service.parts())


def main() -> None:
    run_service(SERVICE, Settings, serve)


if __name__ == "__main__":
    main()
