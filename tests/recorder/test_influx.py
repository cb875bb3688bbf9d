"""The InfluxDB sink against a real VictoriaMetrics (InfluxDB v2 write endpoint)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from roost.bus import Bus
from roost.clock import iso
from roost.settings import RoostSettings

from .conftest import RecorderWatch, probes_stored, recorder_settings, running
from .victoria import VictoriaMetrics, points


@pytest.fixture
def victoria(tmp_path: Path) -> Iterator[VictoriaMetrics]:
    server = VictoriaMetrics(tmp_path / "vm")
    yield server
    server.stop()


def _sink(vm: VictoriaMetrics, **more: Any) -> dict[str, Any]:
    return {"url": vm.url, "retry_max": 0.2, "flush_interval": 0.05, **more}


BASE = time.time() - 60


def _publish(bus: Bus, first: int, last: int, devices: int = 2) -> None:
    """States with their own times, a millisecond apart (InfluxDB keeps one point per
    series and time)."""
    for n in range(first, last):
        ts = iso(datetime.fromtimestamp(BASE + n / 1000, UTC))
        state = {"count": n, "on": n % 10 == 0, "ts": ts}
        bus.publish_nowait(bus.topics.state("sim", f"probe-{n % devices}"), state)


def _counts(series: list[dict[str, Any]], devices: int = 2) -> list[float]:
    """Every `count` value that arrived, sorted."""
    values: list[float] = []
    for d in range(devices):
        found = points(series, "roost_value", node="sim", device=f"probe-{d}", property="count")
        values.extend(found.values())
    return sorted(values)


async def test_points_reach_victoria_metrics(
    roost_settings: RoostSettings, bus: Bus, victoria: VictoriaMetrics
) -> None:
    victoria.start()
    settings = recorder_settings(roost_settings, influxdb=_sink(victoria))
    async with running(settings), RecorderWatch(bus) as watch:
        _publish(bus, 0, 200)
        bus.publish_nowait(
            bus.topics.event("sim", "probe-0"), {"event_type": "low", "id": "e1", "ts": iso()}
        )
        await bus.flush(5)
        await watch.until_stored(lambda: probes_stored(settings, 2) == 200)
        await watch.until(lambda s: s["sink_backlog"] == 0 and s["sink"] == "ok")
        series = await victoria.until(lambda s: len(_counts(s)) == 200)
    assert _counts(series) == [float(n) for n in range(200)]
    switches = points(series, "roost_value", node="sim", device="probe-0", property="on")
    assert set(switches.values()) <= {0.0, 1.0} and switches


async def test_an_outage_is_bridged_by_the_backlog_on_disk(
    roost_settings: RoostSettings, bus: Bus, victoria: VictoriaMetrics
) -> None:
    # The server is down from the start; the recorder even restarts during the outage.
    settings = recorder_settings(roost_settings, influxdb=_sink(victoria))
    async with running(settings), RecorderWatch(bus) as watch:
        _publish(bus, 0, 300)
        await bus.flush(5)
        await watch.until(lambda s: s["sink"] == "retrying" and s["sink_backlog"] >= 300)
    async with running(settings), RecorderWatch(bus) as watch:
        await watch.until(lambda s: s["sink_backlog"] >= 300)
        _publish(bus, 300, 500)
        await bus.flush(5)
        await watch.until_stored(lambda: probes_stored(settings, 2) == 500)
        victoria.start()
        await watch.until(lambda s: s["sink"] == "ok" and s["sink_backlog"] == 0, timeout=20)
        series = await victoria.until(lambda s: len(_counts(s)) == 500)
    assert _counts(series) == [float(n) for n in range(500)]


async def test_the_backlog_is_bounded(
    roost_settings: RoostSettings, bus: Bus, tmp_path: Path
) -> None:
    nowhere = VictoriaMetrics(tmp_path / "never-started")
    settings = recorder_settings(roost_settings, influxdb=_sink(nowhere, max_backlog_mb=0.01))
    async with running(settings), RecorderWatch(bus) as watch:
        _publish(bus, 0, 2000)
        await bus.flush(5)
        await watch.until_stored(lambda: probes_stored(settings, 2) == 2000)
        state = await watch.until(lambda s: s["sink_dropped"] > 0)
        assert state["sink_backlog"] < 2000
