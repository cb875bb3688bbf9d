"""Virtual devices: a command goes through the three steps before the state changes."""

from __future__ import annotations

from typing import Any

from roost.bus import Bus
from roost.testing import Watcher

from .conftest import StartEngine

THERMOSTAT = {
    "thermostat": {
        "name": "Thermostat",
        "properties": {
            "target": {"kind": "dial", "min": 10, "max": 30, "step": 0.5, "initial": 20},
            "heating": {"kind": "switch", "initial": False},
            "boost": {"kind": "button"},
            "note": {"kind": "text"},
        },
    }
}

SCRIPT = """
// Above 25 °C is refused; below 15 °C becomes 15 °C.
function target_ontrigger(ev) {
  if (ev.value > 25) return false;
  if (ev.value < 15) ev.value = 15;
}
function target_onchange(ev) { home.log("target", ev.previous, "->", ev.value); }
function note_ontrigger(ev) { ev.value = ev.value.toUpperCase(); }
function boost_onchange(ev) { home.set(ev.device, {heating: true}); }
"""


async def _set(bus: Bus, topic: str, values: dict[str, Any]) -> None:
    await bus.publish(topic, values)


async def test_scripts_veto_and_change_commands_before_the_state(
    bus: Bus, start_engine: StartEngine
) -> None:
    run = await start_engine({"devices/thermostat.js": SCRIPT}, devices=THERMOSTAT)
    t = run.node.topics
    state_topic = t.state(run.id, "thermostat")
    async with Watcher(bus, f"{t.prefix}/{run.id}/thermostat/#") as seen:
        await seen.wait_json(state_topic, lambda s: s["target"] == 20)  # initial value
        mark = seen.mark()
        await _set(bus, t.set(run.id, "thermostat"), {"target": 12, "id": "low"})
        state = await seen.wait_json(state_topic, lambda s: s["target"] != 20, since=mark)
        assert state["target"] == 15
        mark = seen.mark()
        await _set(bus, t.set(run.id, "thermostat"), {"target": 28, "id": "high"})
        error = await seen.wait_json(t.error(run.id, "thermostat"), since=mark)
        assert error["id"] == "high" and error["prop"] == "target"
        assert "vetoed by devices/thermostat.js:target_ontrigger" in error["message"]
        assert run.engine.virtual["thermostat"].values["target"] == 15
        # Text is changed by the script; a bare value on set/<prop> works like JSON.
        await bus.publish(t.set(run.id, "thermostat", "note"), "away")
        state = await seen.wait_json(state_topic, lambda s: s["note"] is not None, since=mark)
        assert state["note"] == "AWAY"
        # A button press runs its onchange, which commands the device itself.
        await bus.publish(t.set(run.id, "thermostat", "boost"), "press")
        await seen.wait_json(state_topic, lambda s: s["heating"] is True, since=mark)
        press = await seen.wait_json(t.event(run.id, "thermostat"), since=mark)
        assert press["event_type"] == "press"
    entry = await run.entry(lambda e: e.trigger.get("changes") == {"target": 12})
    assert entry.trigger["kind"] == "set"
    assert entry.logs == ["devices/thermostat.js:target_onchange: target 20 -> 15"]


LOCKED = "function onchange(ev) { return !home.device(ev.device).values.heating; }"


LOCKED = "function onchange(ev) { return !home.device(ev.device).values.heating; }"


async def test_a_group_stop_refuses_a_virtual_command(bus: Bus, start_engine: StartEngine) -> None:
    run = await start_engine(
        {"groups/locked.js": LOCKED},
        devices=THERMOSTAT,
        groups={"locked": {"members": ["thermostat"]}},
    )
    t = run.node.topics
    async with Watcher(bus, f"{t.prefix}/{run.id}/thermostat/#") as seen:
        await _set(bus, t.set(run.id, "thermostat"), {"heating": True, "id": "on"})
        await seen.wait_json(t.state(run.id, "thermostat"), lambda s: s["heating"] is True)
        mark = seen.mark()
        await _set(bus, t.set(run.id, "thermostat"), {"target": 22, "id": "locked"})
        error = await seen.wait_json(t.error(run.id, "thermostat"), since=mark)
        assert error["id"] == "locked"
        assert "stopped by groups/locked.js:onchange" in error["message"]
    assert run.engine.virtual["thermostat"].values["target"] == 20


async def test_virtual_devices_have_discovery(bus: Bus, start_engine: StartEngine) -> None:
    run = await start_engine(devices=THERMOSTAT)
    t = run.node.topics
    async with Watcher(bus, f"{t.discovery_prefix}/#") as disc:
        number = await disc.wait_json(t.discovery("number", run.id, "thermostat_target"))
        assert number["min"] == 10 and number["max"] == 30
        await disc.wait_json(t.discovery("switch", run.id, "thermostat_heating"))
        await disc.wait_json(t.discovery("button", run.id, "thermostat_boost"))
        await disc.wait_json(t.discovery("text", run.id, "thermostat_note"))
        engine = await disc.wait_json(t.discovery("sensor", run.id, "engine_queue"))
        assert engine["unique_id"] == f"roost_{run.id}_engine_queue"
        await disc.wait_json(t.discovery("event", run.id, "engine_alerts"))


async def test_virtual_values_survive_a_restart(bus: Bus, start_engine: StartEngine) -> None:
    run = await start_engine(devices=THERMOSTAT, node_id="engine-restart")
    t = run.node.topics
    state = t.state(run.id, "thermostat")
    async with Watcher(bus, state) as seen:
        await bus.publish(t.set(run.id, "thermostat"), {"target": 22.5})
        await seen.wait_json(state, lambda s: s["target"] == 22.5)
    await start_engine.stop(run)  # type: ignore[attr-defined]
    again = await start_engine(devices=THERMOSTAT, node_id="engine-restart")
    assert again.engine.virtual["thermostat"].values["target"] == 22.5
    assert again.engine.virtual["thermostat"].values["heating"] is False  # its initial value
