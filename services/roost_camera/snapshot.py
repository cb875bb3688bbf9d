"""JPEGs over MQTT: the retained `snapshot` every few seconds, and for detectors on other
hosts an optional low-rate stream of frames on `roost/<node>/<camera>/jpeg`."""

from __future__ import annotations

import asyncio
import logging
import time

from roost_camera.camera import JPEG_BLOB, Camera
from roost_camera.encoding import bounded_jpeg

log = logging.getLogger("roost_camera.snapshot")


async def publish_snapshots(camera: Camera) -> None:
    """Refresh the retained snapshot every `snapshot_interval` seconds while frames come."""
    cfg = camera.config
    seq = 0
    while True:
        frame = await camera.latest.newer_than(seq)
        seq = frame.seq
        try:
            data = await asyncio.to_thread(
                bounded_jpeg,
                frame.pixels,
                width=cfg.snapshot_width,
                max_bytes=cfg.snapshot_max_bytes,
            )
        except ValueError as exc:
            camera.report_error(f"snapshot: {exc}")
        else:
            camera.device.publish_blob("snapshot", data)
        await camera.wait_changed(camera.controls.snapshot_interval)


async def stream_jpegs(camera: Camera) -> None:
    """Frames as JPEGs at `stream_fps` (QoS 0, not retained) for remote readers."""
    cfg = camera.config
    if cfg.stream_fps <= 0:
        return
    topic = camera.node.topics.blob(camera.node.id, camera.id, JPEG_BLOB)
    period = 1.0 / cfg.stream_fps
    seq = 0
    while True:
        started = time.monotonic()
        frame = await camera.latest.newer_than(seq)
        seq = frame.seq
        if camera.node.bus.connected.is_set():
            data = await asyncio.to_thread(
                bounded_jpeg, frame.pixels, width=cfg.stream_width, max_bytes=cfg.snapshot_max_bytes
            )
            camera.node.bus.publish_nowait(topic, data, qos=0)
        await asyncio.sleep(max(0.0, period - (time.monotonic() - started)))
