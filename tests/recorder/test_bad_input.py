"""Bad input is counted, logged and told on the recorder's error topic; ingest goes on."""

from __future__ import annotations

import logging

import pytest

from roost.bus import Bus
from roost.settings import RoostSettings
from roost.testing import Watcher

from .conftest import RecorderWatch, recorder_settings, running, samples_of


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
