"""Camera figures: frames/s through the shared-memory ring with one and two readers (ratio
to a plain memory copy of the same frame), and the camera service's CPU and RSS at
640×480 × 10 fps with snapshots, JPEGs and h264 recording on (ratio to the same camera
with every writer off).

Run: .venv/bin/pytest --perf tests/perf/test_camera.py -s
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pytest

from roost.shmring import ShmRing, ShmRingReader, ring_path
from roost.testing.broker import Broker

pytestmark = pytest.mark.perf
RING_SECONDS = 3.0
SERVICE_WARMUP = 6.0
SERVICE_SECONDS = 20.0
FRAME = (480, 640, 3)


def _read(path: str, ring_id: str, ready: Any, stop: Any, out: Any) -> None:
    """A reader that takes the newest frame whenever there is one (polling every 0.5 ms)."""
    reader = ShmRingReader(Path(path), ring_id=ring_id)
    reads = 0
    ready.put(True)
    while not stop.is_set():
        record = reader.read_newest()
        if record is None:
            time.sleep(0.0005)
            continue
        reads += 1
        np.frombuffer(record.data, np.uint8).reshape(FRAME)  # what a detector does next
    out.put({"reads": reads, "skipped": reader.skipped, "torn": reader.torn})
    reader.close()


def ring_run(readers: int, fps: float | None) -> dict[str, float]:
    """Write frames at `fps` (None: flat out) for RING_SECONDS with `readers` readers."""
    frame = np.random.default_rng(1).integers(0, 256, FRAME, np.uint8)
    path = ring_path(f"roost-perf-{os.getpid()}")
    ctx = multiprocessing.get_context("spawn")
    ready, out, stop = ctx.Queue(), ctx.Queue(), ctx.Event()
    with ShmRing.create(path, slots=4, slot_bytes=frame.nbytes) as ring:
        procs = [
            ctx.Process(target=_read, args=(str(path), ring.ring_id, ready, stop, out))
            for _ in range(readers)
        ]
        for proc in procs:
            proc.start()
        for _ in procs:
            ready.get(timeout=60)  # every reader is polling before the clock starts
        writes = 0
        start = time.monotonic()
        end = start + RING_SECONDS
        while (now := time.monotonic()) < end:
            if fps is not None and now < start + writes / fps:
                time.sleep(min(0.001, start + writes / fps - now))
                continue
            ring.write(frame.data, width=640, height=480, channels=3, fmt="bgr24")
            writes += 1
        elapsed = time.monotonic() - start
        stop.set()
        results = [out.get(timeout=30) for _ in procs]
        for proc in procs:
            proc.join(30)
    figures: dict[str, float] = {"writes_per_s": writes / elapsed}
    for i, result in enumerate(results, 1):
        figures[f"reader{i}_frames_per_s"] = result["reads"] / elapsed
        figures[f"reader{i}_delivered_fraction"] = round(result["reads"] / (writes or 1), 3)
        figures[f"reader{i}_skipped"] = result["skipped"]
        figures[f"reader{i}_torn"] = result["torn"]
    return figures


def memcpy_rate() -> float:
    frame = np.random.default_rng(1).integers(0, 256, FRAME, np.uint8)
    target = bytearray(frame.nbytes)
    copies = 0
    end = time.monotonic() + RING_SECONDS
    while time.monotonic() < end:
        target[:] = frame.data.cast("B")
        copies += 1
    return copies / RING_SECONDS


def test_ring_throughput() -> None:
    baseline = memcpy_rate()
    alone = ring_run(0, None)
    figures = {
        "benchmark": "shm_ring_640x480_bgr24",
        "baseline_memcpy_per_s": baseline,
        "writer_alone_per_s": alone["writes_per_s"],
        "writer_alone_ratio": alone["writes_per_s"] / baseline,
    }
    for fps in (30, 120):
        for readers in (1, 2):
            figures[f"{readers}_readers_at_{fps}_fps"] = ring_run(readers, fps)
    figures["2_readers_flat_out"] = ring_run(2, None)
    print(json.dumps(figures, indent=1))
    assert figures["1_readers_at_30_fps"]["reader1_frames_per_s"] > 10


def run_camera(broker: Broker, workdir: Path, writers: bool) -> dict[str, float]:
    workdir.mkdir(parents=True)
    config = workdir / "roost.toml"
    config.write_text(
        f'[node]\ndata_dir = "{workdir / "data"}"\n'
        "[camera.cameras.demo]\nfps = 10\n"
        + (
            "snapshot_interval = 5\njpeg_interval = 4\nrecording = true\nsegment_seconds = 10\n"
            if writers
            else "snapshot_interval = 3600\njpeg_interval = 0\nrecording = false\n"
        )
    )
    env = {
        **os.environ,
        "ROOST_CONFIG": str(config),
        "ROOST_MQTT__PORT": str(broker.port),
        "ROOST_MQTT__PREFIX": f"perf{int(writers)}",
        "ROOST_MQTT__DISCOVERY": "false",
        "ROOST_CAMERA__SHM_DIR": str(workdir),
    }
    binary = shutil.which("roost-camera") or str(Path(os.sys.executable).parent / "roost-camera")
    proc = subprocess.Popen([binary], env=env, stderr=subprocess.DEVNULL)
    try:
        service = psutil.Process(proc.pid)
        time.sleep(SERVICE_WARMUP)  # a benchmark's measuring window, not a synchronisation

        def cpu_seconds() -> tuple[float, float]:
            own = service.cpu_times()
            # ffmpeg processes that ended (reaped) plus the ones running now.
            children = (
                own.children_user
                + own.children_system
                + sum(
                    c.cpu_times().user + c.cpu_times().system
                    for c in service.children(recursive=True)
                )
            )
            return own.user + own.system, children

        ring = ShmRingReader(workdir / "roost-camera-demo")

        own_before, kids_before = cpu_seconds()
        seq_before = ring.latest()
        rss_peak = 0
        start = time.monotonic()
        while time.monotonic() - start < SERVICE_SECONDS:
            rss_peak = max(rss_peak, service.memory_info().rss)
            time.sleep(0.5)
        own_after, kids_after = cpu_seconds()
        elapsed = time.monotonic() - start
        frames = ring.latest() - seq_before
        ring.close()
        return {
            "frames_per_s": frames / elapsed,
            "service_cpu_percent": 100 * (own_after - own_before) / elapsed,
            "ffmpeg_cpu_percent": 100 * (kids_after - kids_before) / elapsed,
            "rss_mb": rss_peak / 1e6,
        }
    finally:
        proc.terminate()
        proc.wait(10)


def test_camera_service_cost(mosquitto: Broker, tmp_path: Path) -> None:
    baseline = run_camera(mosquitto, tmp_path / "capture-only", writers=False)
    full = run_camera(mosquitto, tmp_path / "all-writers", writers=True)
    total = full["service_cpu_percent"] + full["ffmpeg_cpu_percent"]
    print(json.dumps({
        "benchmark": "camera_640x480_10fps",
        "baseline_capture_only": baseline,
        "snapshots_jpeg_h264": full,
        "total_cpu_percent_of_one_core": total,
        "service_cpu_ratio": full["service_cpu_percent"] / baseline["service_cpu_percent"],
        "rss_ratio": full["rss_mb"] / baseline["rss_mb"],
    }, indent=1))  # fmt: skip
    assert full["ffmpeg_cpu_percent"] > 0  # h264 really ran
