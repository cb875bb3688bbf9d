"""The uploader: files wait in a persistent queue while the target is down and go out
when it comes back (HTTP POST or a copy into a mounted directory)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from roost.bus import Bus
from roost.settings import RoostSettings
from roost.testing import Watcher
from roost.testing.broker import free_port
from roost_camera.files import FinishedFile
from roost_camera.settings import UploadConfig
from roost_camera.uploader import PendingUpload, Uploader

from .running import camera_settings, running_camera, small_camera


class Receiver:
    """A real HTTP server that stores what is POSTed to /upload."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.received: list[dict[str, object]] = []
        self.arrived = asyncio.Event()

    async def upload(self, request: Request) -> PlainTextResponse:
        form = await request.form()
        upload = form["file"]
        assert not isinstance(upload, str)
        self.received.append(
            {
                "name": upload.filename,
                "data": await upload.read(),
                "camera": form["camera"],
                "kind": form["kind"],
                "path": form["path"],
            }
        )
        self.arrived.set()
        return PlainTextResponse("ok", status_code=201)

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[Receiver]:
        app = Starlette(routes=[Route("/upload", self.upload, methods=["POST"])])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        server = uvicorn.Server(config)
        # A socket already listening: clients queue in its backlog until uvicorn accepts.
        sock = socket.create_server(("127.0.0.1", self.port))
        task = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            yield self
        finally:
            server.should_exit = True
            await task
            sock.close()


def finished_file(root: Path, name: str = "front-1.jpg") -> FinishedFile:
    relative = Path("front", "2027-01-15", name)
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\xff\xd8 a jpeg")
    return FinishedFile(path, relative, "jpeg", "front", 1.0, 1.0, path.stat().st_size)


async def test_http_upload_retries_until_the_server_comes_back(tmp_path: Path) -> None:
    port = free_port()
    config = UploadConfig(target=f"http://127.0.0.1:{port}/upload", retry_interval=0.1, timeout=2)
    failures: list[str] = []
    uploaded: list[PendingUpload] = []
    uploader = Uploader(
        config,
        tmp_path / "upload",
        on_uploaded=uploaded.append,
        on_failed=lambda entry, message: failures.append(message),
    )
    uploader.submit(finished_file(tmp_path / "archive"))
    assert await uploader.run_once() is False  # nobody listens yet
    assert failures and "POST" in failures[0]
    [entry] = uploader.pending()
    assert PendingUpload.model_validate_json(entry.read_bytes()).attempts == 1

    # A restart loses nothing: a new uploader finds the queue on disk.
    done = asyncio.Event()

    def success(entry: PendingUpload) -> None:
        uploaded.append(entry)
        done.set()

    again = Uploader(config, tmp_path / "upload", on_uploaded=success,
                     on_failed=lambda entry, message: None)  # fmt: skip
    receiver = Receiver(port)
    async with receiver.serving():
        job = asyncio.create_task(again.run())
        try:
            await asyncio.wait_for(done.wait(), 10)
        finally:
            job.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await job
    [got] = receiver.received
    assert got["data"] == b"\xff\xd8 a jpeg"
    assert (got["name"], got["camera"], got["kind"]) == ("front-1.jpg", "front", "jpeg")
    assert got["path"] == "front/2027-01-15/front-1.jpg"
    assert again.pending() == []
    assert [u.file for u in uploaded] == ["front/2027-01-15/front-1.jpg"]


async def test_http_error_status_is_a_failure(tmp_path: Path) -> None:
    port = free_port()
    receiver = Receiver(port)
    config = UploadConfig(target=f"http://127.0.0.1:{port}/nowhere", timeout=2)
    failures: list[str] = []
    uploader = Uploader(config, tmp_path / "upload", on_uploaded=lambda e: None,
                        on_failed=lambda e, m: failures.append(m))  # fmt: skip
    uploader.submit(finished_file(tmp_path / "archive"))
    async with receiver.serving():
        assert await uploader.run_once() is False
    assert "HTTP 404" in failures[0]
    assert len(uploader.pending()) == 1


async def test_copy_to_a_directory_waits_for_the_mount(tmp_path: Path) -> None:
    share = tmp_path / "share"
    config = UploadConfig(target=str(share), retry_interval=0.1)
    failures: list[str] = []
    uploader = Uploader(config, tmp_path / "upload", on_uploaded=lambda e: None,
                        on_failed=lambda e, m: failures.append(m))  # fmt: skip
    source = finished_file(tmp_path / "archive")
    uploader.submit(source)
    assert await uploader.run_once() is False
    assert "is the share mounted" in failures[0]
    assert not share.exists()  # never created: it would fill the disk under the mount point
    share.mkdir()
    assert await uploader.run_once() is True
    assert (share / "front" / "2027-01-15" / "front-1.jpg").read_bytes() == b"\xff\xd8 a jpeg"
    assert uploader.pending() == []


async def test_an_entry_whose_file_was_deleted_is_dropped(tmp_path: Path) -> None:
    uploader = Uploader(UploadConfig(target=str(tmp_path)), tmp_path / "upload",
                        on_uploaded=lambda e: None, on_failed=lambda e, m: None)  # fmt: skip
    gone = finished_file(tmp_path / "archive")
    uploader.submit(gone)
    gone.path.unlink()
    (uploader.pending_dir / "junk.json").write_text("{not json")
    assert await uploader.run_once() is True
    assert uploader.pending() == [] and uploader.counters.expired == 1


async def test_service_uploads_archived_files(
    roost_settings: RoostSettings, bus: Bus, tmp_path: Path
) -> None:
    share = tmp_path / "share"
    share.mkdir()
    settings = camera_settings(
        roost_settings, tmp_path, {"front": small_camera(jpeg_interval=0.5)},
        upload={"target": str(share), "kinds": ["jpeg"], "retry_interval": 0.2},
    )  # fmt: skip
    t = roost_settings.mqtt.topics()
    async with Watcher(bus, f"{t.prefix}/camera/storage/#") as seen, running_camera(settings):
        event = await seen.wait_json(
            t.event("camera", "storage"), lambda e: e["event_type"] == "uploaded", timeout=10
        )
        await seen.wait_json(t.state("camera", "storage"), lambda s: s["uploaded"] >= 1)
    assert (share / event["data"]["file"]).is_file()
