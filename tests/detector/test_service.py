"""The detector as a service: it finds cameras by their frames, reads MQTT JPEGs when the
ring is not on its host, shrugs off bad descriptors, and reports its model."""

from __future__ import annotations

from pathlib import Path

import pytest

from roost.bus import Bus
from roost.errors import ConfigError
from roost.settings import RoostSettings, load_settings
from roost.testing import Watcher
from roost_camera.settings import SyntheticSourceConfig
from roost_detector.settings import Settings
from tests.camera.running import camera_settings, running_camera, small_camera

from .running import detector_settings, running_detector

MOVING = SyntheticSourceConfig(
    width=160, height=120, shapes=1, noise=False, clock=False, figure=False
)


async def test_no_config_watches_any_camera_and_reports_motion(
    roost_settings: RoostSettings, bus: Bus, tmp_path: Path
) -> None:
    assert Settings().detector.auto and Settings().detector.model.type == "hog"
    cameras = camera_settings(roost_settings, tmp_path, {"demo": small_camera(source=MOVING)})
    t = roost_settings.mqtt.topics()
    async with (
        Watcher(bus, f"{t.prefix}/#") as seen,
        running_detector(detector_settings(roost_settings)),
    ):
        async with running_camera(cameras):
            state = await seen.wait_json(
                t.state("detector", "demo"), lambda s: s["motion"] is True, timeout=10
            )
            assert state["source"] == "shm" and state["occupied"] is False
            # The camera shows the detector's motion too.
            await seen.wait_json(t.state("camera", "demo"), lambda s: s["motion"] is True)
            model = await seen.wait_json(t.state("detector", "model"))
            assert model["model"] == "OpenCV HOG people detector"
            assert model["labels"] == "person"
            await seen.wait_for(
                lambda m: m.payload == b"online", topic=t.availability("detector", "demo")
            )
        # The camera stopped: the detector's view of it is unavailable, not frozen.
        await seen.wait_for(
            lambda m: m.payload == b"offline", topic=t.availability("detector", "demo")
        )


async def test_frames_over_mqtt_when_the_ring_is_not_shared(
    roost_settings: RoostSettings, bus: Bus, tmp_path: Path
) -> None:
    cameras = camera_settings(
        roost_settings, tmp_path, {"far": small_camera(source=MOVING, stream_fps=5)}
    )
    detector = detector_settings(roost_settings, auto=False, cameras={
        "far": {"source": "camera/far", "transport": "mqtt"},
    })  # fmt: skip
    t = roost_settings.mqtt.topics()
    async with (
        Watcher(bus, t.state("detector", "far")) as seen,
        running_camera(cameras),
        running_detector(detector),
    ):
        await seen.wait_json(
            t.state("detector", "far"),
            lambda s: s["source"] == "mqtt" and s["motion"] is True,
            timeout=15,
        )


async def test_bad_descriptors_and_a_foreign_ring_are_shrugged_off(
    roost_settings: RoostSettings, bus: Bus, tmp_path: Path
) -> None:
    detector = detector_settings(roost_settings)
    t = roost_settings.mqtt.topics()
    frames = t.blob("camera", "odd", "frame")
    not_a_ring = tmp_path / "not-a-ring"
    not_a_ring.write_bytes(b"x" * 4096)
    async with running_detector(detector) as service, Watcher(bus, f"{t.prefix}/#") as seen:
        await bus.publish(frames, b"{not json", qos=0)
        await seen.wait_json(t.meta("detector", "odd"))  # the camera was found all the same
        watch = service.watches["odd"]
        descriptor = {
            "ring": str(not_a_ring), "ring_id": "00" * 16, "host": "elsewhere", "seq": 1,
            "slot": 0, "ts": 1.0, "width": 16, "height": 16, "channels": 3, "format": "bgr24",
        }  # fmt: skip
        await bus.publish(frames, descriptor, qos=0)
        await bus.publish(frames, b"[1, 2]", qos=0)
        # Still serving: a command sent after them is answered (and, the broker keeping
        # one client's messages in order, the bad ones have arrived by then).
        mark = seen.mark()
        await bus.publish(t.set("detector", "odd", "detect"), "off")
        await seen.wait_json(t.state("detector", "odd"), lambda s: s["detect"] is False,
                             since=mark)  # fmt: skip
        assert watch.feed.invalid >= 1
        assert watch.feed.descriptor is not None and watch.feed.descriptor.host == "elsewhere"
        assert watch.feed.take() is None  # not a ring: nothing read, nothing crashed
        assert watch.feed.source is None


def test_bad_detector_config_is_one_clear_line(tmp_path: Path) -> None:
    config = tmp_path / "roost.toml"
    config.write_text('[detector.model]\ntype = "yolo"\n')
    with pytest.raises(ConfigError, match="unknown model type 'yolo'"):
        load_settings(Settings, config)
    config.write_text('[detector.model]\ntype = "hog"\nstride = 4\n')
    with pytest.raises(ConfigError, match="hog model, stride: unknown key"):
        load_settings(Settings, config)
    config.write_text("[detector]\ndetect_fps = 0\n")
    with pytest.raises(ConfigError, match="detect_fps"):
        load_settings(Settings, config)


async def test_automatic_cameras_are_bounded(
    roost_settings: RoostSettings, bus: Bus, caplog: pytest.LogCaptureFixture
) -> None:
    """A node publishing frames on a hundred device ids made a hundred watches (a task,
    a device, detection CPU each)."""
    t = roost_settings.mqtt.topics()
    settings = detector_settings(roost_settings, max_auto_cameras=3)
    async with running_detector(settings) as service:
        for n in range(20):
            await bus.publish(t.blob("flood", f"cam-{n}", "jpeg"), b"\xff\xd8 not really", qos=1)
        await bus.publish(t.blob("flood", "cam-0", "jpeg"), b"\xff\xd8 again", qos=1)
        # Its answer to a request comes after it has read every frame we sent before.
        answer = await bus.request("detector", "no_such_method")
        assert answer.error is not None and answer.error.code == "unknown_method"
        assert sorted(service.watches) == ["cam-0", "cam-1", "cam-2"]
    told = [r for r in caplog.records if "max_auto_cameras" in r.getMessage()]
    assert len(told) == 17
