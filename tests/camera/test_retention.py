"""The deleter: by age, by archive size and by free-space floor; oldest first; never a file
being written."""

from __future__ import annotations

import os
import time
from pathlib import Path

from roost.bus import Bus
from roost.settings import RoostSettings
from roost.testing import Watcher
from roost_camera.deleter import MB, Deleter, DiskUsage
from roost_camera.files import OpenFiles
from roost_camera.settings import StorageConfig

from .running import camera_settings, running_camera, small_camera

NOW = 1_800_000_000.0
HOUR = 3600.0


def make_file(root: Path, name: str, age_hours: float, size: int = 1000) -> Path:
    path = root / "front" / "2027-01-15" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    stamp = NOW - age_hours * HOUR
    os.utime(path, (stamp, stamp))
    return path


def test_age_deletes_old_files_but_not_one_being_written(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    old = make_file(archive, "a.mp4", 200)
    older_open = make_file(archive, "b.mp4", 300)
    part = make_file(archive, "c.mp4.part", 400)
    young = make_file(archive, "d.jpg", 1)
    not_ours = make_file(archive, "notes.txt", 500)
    open_files = OpenFiles()
    open_files.add(older_open)
    deleter = Deleter([archive], StorageConfig(max_age_hours=168, min_free_mb=0), open_files)
    deleted = deleter.sweep(NOW)
    assert [(d.path, d.reason) for d in deleted] == [(old, "age")]
    assert not old.exists()
    assert older_open.exists() and part.exists() and young.exists() and not_ours.exists()


def test_free_space_floor_deletes_oldest_first_until_the_floor_is_met(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    files = [make_file(archive, f"{i}.mp4", 10 - i, size=MB) for i in range(6)]  # 0 is oldest
    writing = files[1]
    open_files = OpenFiles()
    open_files.add(writing)
    freed: list[int] = []

    def probe(path: Path) -> DiskUsage:
        # A disk with 2.5 MB free below a 5 MB floor: 2.5 MB must go.
        return DiskUsage(total=100 * MB, used=97 * MB, free=int(2.5 * MB))

    config = StorageConfig(max_age_hours=None, min_free_mb=5)
    deleted = Deleter([archive], config, open_files, probe=probe).sweep(NOW)
    freed = [d.size for d in deleted]
    assert [d.path for d in deleted] == [files[0], files[2], files[3]]
    assert {d.reason for d in deleted} == {"free_space"}
    assert sum(freed) >= 2.5 * MB
    assert writing.exists() and files[4].exists() and files[5].exists()


def test_archive_quota(tmp_path: Path) -> None:
    archive, spool = tmp_path / "archive", tmp_path / "spool"
    files = [make_file(archive, f"{i}.jpg", 10 - i, size=MB) for i in range(4)]
    in_spool = make_file(spool, "s.jpg", 20, size=MB)
    config = StorageConfig(max_age_hours=None, min_free_mb=0, max_archive_mb=2)
    deleted = Deleter([spool, archive], config, OpenFiles(), archive=archive).sweep(NOW)
    assert [d.path for d in deleted] == files[:2]
    assert in_spool.exists()  # the quota is the archive's


def test_real_disk_usage_is_used_by_default(tmp_path: Path) -> None:
    make_file(tmp_path, "a.jpg", 1)
    # A floor far below what any disk has free: nothing to delete.
    assert Deleter([tmp_path], StorageConfig(min_free_mb=0.001), OpenFiles()).sweep() == []


async def test_service_reports_deletions_and_usage(
    roost_settings: RoostSettings, bus: Bus, tmp_path: Path
) -> None:
    settings = camera_settings(
        roost_settings, tmp_path, {"front": small_camera()},
        storage={"max_age_hours": 1, "check_interval": 0.2, "min_free_mb": 0},
    )  # fmt: skip
    stale = make_file(settings.archive_dir(), "front-old.jpg", 0)
    hour_ago = time.time() - 2 * HOUR
    os.utime(stale, (hour_ago, hour_ago))
    t = roost_settings.mqtt.topics()
    async with Watcher(bus, f"{t.prefix}/camera/storage/#") as seen, running_camera(settings):
        event = await seen.wait_json(
            t.event("camera", "storage"), lambda e: e["event_type"] == "deleted"
        )
        assert event["data"]["reason"] == "age"
        assert event["data"]["file"] == "front/2027-01-15/front-old.jpg"
        state = await seen.wait_json(t.state("camera", "storage"), lambda s: s["deleted"] == 1)
        assert state["disk_free_mb"] > 0 and state["disk_free_percent"] > 0
    assert not stale.exists()
