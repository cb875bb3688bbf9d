"""Motion, the built-in detectors and the tracker, on real and synthetic frames."""

from __future__ import annotations

import time

import numpy as np

from roost.node import Node
from roost.settings import RoostSettings
from roost_camera.settings import SyntheticSourceConfig
from roost_camera.sources.synthetic import SyntheticSource
from roost_detector.detection import Detection, iou, nms
from roost_detector.engine import Engine
from roost_detector.motion import MotionDetector
from roost_detector.plugins import make_detector
from roost_detector.plugins.haar import HaarConfig
from roost_detector.plugins.hog import HogConfig
from roost_detector.regions import regions
from roost_detector.settings import MotionConfig, TrackingConfig
from roost_detector.tracker import Tracker

from .photos import astronaut, person


def _frames(shapes: int, count: int = 30) -> list[np.ndarray]:
    source = SyntheticSource(
        SyntheticSourceConfig(
            width=320, height=240, shapes=shapes, noise=False, clock=False, figure=False
        )
    )
    source.open()
    start = time.time()
    return [source.read(start + i * 0.1) for i in range(count)]


def test_motion_on_a_moving_shape_and_none_on_a_still_scene() -> None:
    moving = MotionDetector(MotionConfig(warmup_frames=5))
    results = [moving.apply(frame) for frame in _frames(shapes=1)]
    assert not any(r.motion for r in results[:5])  # learning the background
    assert all(r.motion for r in results[6:])
    x1, y1, x2, y2 = results[-1].boxes[0]
    assert 0 <= x1 < x2 <= 320 and 0 <= y1 < y2 <= 240

    still = MotionDetector(MotionConfig(warmup_frames=5))
    assert not any(still.apply(frame).motion for frame in _frames(shapes=0))


def test_hog_finds_the_person_in_a_photo() -> None:
    photo = person()  # 640×424: a man, a dog and a horse
    frame = np.full((480, 640, 3), 90, np.uint8)
    frame[28:452] = photo
    found = make_detector(HogConfig()).detect(frame)
    people = [d for d in found if d.label == "person"]
    assert len(people) == 1
    x1, y1, x2, y2 = people[0].box
    # The man stands at x≈190–320 of the photo, his head near the top.
    assert 120 < x1 < 220 and 250 < x2 < 360 and y1 < 150 and y2 > 350
    assert people[0].score > 0.6
    assert make_detector(HogConfig()).detect(np.full((480, 640, 3), 90, np.uint8)) == []


def test_hog_finds_the_demo_cameras_drawn_person() -> None:
    source = SyntheticSource(SyntheticSourceConfig())  # the demo camera, as shipped
    source.open()
    cfg = source.config
    middle = source._epoch + cfg.visitor_gap + cfg.visitor_seconds / 2
    people = make_detector(HogConfig()).detect(source.read(middle))
    assert len(people) == 1
    x1, _, x2, _ = people[0].box
    assert x1 < 320 < x2  # halfway across
    empty = make_detector(HogConfig()).detect(source.read(source._epoch + 1))
    assert empty == []  # the scene starts empty: shapes, clock and noise are no person


def test_haar_finds_the_astronauts_face() -> None:
    detector = make_detector(HaarConfig())
    assert detector.labels == ["face", "person"]
    faces = [d for d in detector.detect(astronaut()) if d.label == "face"]
    assert len(faces) == 1
    x1, y1, x2, _ = faces[0].box
    assert 150 < x1 < 230 and 40 < y1 < 110 and 250 < x2 < 320  # her face, not the flag
    assert faces[0].score > 0.9


def test_regions_round_motion() -> None:
    assert regions([], 640, 480) == []
    # A small moving thing: a region big enough to hold a person, kept inside the frame.
    [(x1, y1, x2, y2)] = regions([(600, 10, 620, 30)], 640, 480)
    assert (x2 - x1, y2 - y1) == (128, 256) and x2 == 640 and y1 == 0
    # Two far apart stay two; overlapping ones merge.
    assert len(regions([(10, 10, 30, 30), (500, 300, 520, 320)], 640, 480)) == 2
    assert len(regions([(100, 100, 150, 150), (160, 100, 200, 150)], 640, 480)) == 1
    # Mostly the whole frame anyway: the whole frame.
    assert regions([(50, 50, 600, 400)], 640, 480) == [(0, 0, 640, 480)]


async def test_detection_in_regions_reports_frame_coordinates() -> None:
    frame = np.full((480, 640, 3), 90, np.uint8)
    frame[28:452] = person()
    engine = Engine(Node(RoostSettings(), service="detector"), make_detector(HogConfig()))
    [whole] = engine.detect_in(frame, [(0, 0, 640, 480)])
    areas = [*regions([whole.box], 640, 480), (500, 0, 640, 256)]  # and an empty region
    assert len(areas) == 2
    [found] = engine.detect_in(frame, areas)
    assert iou(found.box, whole.box) > 0.7


def test_iou_and_nms() -> None:
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (20, 20, 30, 30)) == 0.0
    assert abs(iou((0, 0, 10, 10), (5, 0, 15, 10)) - 1 / 3) < 1e-9
    boxes = [
        Detection("person", 0.9, (0, 0, 10, 10)),
        Detection("person", 0.8, (1, 0, 11, 10)),
        Detection("dog", 0.7, (1, 0, 11, 10)),  # another label is never suppressed
    ]
    assert nms(boxes, 0.45) == [boxes[0], boxes[2]]


def test_tracker_turns_detections_into_start_update_end() -> None:
    tracker = Tracker(TrackingConfig(min_hits=2, end_after=1.0, update_interval=0.5))
    frame = np.zeros((10, 10, 3), np.uint8)

    def seen(ts: float, x: int, score: float = 0.8) -> list[tuple[str, str]]:
        changes = tracker.update([Detection("person", score, (x, 10, x + 50, 110))], ts, frame)
        return [(c.phase, c.track.id) for c in changes]

    assert seen(0.0, 0) == []  # one sighting is not an event yet
    [(phase, track_id)] = seen(0.2, 5)
    assert phase == "start"
    assert seen(0.4, 10) == []  # too soon for an update
    assert seen(1.0, 30) == [("update", track_id)]  # moved
    assert seen(1.6, 32, score=0.95) == [("update", track_id)]  # a better score
    assert seen(2.2, 33) == []  # nothing new to say
    track = tracker.active[0]
    assert track.top_score == 0.95
    ended = tracker.expire(3.3)
    assert [(c.phase, c.track.id) for c in ended] == [("end", track_id)]
    assert ended[0].track.end == 2.2
    assert tracker.tracks == []
    # Someone walking fast past a missed frame stays one object: where the speed says.
    walker = Tracker(TrackingConfig(min_hits=2, end_after=2.0))
    for ts, x in [(0.0, 0), (0.2, 24), (0.4, 48)]:
        walker.update([Detection("person", 0.9, (x, 0, x + 100, 200))], ts, frame)
    [track] = walker.tracks
    # 0.6 s unseen, then 0.8 s later at x=96+: no overlap with the last box, but where
    # the track's speed puts it.
    changes = walker.update([Detection("person", 0.9, (150, 0, 250, 200))], 1.4, frame)
    assert [(c.phase, c.track) for c in changes] == [("update", track)]
    assert walker.tracks == [track] and track.box == (150, 0, 250, 200)
    # Something far away is another object.
    walker.update([Detection("person", 0.9, (600, 0, 700, 200))], 1.6, frame)
    assert len(walker.tracks) == 2

    # A lone false positive never becomes an event and leaves quietly.
    tracker.update([Detection("person", 0.7, (0, 0, 5, 5))], 10.0, frame)
    assert tracker.expire(12.0) == []
