"""Runaway scripts, broken scripts, hot reload and a full event buffer."""

from __future__ import annotations

import asyncio
import contextlib
import math
from pathlib import Path

import psutil

from roost.bus import Bus
from roost.node import Node
from roost.testing import Watcher
from roost.testing.broker import MosquittoBroker
from roost.testing.plugin import settings_for
from roost_event_engine.engine import Engine
from roost_event_engine.settings import EngineSection, Settings

from .conftest import FAN, SENSOR, StartEngine

RUNAWAY = """
function level_onchange(ev) { if (ev.value === 66) { while (true) {} } home.log("lamp", ev.value); }
"""
STEADY = "function temperature_onchange(ev) { home.log('sensor', ev.value); }"


async def test_a_runaway_script_is_killed_and_others_keep_flowing(
    lab: Node, start_engine: StartEngine
) -> None:
    run = await start_engine(
        {"devices/lamp.js": RUNAWAY, "devices/sensor.js": STEADY}, time_limit=0.5, workers=2
    )
    pids = {w.pid for w in run.engine.pool.live()}
    topic = run.node.topics
    async with run.watcher("engine/#") as engine:
        lab.devices["lamp"].update(level=66)
        # While one worker spins, the other serves the sensor, in order.
        for value in (1.0, 2.0, 3.0):
            lab.devices["sensor"].update(temperature=value)
            await lab.bus.flush()
        for value in (1.0, 2.0, 3.0):
            await run.entry(lambda e, v=value: e.trigger.get("changes") == {"temperature": v})
        event = await engine.wait_json(
            topic.event(run.id, "engine"), lambda e: e["event_type"] == "script_error"
        )
        error = await engine.wait_json(topic.error(run.id, "engine"))
    assert event["data"]["script"] == "devices/lamp.js"
    assert event["data"]["function"] == "level_onchange"
    assert "ran longer than 0.5 s" in event["data"]["message"]
    assert error["code"] == "timeout"
    killed = await run.entry(lambda e: e.trigger.get("changes") == {"level": 66})
    assert killed.error is not None and "ran longer" in killed.error
    # The worker that ran it is gone; its slot has a fresh one, which serves the lamp.
    lab.devices["lamp"].update(level=7)
    await run.entry(lambda e: e.trigger.get("changes") == {"level": 7}, timeout=10)
    assert run.engine.pool.restarts == 1
    now = {(await run.engine.pool.worker(slot)).pid for slot in (0, 1)}
    assert len(now) == 2 and len(pids - now) == 1
    gone = (pids - now).pop()
    assert gone is not None and not psutil.pid_exists(gone)


async def test_a_script_that_does_not_compile_is_reported_and_the_old_one_runs(
    lab: Node, start_engine: StartEngine
) -> None:
    run = await start_engine({"devices/sensor.js": STEADY})
    async with run.watcher("engine/event") as events:
        run.write("devices/sensor.js", "function temperature_onchange(ev) { home.log('oops' }")
        event = await events.wait_json(
            run.node.topics.event(run.id, "engine"), lambda e: e["event_type"] == "script_error"
        )
    assert event["data"]["script"] == "devices/sensor.js"
    assert "SyntaxError" in event["data"]["message"]
    assert "the previous version keeps running" in event["data"]["message"]
    status = run.engine.status["devices/sensor.js"]
    assert status.state == "error" and "SyntaxError" in (status.error or "")
    lab.devices["sensor"].update(temperature=30.0)
    entry = await run.entry(lambda e: e.trigger.get("changes") == {"temperature": 30.0})
    assert entry.logs == ["devices/sensor.js:temperature_onchange: sensor 30"]
    # A new script that never compiled is not loaded at all.
    async with run.watcher("engine/event") as events:
        run.write("devices/lamp.js", "function (")
        event = await events.wait_json(
            run.node.topics.event(run.id, "engine"), lambda e: e["event_type"] == "script_error"
        )
    assert "not loaded" in event["data"]["message"]
    assert "devices/lamp.js" not in run.engine.good


async def test_a_script_failing_at_its_top_level_keeps_the_previous_version(
    lab: Node, start_engine: StartEngine
) -> None:
    run = await start_engine({"devices/sensor.js": STEADY}, time_limit=0.5)
    async with run.watcher("engine/event") as events:
        run.write("devices/sensor.js", "while (true) {}")
        event = await events.wait_json(
            run.node.topics.event(run.id, "engine"), lambda e: e["event_type"] == "script_error"
        )
    assert "ran longer than 0.5 s while loading" in event["data"]["message"]
    lab.devices["sensor"].update(temperature=31.0)
    entry = await run.entry(lambda e: e.trigger.get("changes") == {"temperature": 31.0})
    assert entry.logs == ["devices/sensor.js:temperature_onchange: sensor 31"]


async def test_hot_reload_changes_and_removes_scripts(lab: Node, start_engine: StartEngine) -> None:
    run = await start_engine({"devices/sensor.js": STEADY})
    lab.devices["sensor"].update(temperature=1.0)
    await run.entry(lambda e: e.logs == ["devices/sensor.js:temperature_onchange: sensor 1"])
    run.write(
        "devices/sensor.js",
        "function onstart() { home.log('v2'); }\n"
        "function temperature_onchange(ev) { home.log('v2 sees', ev.value); }",
    )
    await run.entry(lambda e: e.logs == ["devices/sensor.js:onstart: v2"])
    lab.devices["sensor"].update(temperature=2.0)
    await run.entry(lambda e: e.logs == ["devices/sensor.js:temperature_onchange: v2 sees 2"])
    (run.scripts / "devices/sensor.js").unlink()
    run.write("devices/lamp.js", "function onstart() { home.log('lamp script'); }")
    await run.entry(lambda e: e.logs == ["devices/lamp.js:onstart: lamp script"])
    assert "devices/sensor.js" not in run.engine.good


async def test_a_full_buffer_drops_and_counts(lab: Node, start_engine: StartEngine) -> None:
    slow = """
    function temperature_onchange(ev) {
      var until = Date.now() + 100; while (Date.now() < until) {}
    }
    """
    run = await start_engine({"devices/sensor.js": slow}, queue_size=2, workers=1)
    for value in range(1, 11):
        lab.devices["sensor"].update(temperature=float(value))
        await lab.bus.flush()
    async with run.watcher("engine/state") as state:
        await state.wait_json(
            run.node.topics.state(run.id, "engine"), lambda s: s["dropped"] > 0, timeout=10
        )
    assert run.engine.ring.dropped > 0
    assert len(run.engine.ring) <= 2
    processed = [e for e in run.engine.runlog.entries() if "temperature" in e.trigger["changes"]]
    assert len(processed) + run.engine.ring.dropped + len(run.engine.ring) == 10


async def test_the_engine_keeps_working_across_a_broker_restart(
    own_mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    settings = settings_for(own_mosquitto, tmp_path)
    lab = Node(settings, service="test", node_id="lab")
    sensor = lab.add_device("sensor", SENSOR)
    sensor.update(temperature=20.0)
    lab.add_device("fan", FAN).update(duty=0)
    engine_settings = Settings(
        mqtt=settings.mqtt,
        node=settings.node,
        event_engine=EngineSection(
            scripts_dir=tmp_path / "scripts", devices={}, workers=1, reload_interval=0.05
        ),
    )
    (tmp_path / "scripts" / "devices").mkdir(parents=True)
    (tmp_path / "scripts" / "devices" / "sensor.js").write_text(
        "function temperature_onchange(ev) { home.set('lab/fan', {duty: ev.value}); }"
    )
    node = Node(engine_settings, service="event-engine", persistent_session=True)
    engine = Engine(engine_settings, node)
    await engine.attach()
    async with lab, node:
        task = asyncio.create_task(engine.run())
        try:
            await asyncio.wait_for(engine.ready.wait(), 20)
            fan = lab.devices["fan"]
            sensor.update(temperature=30.0)
            await engine.runlog.wait_for(lambda e: e.trigger.get("changes") == {"temperature": 30})
            own_mosquitto.restart()  # retained state is gone: owners publish it again
            topics = settings.mqtt.topics()
            async with (
                Bus(settings.mqtt, reconnect=False) as bus,
                Watcher(bus, topics.any_node("availability")) as up,
            ):
                # `online` comes last in a node's connect sequence, after its subscriptions.
                for node_id in ("lab", node.id):
                    await up.wait_for(
                        lambda m: m.payload == b"online",
                        topic=topics.node_availability(node_id),
                        timeout=30,
                    )
            sensor.update(temperature=35.0)
            entry = await engine.runlog.wait_for(
                lambda e: e.trigger.get("changes") == {"temperature": 35}, timeout=20
            )
            assert entry.sent == [{"set": "lab/fan", "values": {"duty": 35}}]
            fan_state = topics.state("lab", "fan")
            async with (
                Bus(settings.mqtt, reconnect=False) as bus,
                Watcher(bus, fan_state) as seen,
            ):
                await seen.wait_json(fan_state, lambda s: s["duty"] == 35)
            assert fan.values["duty"] == 35
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await engine.close()


async def test_a_number_beyond_float_range_does_not_kill_the_workers(
    lab: Node, start_engine: StartEngine, bus: Bus
) -> None:
    """A peer's `1e999` reads as infinity; handed to a worker as `Infinity` (not JSON) it
    made JSON.parse throw in the VM and the worker die, on every update, for every script."""
    run = await start_engine({"devices/sensor.js": STEADY}, workers=1)
    state = lab.topics.state("lab", "sensor")
    await bus.publish(state, b'{"temperature": 1e999, "ts": "2026-01-01T00:00:00.000Z"}')
    await bus.publish(state, b'{"temperature": -1e999, "ts": "2026-01-01T00:00:01.000Z"}')
    entry = await run.entry(lambda e: e.trigger.get("changes") == {"temperature": -math.inf})
    assert entry.error is None and entry.logs == [
        "devices/sensor.js:temperature_onchange: sensor null"
    ]
    lab.devices["sensor"].update(temperature=21.5)
    await run.entry(lambda e: e.trigger.get("changes") == {"temperature": 21.5})
    assert run.engine.pool.restarts == 0


async def test_a_property_named_proto_does_not_kill_the_workers(
    lab: Node, start_engine: StartEngine, bus: Bus
) -> None:
    """A state holding `__proto__` reached Object.prototype in the worker's copy of the
    devices ("TypeError: not a function"), and the worker died on every update."""
    run = await start_engine({"devices/sensor.js": STEADY}, workers=1)
    state = lab.topics.state("lab", "sensor")
    await bus.publish(state, b'{"temperature": 5, "__proto__": 1, "constructor": 2}')
    first = await run.entry(lambda e: e.trigger.get("changes", {}).get("temperature") == 5)
    assert first.error is None and first.logs == [
        "devices/sensor.js:temperature_onchange: sensor 5"
    ]
    lab.devices["sensor"].update(temperature=21.5)
    await run.entry(lambda e: e.trigger.get("changes") == {"temperature": 21.5})
    assert run.engine.pool.restarts == 0
