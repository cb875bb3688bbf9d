"""The host device: real readings of this machine, discovery, and disk_low events."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from roost_supervisor.host import uptime
from roost_supervisor.settings import HostSection, Settings

from .conftest import supervising


async def test_host_device_reports_disk_memory_and_load(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings({}, host=HostSection(interval=0.2, disks={"tmp": tmp_path}))
    async with supervising(settings) as h:
        state = await h.state("host", lambda s: s.get("disk_tmp_free") is not None)
        usage = shutil.disk_usage(tmp_path)
        # Other processes share this disk: allow for what they wrote meanwhile.
        assert abs(state["disk_tmp_free"] - usage.free) < 500e6
        assert 0 <= state["disk_tmp_used"] <= 100
        assert state["disk_tmp_low"] is False
        assert 0 < state["memory_used"] < 100
        assert state["memory_available"] > 0
        assert state["load_1"] >= 0
        assert state["uptime"] > 0
        meta = await h.watcher.wait_json(h.bus.topics.meta(h.node, "host"))
        assert meta["properties"]["disk_tmp_free"]["unit"] == "B"
        assert ("temperature" in meta["properties"]) == bool(psutil.sensors_temperatures())
        config_topic = h.bus.topics.discovery("sensor", h.node, "host_disk_tmp_free")
        async with h.bus_watch(f"{h.bus.topics.discovery_prefix}/#") as disc:
            config = await disc.wait_json(config_topic)
        assert config["device_class"] == "data_size"


async def test_disk_low_event_starts_and_ends(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    # A threshold above the disk's size makes it "low" at once; the event says so.
    huge = shutil.disk_usage(tmp_path).total * 2
    section = HostSection(interval=0.2, disks={"tmp": tmp_path}, disk_low_bytes=huge)
    async with supervising(make_settings({}, host=section)) as h:
        event_topic = h.bus.topics.event(h.node, "host")
        event = await h.watcher.wait_json(event_topic, lambda e: e["event_type"] == "disk_low")
        assert event["phase"] == "start"
        assert event["data"]["disk"] == "tmp"
        assert event["data"]["free"] < huge
        state = await h.state("host", lambda s: s.get("disk_tmp_low") is True)
        assert state["disk_tmp_free"] is not None
        # Lower the threshold: the low-disk event ends.
        h.supervisor.host.section = HostSection(interval=0.2, disks={"tmp": tmp_path})
        end = await h.watcher.wait_json(event_topic, lambda e: e.get("phase") == "end")
        assert end["id"] == event["id"]


def test_uptime_does_not_follow_the_wall_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """A clock set back to before the boot (as under a fake clock) left uptime negative."""
    booted = psutil.boot_time()
    monkeypatch.setattr(time, "time", lambda: booted - 3600)
    assert uptime() > 0
