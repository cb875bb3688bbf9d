"""Frame sources and the config that picks them."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from roost.errors import ConfigError
from roost.settings import load_settings
from roost_camera.settings import Settings, SyntheticSourceConfig
from roost_camera.sources import SourceEnded, SourceError, make_source
from roost_camera.sources.opencv import redact
from roost_camera.sources.synthetic import SyntheticSource


def test_synthetic_frames_move_with_time() -> None:
    source = make_source(SyntheticSourceConfig(width=320, height=240, noise=False, clock=False))
    source.open()
    first, later, again = source.read(1000.0), source.read(1000.5), source.read(1000.0)
    assert first.shape == (240, 320, 3) and first.dtype == np.uint8
    assert np.abs(first.astype(int) - later.astype(int)).sum() > 0  # shapes moved
    assert np.array_equal(first, again)  # a function of time: reproducible
    source.close()


def test_synthetic_scene_over_a_looping_video(tmp_path: Path) -> None:
    path = tmp_path / "background.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 10, (80, 60))
    for value in (0, 250):  # two frames: dark, then bright
        writer.write(np.full((60, 80, 3), value, np.uint8))
    writer.release()
    config = SyntheticSourceConfig(
        width=160, height=120, shapes=0, clock=False, noise=False, figure=False, video=path
    )
    source = make_source(config)
    source.open()
    means = [int(source.read(0).mean()) for _ in range(5)]
    source.close()
    assert [m > 128 for m in means] == [False, True, False, True, False]  # looped, scaled


def test_synthetic_visitor_walks_in_and_out(tmp_path: Path) -> None:
    photo = np.zeros((100, 50, 3), np.uint8)
    photo[:] = (0, 0, 255)
    cv2.imwrite(str(tmp_path / "v.png"), photo)
    config = SyntheticSourceConfig(
        width=200, height=100, shapes=0, noise=False, clock=False,
        visitor=tmp_path / "v.png", visitor_height=0.5, visitor_seconds=2, visitor_gap=2,
    )  # fmt: skip
    source = SyntheticSource(config)
    source.open()
    epoch = source._epoch

    def red(t: float) -> int:
        frame = source.read(epoch + t)
        return int(((frame[:, :, 2] == 255) & (frame[:, :, 0] == 0)).sum())

    assert red(1.0) == 0  # an empty scene first
    assert red(2.0) == 0  # just off the left edge
    assert red(3.0) == 50 * 25  # in the middle, whole
    assert red(5.0) == 0  # gone until the next visit
    assert red(7.0) == 50 * 25


def test_opencv_source_plays_a_video_file_and_ends(tmp_path: Path) -> None:
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 10, (64, 48))
    for value in range(5):
        writer.write(np.full((48, 64, 3), value * 50, np.uint8))
    writer.release()
    source = make_source(Settings.model_validate(
        {"camera": {"cameras": {"a": {"source": {"type": "opencv", "url": str(path)}}}}}
    ).camera.cameras["a"].source)  # fmt: skip
    assert not source.live
    source.open()
    frames = [source.read(0) for _ in range(5)]
    assert frames[0].shape == (48, 64, 3)
    with pytest.raises(SourceEnded):
        source.read(0)
    source.close()

    looping = make_source(
        Settings.model_validate(
            {"camera": {"cameras": {"a": {"source": {"type": "opencv", "url": str(path),
                                                     "loop": True}}}}}
        ).camera.cameras["a"].source
    )  # fmt: skip
    looping.open()
    assert len([looping.read(0) for _ in range(12)]) == 12
    looping.close()


def test_unreachable_sources_say_why(tmp_path: Path) -> None:
    missing = (
        Settings.model_validate(
            {"camera": {"cameras": {"a": {"source": {"type": "opencv", "url": "/dev/video99"}}}}}
        )
        .camera.cameras["a"]
        .source
    )
    with pytest.raises(SourceError, match="cannot open /dev/video99"):
        make_source(missing).open()
    pi = (
        Settings.model_validate({"camera": {"cameras": {"a": {"source": {"type": "picamera"}}}}})
        .camera.cameras["a"]
        .source
    )
    with pytest.raises(SourceError, match="picamera2 is not installed"):
        make_source(pi).open()
    assert redact("rtsp://admin:hunter2@10.0.0.5/stream") == "rtsp://admin:***@10.0.0.5/stream"


def test_bad_config_is_one_clear_line(tmp_path: Path) -> None:
    config = tmp_path / "roost.toml"
    config.write_text("[camera.cameras.Front_Door]\nfps = 10\n")
    with pytest.raises(ConfigError, match=r"key camera\.cameras\.Front_Door: device id"):
        load_settings(Settings, config)
    config.write_text('[camera.cameras.front]\nsource = {type = "webcam"}\n')
    with pytest.raises(ConfigError, match=r"cameras\.front\.source"):
        load_settings(Settings, config)
    config.write_text("[camera.cameras.front]\nfps = 1000\n")
    with pytest.raises(ConfigError, match=r"key camera\.cameras\.front\.fps"):
        load_settings(Settings, config)
    config.write_text("[camera.cameras.front]\nzoom = 2\n")
    with pytest.raises(ConfigError, match="unknown key"):
        load_settings(Settings, config)
    config.write_text(
        '[camera.cameras.front.source]\ntype = "opencv"\nurl = "rtsp://cam/stream"\n'
        "[detector]\ndetect_fps = 2\n"  # another service's section is left alone
    )
    settings = load_settings(Settings, config)
    assert settings.camera.cameras["front"].source.type == "opencv"
