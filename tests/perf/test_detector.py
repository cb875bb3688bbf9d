"""Detector cost per 640×480 frame: motion only, HOG, Haar (one OpenCV thread, as the
service runs by default). Motion is the baseline the others are a ratio of.

Run: .venv/bin/pytest --perf tests/perf/test_detector.py -s
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable

import cv2
import numpy as np
import pytest

from roost_camera.settings import SyntheticSourceConfig
from roost_camera.sources.synthetic import SyntheticSource
from roost_detector.motion import MotionDetector
from roost_detector.plugins import make_detector
from roost_detector.plugins.haar import HaarConfig
from roost_detector.plugins.hog import HogConfig
from roost_detector.regions import regions
from roost_detector.settings import MotionConfig
from tests.detector.photos import person

pytestmark = pytest.mark.perf
ROUNDS = 15


def frames() -> list[np.ndarray]:
    """The person photo in a 640×480 frame, shifted a little each time (real motion)."""
    photo = person()
    out = []
    for i in range(ROUNDS + 3):
        frame = np.full((480, 640, 3), 90, np.uint8)
        shift = (i * 7) % 40
        frame[28:452, : 640 - shift] = photo[:, shift:]
        out.append(frame)
    return out


def median_ms(run: Callable[[np.ndarray], object], images: list[np.ndarray]) -> float:
    for image in images[:3]:
        run(image)  # warm up
    times = []
    for image in images[3:]:
        start = time.perf_counter()
        run(image)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def demo_pipeline_ms() -> float:
    """The service's own path on the demo scene while the figure walks through: motion,
    regions round it, HOG in the regions (median per frame)."""
    source = SyntheticSource(SyntheticSourceConfig())
    source.open()
    cfg = source.config
    start = source._epoch + cfg.visitor_gap
    images = [source.read(start + i * 0.2) for i in range(int(cfg.visitor_seconds / 0.2))]
    motion = MotionDetector(MotionConfig(warmup_frames=0))
    hog = make_detector(HogConfig())
    for image in images[:5]:
        motion.apply(image)

    def pipeline(image: np.ndarray) -> object:
        result = motion.apply(image)
        found = []
        for x1, y1, x2, y2 in regions(result.boxes, 640, 480):
            found += hog.detect(image[y1:y2, x1:x2])
        return found

    return median_ms(pipeline, images[5:])


def test_detector_ms_per_frame() -> None:
    cv2.setNumThreads(1)
    images = frames()
    motion = MotionDetector(MotionConfig(warmup_frames=0))
    hog = make_detector(HogConfig())
    haar = make_detector(HaarConfig())
    figures = {
        "frame": "640x480",
        "motion_ms": median_ms(motion.apply, images),
        "hog_ms": median_ms(hog.detect, images),
        "haar_face_and_body_ms": median_ms(haar.detect, images),
        "demo_scene_motion_regions_hog_ms": demo_pipeline_ms(),
    }
    figures["hog_vs_motion"] = figures["hog_ms"] / figures["motion_ms"]
    figures["haar_vs_motion"] = figures["haar_face_and_body_ms"] / figures["motion_ms"]
    figures["demo_pipeline_vs_full_frame_hog"] = (
        figures["demo_scene_motion_regions_hog_ms"] / figures["hog_ms"]
    )
    print(json.dumps({"benchmark": "detector_ms_per_frame", **figures}, indent=1))
    assert hog.detect(images[0])  # the measured path really finds the person
