"""The whole path: the camera's frames through shared memory to the detector, a person
walking in and out as a start → update → end event stream, the best snapshot retained,
per-camera state, discovery."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from roost.bus import Bus
from roost.settings import RoostSettings
from roost.testing import Watcher
from roost_camera.settings import SyntheticSourceConfig
from tests.camera.running import camera_settings, running_camera, small_camera

from .photos import person_jpg
from .running import detector_settings, running_detector


async def test_a_person_walking_through_is_one_event_start_update_end(
    roost_settings: RoostSettings, bus: Bus, tmp_path: Path
) -> None:
    scene = SyntheticSourceConfig(
        width=320, height=240, shapes=0, noise=False, clock=False,
        visitor=person_jpg(), visitor_height=0.95, visitor_seconds=5, visitor_gap=1.5,
    )  # fmt: skip
    cameras = camera_settings(roost_settings, tmp_path, {"yard": small_camera(source=scene)})
    detector = detector_settings(
        roost_settings, tracking={"min_hits": 2, "end_after": 1.0, "update_interval": 0.5}
    )
    t = roost_settings.mqtt.topics()
    event_topic = t.event("detector", "yard")
    state_topic = t.state("detector", "yard")
    async with (
        Watcher(bus, f"{t.prefix}/detector/#") as seen,
        Watcher(bus, f"{t.discovery_prefix}/+/detector/#") as disc,
        running_camera(cameras),
        running_detector(detector),
    ):
        start = await seen.wait_json(
            event_topic, lambda e: e["phase"] == "start" and e["event_type"] == "person",
            timeout=20,
        )  # fmt: skip
        event_id = start["id"]
        data = start["data"]
        assert data["label"] == "person" and data["camera"] == "camera/yard"
        assert data["score"] >= 0.6 and data["top_score"] >= data["score"]
        x1, y1, x2, y2 = data["box"]
        assert 0 <= x1 < x2 <= 320 and 0 <= y1 < y2 <= 240
        assert data["end"] is None and data["has_snapshot"] is True

        occupied = await seen.wait_json(state_topic, lambda s: s["person"] is True)
        assert occupied["person_count"] == 1 and occupied["occupied"] is True
        assert occupied["motion"] is True and occupied["source"] == "shm"

        snapshot = await seen.wait_for(topic=t.blob("detector", "yard", "snapshot"))
        assert snapshot.retain
        image = cv2.imdecode(np.frombuffer(snapshot.payload, np.uint8), cv2.IMREAD_COLOR)
        assert image.shape == (240, 320, 3)

        update = await seen.wait_json(
            event_topic, lambda e: e["phase"] == "update" and e["id"] == event_id, timeout=10
        )
        assert update["data"]["box"] != data["box"]  # walking to the right
        assert update["data"]["box"][0] > x1

        end = await seen.wait_json(
            event_topic, lambda e: e["phase"] == "end" and e["id"] == event_id, timeout=15
        )
        assert end["data"]["end"] > end["data"]["start"]
        assert end["data"]["top_score"] >= data["top_score"]
        await seen.wait_json(state_topic, lambda s: s["person"] is False and s["occupied"] is False)
        phases = [m.json()["phase"] for m in seen.on(event_topic) if m.json()["id"] == event_id]
        assert phases[0] == "start" and phases[-1] == "end"
        assert set(phases[1:-1]) == {"update"}

        sensor = await disc.wait_json(t.discovery("binary_sensor", "detector", "yard_person"))
        assert sensor["device_class"] == "occupancy"
        events = await disc.wait_json(t.discovery("event", "detector", "yard_detection"))
        assert events["event_types"] == ["person"]
        await disc.wait_json(t.discovery("image", "detector", "yard_snapshot"))
        await disc.wait_json(t.discovery("sensor", "detector", "model_inference_ms"))
