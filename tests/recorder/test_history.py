"""Record a device's states and events from the real broker, then ask `history`."""

from __future__ import annotations

import time
from typing import Any

import pytest

from roost.bus import Bus
from roost.clock import parse_iso
from roost.node import Node
from roost.settings import RoostSettings
from roost.testing import Watcher

from .conftest import SENSOR, RecorderWatch, count, recorder_settings, running, samples_of

NOW = time.time()


def _at(seconds_ago: float) -> str:
    from datetime import UTC, datetime

    moment = datetime.fromtimestamp(NOW - seconds_ago, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


async def _ask(bus: Bus, **params: Any) -> Any:
    response = await bus.request("recorder", "history", params)
    assert response.ok, response.error
    return response.data


async def _refused(bus: Bus, method: str = "history", **params: Any) -> tuple[str, str]:
    response = await bus.request("recorder", method, params)
    assert not response.ok and response.error is not None
    return response.error.code, response.error.message


async def test_records_states_and_answers_raw_history(
    roost_settings: RoostSettings, bus: Bus
) -> None:
    settings = recorder_settings(roost_settings)
    async with running(settings), RecorderWatch(bus) as watch:
        sensor_node = Node(roost_settings, service="test", node_id="greenhouse")
        sensor = sensor_node.add_device("sensor", SENSOR)
        async with sensor_node:
            await sensor_node.wait_online(5)
            for n in range(5):
                sensor.update(temperature=20 + n, humidity=50.5, fan=n % 2 == 1, mode="auto")
                await sensor_node.bus.flush(5)  # else the outbox keeps only the newest state
            sensor.emit("hot", {"temperature": 24}, phase="start")
            await watch.until_stored(
                lambda: (
                    samples_of(settings, "greenhouse/sensor", "temperature") == 5
                    and count(settings, "SELECT count(*) FROM events") == 1
                )
            )
        data = await _ask(bus, device="greenhouse/sensor", prop="temperature", **{"from": -60})
        # (Two states in one millisecond have one ts, so compare without their order.)
        values = sorted(value for _, value in data["points"])
        assert values == [20.0, 21.0, 22.0, 23.0, 24.0]
        assert all(abs(ts - time.time()) < 60 for ts, _ in data["points"])
        assert "next" not in data

        # Non-numeric values are kept as changes only: each of these differs from the one
        # before, and carries the ts of the state it came in.
        fan = await _ask(bus, device="greenhouse/sensor", prop="fan", **{"from": -60})
        # A change is kept once per (ts, value): a switch that flips back within the same
        # millisecond (False, True, False) has one row for the two Falses there.
        distinct = {(ts, value % 2 == 1) for ts, value in data["points"]}
        assert len(fan["points"]) == len(distinct)
        by_ts: dict[float, set[bool]] = {}
        for ts, value in data["points"]:
            by_ts.setdefault(ts, set()).add(value % 2 == 1)
        for ts, on in fan["points"]:
            assert on in by_ts[ts]
        mode = await _ask(bus, device="greenhouse/sensor", prop="mode", **{"from": -60})
        assert [value for _, value in mode["points"]] == ["auto"]

        series = (await bus.request("recorder", "series", {"device": "greenhouse/sensor"})).data
        assert isinstance(series, dict)
        names = {s["prop"]: s["numeric"] for s in series["series"]}
        assert names == {"temperature": True, "humidity": True, "fan": False, "mode": False}

        events = await bus.request(
            "recorder", "events", {"device": "greenhouse/sensor", "from": -60}
        )
        assert isinstance(events.data, dict)
        [event] = events.data["events"]
        assert event["event_type"] == "hot" and event["phase"] == "start"
        assert event["data"] == {"temperature": 24}


async def test_aggregates_come_from_the_right_tier(roost_settings: RoostSettings, bus: Bus) -> None:
    settings = recorder_settings(roost_settings)
    topic = bus.topics.state("probe", "tank")
    # Two samples a minute for an hour, ending ten minutes ago, in the owner's own times.
    values = {n: float(n) for n in range(120)}
    for n in range(120):
        await bus.publish(topic, {"level": float(n), "ts": _at(600 + 3600 - n * 30)}, retain=True)
    async with running(settings), RecorderWatch(bus) as watch:
        # A new session gets the retained (last) state; publishing all of them again now
        # gives that one twice, which must be stored once.
        for n in range(120):
            bus.publish_nowait(topic, {"level": float(n), "ts": _at(600 + 3600 - n * 30)})
        await bus.flush(5)
        await watch.until_stored(lambda: samples_of(settings, "probe/tank", "level") == 120)

        base = {"device": "probe/tank", "prop": "level", "from": NOW - 7200, "to": NOW}
        raw = await _ask(bus, **base)
        assert len(raw["points"]) == 120
        assert raw["points"][0][1] == 0.0 and raw["points"][-1][1] == 119.0

        for step in (60, 600, 3600, 30, 90):
            data = await _ask(bus, **base, step=step)
            points = data["points"]
            assert sum(p[5] for p in points) == 120, step
            assert min(p[1] for p in points) == 0.0 and max(p[2] for p in points) == 119.0
            for ts, low, high, mean, last, n in points:
                assert ts % step == 0
                inside = [v for v, t in _times(values).items() if ts <= t < ts + step]
                assert n == len(inside)
                assert (low, high, last) == (min(inside), max(inside), max(inside))
                assert mean == pytest.approx(sum(inside) / len(inside))

        # Paging: a cut answer says where the next page starts; pages join up exactly.
        pages, params = [], dict(base, limit=50)
        while True:
            page = await _ask(bus, **params)
            pages.extend(page["points"])
            if "next" not in page:
                break
            params["from"] = page["next"]
        assert pages == raw["points"]


def _times(values: dict[int, float]) -> dict[float, float]:
    """value → its time in Unix seconds, as published."""
    out = {}
    for n, value in values.items():
        stamp = parse_iso(_at(600 + 3600 - n * 30)).timestamp()
        out[value] = round(stamp * 1000) / 1000
    return out


async def test_bad_queries_get_clear_errors(roost_settings: RoostSettings, bus: Bus) -> None:
    settings = recorder_settings(roost_settings)
    async with running(settings), RecorderWatch(bus) as watch:
        await bus.publish(bus.topics.state("probe", "tank"), {"level": 1.5})
        await watch.until_stored(lambda: samples_of(settings, "probe/tank", "level") == 1)
        code, message = await _refused(bus, device="probe/none", prop="level", **{"from": -60})
        assert code == "unknown_device"
        code, message = await _refused(bus, device="probe/tank", prop="volume", **{"from": -60})
        assert code == "unknown_property" and "level" in message
        code, _ = await _refused(bus, device="tank", prop="level", **{"from": -60})
        assert code == "invalid_params"
        code, message = await _refused(bus, device="probe/tank", prop="level", **{"from": "soon"})
        assert code == "invalid_params" and "ISO-8601" in message
        code, message = await _refused(
            bus, device="probe/tank", prop="level", **{"from": -60, "to": -120}
        )
        assert code == "invalid_params" and "after" in message
        code, _ = await _refused(bus, device="probe/tank", prop="level", **{"from": -60, "step": 0})
        assert code == "invalid_params"
        code, _ = await _refused(bus, device="probe/tank", prop="level")
        assert code == "invalid_params"
        code, _ = await _refused(
            bus, device="probe/tank", prop="level", **{"from": -60, "colour": "red"}
        )
        assert code == "invalid_params"
        # ISO-8601 and relative durations are understood.
        data = await _ask(bus, device="probe/tank", prop="level", **{"from": "-1h"})
        assert [v for _, v in data["points"]] == [1.5]
        data = await _ask(bus, device="probe/tank", prop="level", **{"from": _at(3600)})
        assert [v for _, v in data["points"]] == [1.5]


async def test_the_recorder_device_is_discovered(roost_settings: RoostSettings, bus: Bus) -> None:
    settings = recorder_settings(roost_settings)
    t = bus.topics
    async with (
        running(settings),
        Watcher(bus, f"{t.discovery_prefix}/+/recorder/+/config") as discovery,
        RecorderWatch(bus) as watch,
    ):
        rows = await discovery.wait_json(t.discovery("sensor", "recorder", "database_rows_written"))
        assert rows["state_topic"] == t.state("recorder", "database")
        assert rows["unique_id"] == "roost_recorder_database_rows_written"
        size = await discovery.wait_json(
            t.discovery("sensor", "recorder", "database_database_size")
        )
        assert size["unit_of_measurement"] == "MB"
        recording = await discovery.wait_json(
            t.discovery("binary_sensor", "recorder", "database_recording")
        )
        assert recording["entity_category"] == "diagnostic"
        state = await watch.until(lambda s: s["recording"] is True)
        assert state["sink"] == "off" and state["database_size"] > 0


async def test_times_and_numbers_out_of_range_are_invalid_params(
    roost_settings: RoostSettings, bus: Bus
) -> None:
    """A time or step past what SQLite's integers hold used to answer `failed` with
    Python's OverflowError text."""
    settings = recorder_settings(roost_settings)
    async with running(settings), RecorderWatch(bus) as watch:
        await bus.publish(bus.topics.state("probe", "tank"), {"level": 1.5})
        await watch.until_stored(lambda: samples_of(settings, "probe/tank", "level") == 1)
        where = {"device": "probe/tank", "prop": "level"}
        for params in (
            {"from": -1e300},
            {"from": 1e300},
            {"from": 10**400},
            {"from": "-99999999999999w"},
            {"from": -60, "to": 1e17},
            {"from": -60, "step": 1e300},
        ):
            code, message = await _refused(bus, **where, **params)
            assert code == "invalid_params", (params, message)
            assert "range" in message or "less than" in message, message
        code, message = await _refused(bus, "events", device="probe/tank", **{"from": 1e300})
        assert code == "invalid_params", message
        code, message = await _refused(bus, "series", offset=10**30)
        assert code == "invalid_params", message
