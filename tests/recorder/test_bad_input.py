"""Bad input is counted, logged and told on the recorder's error topic; ingest goes on."""

from __future__ import annotations

import json
import logging

import pytest

from roost.bus import Bus
from roost.settings import RoostSettings
from roost.testing import Watcher

from .conftest import RecorderWatch, count, recorder_settings, running, samples_of


async def test_bad_payloads_are_reported_and_the_rest_recorded(
    roost_settings: RoostSettings, bus: Bus, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="roost.recorder.input")
    settings = recorder_settings(roost_settings, max_payload=1024)
    t = bus.topics
    state = t.state("probe", "tank")
    errors = Watcher(bus, t.error("recorder", "database"))
    async with running(settings), RecorderWatch(bus) as watch, errors:
        await bus.publish(
            t.meta("probe", "tank"),
            {"name": "Tank", "properties": {"level": {"kind": "number"}}},
            retain=True,
        )
        bad = [
            (state, b"not json", "invalid_json"),
            (state, b'{"level": NaN}', "invalid_json"),
            (state, b"[1, 2, 3]", "invalid_value"),
            (state, b'{"level": 1.0, "pad": "' + b"x" * 2000 + b'"}', "payload_too_large"),
            (state, b"\xff\xfe not utf-8", "invalid_json"),
            (t.event("probe", "tank"), b'{"phase": "start"}', "invalid_value"),
        ]
        for topic, payload, _ in bad:
            await bus.publish(topic, payload)
        # Partly bad: the good values are kept, the rest reported.
        await bus.publish(state, {"level": 2.0, "colour": "red", "ts": "yesterday"})
        await bus.publish(state, {"level": 3.0})
        await watch.until_stored(lambda: samples_of(settings, "probe/tank", "level") == 2)

        # Every one is counted; each kind of problem per topic is told once a minute.
        told = [await errors.wait_json(errors.filter, timeout=5, since=n) for n in range(5)]
        assert sorted(e["code"] for e in told) == [
            "invalid_json",
            "invalid_value",
            "invalid_value",
            "payload_too_large",
            "unknown_property",
        ]
        assert all("probe/tank/" in e["message"] for e in told)
        status = await watch.until(lambda s: s["errors"] >= 8)
        assert status["errors"] == 8
        assert "probe/tank/state" in status["last_error"]

    # Recorded anyway: the unknown property (lossless), with the time it arrived.
    assert samples_of(settings, "probe/tank", "colour", table="changes") == 1
    logged = [r.getMessage() for r in caplog.records if r.name == "roost.recorder.input"]
    assert any("invalid_json" in line for line in logged)
    assert any("unknown_property" in line and "colour" in line for line in logged)


async def test_a_flood_of_bad_input_is_told_once(
    roost_settings: RoostSettings, bus: Bus, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="roost.recorder.input")
    settings = recorder_settings(roost_settings)
    state = bus.topics.state("probe", "tank")
    async with running(settings), RecorderWatch(bus) as watch:
        for _ in range(200):
            bus.publish_nowait(state, b"garbage")
        bus.publish_nowait(state, b'{"level": 1}')
        await bus.flush(5)
        await watch.until_stored(lambda: samples_of(settings, "probe/tank", "level") == 1)
        status = await watch.until(lambda s: s["errors"] >= 200)
        assert status["errors"] == 200
    lines = [r for r in caplog.records if r.name == "roost.recorder.input"]
    assert len(lines) == 1


async def test_a_time_out_of_range_is_a_reject_not_the_end_of_ingest(
    roost_settings: RoostSettings, bus: Bus
) -> None:
    """A `ts` no datetime or SQLite integer can hold once stopped the recorder for good:
    the batch never committed, so the message came back after every restart."""
    settings = recorder_settings(roost_settings)
    t = bus.topics
    state = t.state("probe", "tank")
    errors = Watcher(bus, t.error("recorder", "database"))
    hostile: list[object] = [1e16, 1e300, -1e17, 10**30, -(10**400), "NaN", "+275760-09-13"]
    async with running(settings), RecorderWatch(bus) as watch, errors:
        for n, ts in enumerate(hostile):
            await bus.publish(state, f'{{"level": {n}, "ts": {json.dumps(ts)}}}')
        await bus.publish(state, b'{"level": 1e308, "huge": 1%s}' % (b"0" * 400))
        await bus.publish(state, {"level": 100.0, "ts": "2026-01-02T03:04:05.678Z"})
        await watch.until_stored(lambda: samples_of(settings, "probe/tank", "level") == 9)
        status = await watch.until(lambda s: s["errors"] >= len(hostile) + 1)
        assert status["errors"] == len(hostile) + 1
        assert "huge is not a finite number" in status["last_error"]
        told = await errors.wait_json(errors.filter, timeout=5)
        assert told["code"] == "invalid_value"
        assert "ts: 1e+16 is out of range" in told["message"]
    # Each bad time was replaced by the time it arrived; the good one is kept as sent.
    assert count(settings, "SELECT count(*) FROM samples WHERE ts = 1767323045678") == 1


async def test_a_node_cannot_explode_the_series_table(
    roost_settings: RoostSettings, bus: Bus
) -> None:
    """A node that publishes ever new property names (or device ids) made a series each,
    without end: past `max_series_per_node` they are refused and told, other nodes and
    the node's known series go on."""
    settings = recorder_settings(roost_settings, max_series_per_node=20)
    t = bus.topics
    errors = Watcher(bus, t.error("recorder", "database"))
    async with running(settings), RecorderWatch(bus) as watch, errors:
        for n in range(10):  # 10 devices of 3 properties: 30 series asked for
            state = {f"p{k}": float(n * 3 + k) for k in range(3)}
            await bus.publish(t.state("spray", f"d{n}"), state)
        await bus.publish(t.event("spray", "d0"), {"event_type": "x", "id": "1", "ts": 1.0})
        await bus.publish(t.state("spray", "d0"), {"p0": 99.0})  # a known series goes on
        await bus.publish(t.state("calm", "tank"), {"level": 1.0})  # another node is not hit
        await watch.until_stored(lambda: samples_of(settings, "calm/tank", "level") == 1)
        await watch.until_stored(lambda: samples_of(settings, "spray/d0", "p0") == 2)
        told = await errors.wait_json(errors.filter, lambda e: e["code"] == "limit_reached")
        assert "max_series_per_node" in told["message"]
        status = await watch.until(lambda s: s["errors"] >= 11)
        assert status["errors"] == 11  # 10 refused properties and the refused events
    spray = count(
        settings,
        "SELECT count(*) FROM series AS s JOIN devices AS d ON d.id = s.device_id "
        "WHERE d.node = 'spray'",
    )
    assert spray == 20
    assert count(settings, "SELECT count(*) FROM events") == 0
