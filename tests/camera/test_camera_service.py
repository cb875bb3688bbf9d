"""The camera as a device: meta, discovery, snapshot, frame descriptors, commands."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from roost.bus import Bus
from roost.settings import RoostSettings
from roost.shmring import FrameDescriptor, ShmRingReader
from roost.testing import Watcher
from roost_camera.settings import Settings

from .running import camera_settings, running_camera, small_camera


def test_no_config_means_one_synthetic_demo_camera() -> None:
    settings = Settings()
    assert list(settings.camera.cameras) == ["demo"]
    demo = settings.camera.cameras["demo"]
    assert demo.source.type == "synthetic"
    assert (demo.source.width, demo.source.height, demo.fps) == (640, 480, 10.0)
    assert settings.spool_dir() == Path("data/camera/spool")
    assert settings.archive_dir() == Path("data/camera/archive")


async def test_camera_publishes_device_snapshot_and_frames(
    roost_settings: RoostSettings, bus: Bus, tmp_path: Path
) -> None:
    settings = camera_settings(roost_settings, tmp_path, {"front": small_camera()})
    t = roost_settings.mqtt.topics()
    async with (
        Watcher(bus, f"{t.prefix}/#") as seen,
        Watcher(bus, f"{t.discovery_prefix}/#") as disc,
        running_camera(settings),
    ):
        state = await seen.wait_json(
            t.state("camera", "front"), lambda s: s["status"] == "streaming", timeout=10
        )
        assert state["enabled"] is True and state["fps"] == 10
        assert (state["width"], state["height"]) == (160, 120)
        meta = await seen.wait_json(t.meta("camera", "front"))
        assert meta["properties"]["snapshot"]["kind"] == "image"
        assert meta["properties"]["recording"]["settable"] is True

        snapshot = await seen.wait_for(topic=t.blob("camera", "front", "snapshot"), timeout=10)
        assert snapshot.retain
        assert snapshot.payload[:2] == b"\xff\xd8"
        image = cv2.imdecode(np.frombuffer(snapshot.payload, np.uint8), cv2.IMREAD_COLOR)
        assert image.shape == (120, 160, 3)

        descriptor = FrameDescriptor.model_validate_json(
            (await seen.wait_for(topic=t.blob("camera", "front", "frame"))).payload
        )
        assert (descriptor.width, descriptor.height, descriptor.format) == (160, 120, "bgr24")
        with ShmRingReader(Path(descriptor.ring), ring_id=descriptor.ring_id) as reader:
            record = reader.read_newest()
            assert record is not None and record.seq >= descriptor.seq
            assert len(record.data) == 160 * 120 * 3

        image_config = await disc.wait_json(t.discovery("image", "camera", "front_snapshot"))
        assert image_config["image_topic"] == t.blob("camera", "front", "snapshot")
        for component, prop in [
            ("switch", "recording"),
            ("switch", "enabled"),
            ("number", "fps"),
            ("number", "snapshot_interval"),
            ("event", "file"),
            ("binary_sensor", "motion"),
        ]:
            await disc.wait_json(t.discovery(component, "camera", f"front_{prop}"))
        await disc.wait_json(t.discovery("event", "camera", "storage_events"))
        await seen.wait_json(t.state("camera", "storage"), lambda s: s["disk_free_mb"] > 0)


async def test_snapshot_stays_under_its_size_bound(
    roost_settings: RoostSettings, bus: Bus, tmp_path: Path
) -> None:
    camera = small_camera(snapshot_max_bytes=8000, snapshot_width=160)
    settings = camera_settings(roost_settings, tmp_path, {"front": camera})
    t = roost_settings.mqtt.topics()
    async with (
        Watcher(bus, t.blob("camera", "front", "snapshot")) as seen,
        running_camera(settings),
    ):
        snapshot = await seen.wait_for(timeout=10)
        assert 0 < len(snapshot.payload) <= 8000


async def test_commands_change_the_camera_and_bad_ones_are_refused(
    roost_settings: RoostSettings, bus: Bus, tmp_path: Path
) -> None:
    settings = camera_settings(roost_settings, tmp_path, {"front": small_camera()})
    t = roost_settings.mqtt.topics()
    state_topic = t.state("camera", "front")
    async with Watcher(bus, f"{t.prefix}/#") as seen, running_camera(settings):
        await seen.wait_json(state_topic, lambda s: s["status"] == "streaming", timeout=10)

        mark = seen.mark()
        await bus.publish(t.set("camera", "front", "fps"), "5")
        await seen.wait_json(state_topic, lambda s: s["fps"] == 5, since=mark)

        mark = seen.mark()
        await bus.publish(t.set("camera", "front", "fps"), "500")  # clamped to the maximum
        await seen.wait_json(state_topic, lambda s: s["fps"] == 60, since=mark)

        mark = seen.mark()
        await bus.publish(t.set("camera", "front", "fps"), "fast")
        error = await seen.wait_json(t.error("camera", "front"), since=mark)
        assert error["code"] == "invalid_value" and error["prop"] == "fps"

        mark = seen.mark()
        await bus.publish(t.set("camera", "front"), {"zoom": 2})
        error = await seen.wait_json(t.error("camera", "front"), since=mark)
        assert error["code"] == "unknown_property"

        mark = seen.mark()
        await bus.publish(t.set("camera", "front", "recording"), "on", retain=True)
        error = await seen.wait_json(t.error("camera", "front"), since=mark)
        assert error["code"] == "retained_command"  # ignored, and cleared from the broker
        await seen.wait_for(lambda m: m.payload == b"", topic=t.set("camera", "front", "recording"))

        mark = seen.mark()
        await bus.publish(t.set("camera", "front", "enabled"), "off")
        await seen.wait_json(
            state_topic, lambda s: s["enabled"] is False and s["status"] == "disabled", since=mark
        )
        # No frames while disabled: the next descriptor comes only after enabling again.
        mark = seen.mark()
        await bus.publish(t.set("camera", "front", "enabled"), "on")
        await seen.wait_json(state_topic, lambda s: s["status"] == "streaming", since=mark)
        await seen.wait_for(topic=t.blob("camera", "front", "frame"), since=mark)


async def test_camera_mirrors_the_detectors_motion(
    roost_settings: RoostSettings, bus: Bus, tmp_path: Path
) -> None:
    settings = camera_settings(roost_settings, tmp_path, {"front": small_camera()})
    t = roost_settings.mqtt.topics()
    state_topic = t.state("camera", "front")
    async with Watcher(bus, state_topic) as seen, running_camera(settings):
        await seen.wait_json(state_topic, lambda s: s["status"] == "streaming", timeout=10)
        mark = seen.mark()
        await bus.publish(t.state("detector", "front"), {"motion": True})
        await seen.wait_json(state_topic, lambda s: s["motion"] is True, since=mark)
        mark = seen.mark()
        await bus.publish(t.node_availability("detector"), "offline")
        await seen.wait_json(state_topic, lambda s: s["motion"] is None, since=mark)


async def test_a_broken_source_is_reported_and_the_service_keeps_running(
    roost_settings: RoostSettings, bus: Bus, tmp_path: Path
) -> None:
    broken = small_camera(source={"type": "opencv", "url": str(tmp_path / "missing.mp4")})
    settings = camera_settings(roost_settings, tmp_path, {"bad": broken, "good": small_camera()})
    t = roost_settings.mqtt.topics()
    async with Watcher(bus, f"{t.prefix}/#") as seen, running_camera(settings):
        state = await seen.wait_json(
            t.state("camera", "bad"), lambda s: s["status"] == "error", timeout=10
        )
        assert "does not exist" in state["last_error"]
        await seen.wait_json(
            t.state("camera", "good"), lambda s: s["status"] == "streaming", timeout=10
        )


async def test_a_slow_ring_reader_gets_the_newest_frame_and_counts_skips(
    roost_settings: RoostSettings, bus: Bus, tmp_path: Path
) -> None:
    settings = camera_settings(roost_settings, tmp_path, {"front": small_camera(fps=20)})
    t = roost_settings.mqtt.topics()
    frames = t.blob("camera", "front", "frame")
    async with Watcher(bus, frames) as seen, running_camera(settings):
        first = FrameDescriptor.model_validate_json((await seen.wait_for(timeout=10)).payload)
        with ShmRingReader(Path(first.ring), ring_id=first.ring_id) as reader:
            record = reader.read_newest()
            assert record is not None
            # The reader is busy while ten more frames are announced (more than the ring
            # holds): no backlog builds up anywhere, the next read is simply the newest.
            mark = seen.mark()
            for _ in range(10):
                await seen.wait_for(since=seen.mark())
            newest = FrameDescriptor.model_validate_json(seen.messages[-1].payload)
            again = reader.read_newest()
            assert again is not None
            assert again.seq >= newest.seq >= record.seq + 10
            assert reader.skipped == again.seq - record.seq - 1
            assert len(seen.messages) - mark >= 10
