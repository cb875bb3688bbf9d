"""The writers: h264 segments through ffmpeg and JPEGs, each announced, then archived."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

from roost.bus import Bus
from roost.settings import RoostSettings
from roost.testing import Watcher

from .running import camera_settings, running_camera, small_camera


def probe_duration(path: Path) -> float:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration:stream=codec_name",
         "-of", "json", str(path)],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    info = json.loads(out)
    assert info["streams"][0]["codec_name"] == "h264"
    return float(info["format"]["duration"])


async def test_h264_segments_are_playable_and_archived(
    roost_settings: RoostSettings, bus: Bus, tmp_path: Path
) -> None:
    camera = small_camera(recording=True, segment_seconds=1)
    settings = camera_settings(roost_settings, tmp_path, {"front": camera})
    t = roost_settings.mqtt.topics()
    async with (
        Watcher(bus, f"{t.prefix}/camera/+/event") as events,
        running_camera(settings) as service,
    ):
        written = [
            await events.wait_json(
                t.event("camera", "front"), lambda e: e["event_type"] == "segment", timeout=15
            )
        ]
        written.append(
            await events.wait_json(
                t.event("camera", "front"),
                lambda e: e["event_type"] == "segment" and e["id"] != written[0]["id"],
                timeout=15,
            )
        )
        archived = await events.wait_json(
            t.event("camera", "storage"),
            lambda e: (
                e["event_type"] == "archived" and e["data"]["file"] == written[1]["data"]["file"]
            ),
            timeout=10,
        )
        archive = service.storage.archive
    first, second = (w["data"] for w in written)
    assert first["kind"] == "segment" and first["camera"] == "front"
    assert first["duration"] == 1.0
    # Back to back: the second segment starts where the first ended.
    assert abs(second["start"] - first["end"]) < 0.25
    path = Path(archived["data"]["path"])
    assert path == archive / second["file"]
    assert path.parent.name == second["file"].split("/")[1]  # a dated folder
    assert abs(probe_duration(path) - 1.0) < 0.01
    assert not list(archive.rglob("*.part"))


async def test_jpeg_writer_fills_dated_folders(
    roost_settings: RoostSettings, bus: Bus, tmp_path: Path
) -> None:
    camera = small_camera(jpeg_interval=0.5)
    settings = camera_settings(roost_settings, tmp_path, {"front": camera})
    t = roost_settings.mqtt.topics()
    async with (
        Watcher(bus, f"{t.prefix}/camera/+/event") as events,
        running_camera(settings) as service,
    ):
        jpeg = await events.wait_json(
            t.event("camera", "front"), lambda e: e["event_type"] == "jpeg", timeout=10
        )
        await events.wait_json(
            t.event("camera", "storage"),
            lambda e: e["event_type"] == "archived" and e["data"]["file"] == jpeg["data"]["file"],
        )
        archive = service.storage.archive
    camera_dir, day, name = jpeg["data"]["file"].split("/")
    assert camera_dir == "front" and len(day) == 10 and name.endswith("Z.jpg")
    assert (archive / jpeg["data"]["file"]).read_bytes()[:2] == b"\xff\xd8"


async def test_recording_without_ffmpeg_says_so(
    roost_settings: RoostSettings, bus: Bus, tmp_path: Path
) -> None:
    camera = small_camera(recording=True, ffmpeg="ffmpeg-that-is-not-installed")
    settings = camera_settings(roost_settings, tmp_path, {"front": camera})
    t = roost_settings.mqtt.topics()
    async with Watcher(bus, t.state("camera", "front")) as seen, running_camera(settings):
        state = await seen.wait_json(
            t.state("camera", "front"),
            lambda s: s["recording"] is False and s["last_error"] is not None,
            timeout=10,
        )
        assert "apt-get install ffmpeg" in state["last_error"]


async def test_files_left_by_a_crash_are_archived_at_start(
    roost_settings: RoostSettings, bus: Bus, tmp_path: Path
) -> None:
    settings = camera_settings(roost_settings, tmp_path, {"front": small_camera()})
    spool = settings.spool_dir()
    day = spool / "front" / "2026-01-02"
    day.mkdir(parents=True)
    (day / "front-20260102T030405.000Z.jpg").write_bytes(b"\xff\xd8done")
    (day / "front-20260102T030406.000Z.jpg.part").write_bytes(b"\xff\xd8half")
    (day / "front-20260102T030407.000Z.mp4.part").write_bytes(b"fragmented mp4")
    # Written before the clock was set back: its mtime lies an hour ahead of now.
    ahead = time.time() + 3600
    os.utime(day / "front-20260102T030405.000Z.jpg", (ahead, ahead))
    t = roost_settings.mqtt.topics()
    async with (
        Watcher(bus, t.event("camera", "storage")) as events,
        running_camera(settings) as service,
    ):
        for name in ("front-20260102T030405.000Z.jpg", "front-20260102T030407.000Z.mp4"):
            await events.wait_json(
                t.event("camera", "storage"), lambda e, n=name: e["data"]["file"].endswith(n)
            )
        archive = service.storage.archive
    archived = sorted(p.name for p in archive.rglob("*") if p.is_file())
    assert archived == ["front-20260102T030405.000Z.jpg", "front-20260102T030407.000Z.mp4"]
    assert not day.exists()  # the half-written JPEG is dropped, the empty folder pruned


async def test_disabling_the_camera_closes_the_segment(
    roost_settings: RoostSettings, bus: Bus, tmp_path: Path
) -> None:
    camera = small_camera(recording=True, segment_seconds=60)
    settings = camera_settings(roost_settings, tmp_path, {"front": camera})
    t = roost_settings.mqtt.topics()
    async with (
        Watcher(bus, f"{t.prefix}/camera/#") as seen,
        running_camera(settings) as service,
    ):
        await seen.wait_json(t.state("camera", "front"), lambda s: s["status"] == "streaming")
        # Let a few frames be encoded, then switch the camera off.
        for _ in range(5):
            await seen.wait_for(topic=t.blob("camera", "front", "frame"), since=seen.mark())
        await bus.publish(t.set("camera", "front", "enabled"), "off")
        segment = await seen.wait_json(
            t.event("camera", "front"), lambda e: e["event_type"] == "segment", timeout=10
        )
        assert 0 < segment["data"]["duration"] < 60
        archived = await seen.wait_json(
            t.event("camera", "storage"),
            lambda e: e["event_type"] == "archived" and e["data"]["kind"] == "segment",
        )
        assert len(service.open_files) == 0
    assert abs(probe_duration(Path(archived["data"]["path"])) - segment["data"]["duration"]) < 0.05
