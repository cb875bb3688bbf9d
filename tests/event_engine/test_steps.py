"""The three processing steps, in order: ontrigger, groups up the parents, onchange."""

from __future__ import annotations

from roost.bus import Bus
from roost.node import Node

from .conftest import StartEngine

LAMP_SCRIPT = """
function level_ontrigger(ev) { home.log("ontrigger", ev.prop, ev.previous, "->", ev.value); }
function level_onchange(ev) { home.log("onchange", ev.value); }
"""

GROUPS = {
    "room": {"members": ["lab/lamp"], "parent": "floor"},
    "floor": {"members": [], "parent": "house"},
    "house": {"members": []},
    "lights": {"members": ["lamp"], "parent": "house"},
}


def group_script(name: str, stop_above: int | None = None) -> str:
    stop = f"if (ev.value > {stop_above}) return false;" if stop_above is not None else ""
    return f"function onchange(ev) {{ home.log('{name}', ev.group, ev.device); {stop} }}"


async def test_steps_run_in_order_up_the_parent_groups(
    lab: Node, start_engine: StartEngine
) -> None:
    run = await start_engine(
        {
            "devices/lamp.js": LAMP_SCRIPT,
            "groups/room.js": group_script("room"),
            "groups/floor.js": group_script("floor"),
            "groups/house.js": group_script("house"),
            "groups/lights.js": group_script("lights"),
        },
        groups=GROUPS,
    )
    lab.devices["lamp"].update(level=40)
    entry = await run.entry(lambda e: e.trigger.get("changes") == {"level": 40})
    assert entry.trigger["device"] == "lab/lamp"
    # Nearest groups first (room and lights hold the lamp), then floor, then house once.
    assert entry.functions == [
        "devices/lamp.js:level_ontrigger",
        "groups/room.js:onchange",
        "groups/lights.js:onchange",
        "groups/floor.js:onchange",
        "groups/house.js:onchange",
        "devices/lamp.js:level_onchange",
    ]
    assert entry.logs[0] == "devices/lamp.js:level_ontrigger: ontrigger level 0 -> 40"
    assert entry.logs[1] == "groups/room.js:onchange: room room lab/lamp"
    assert entry.stopped is None and entry.error is None


async def test_a_group_that_returns_false_stops_processing(
    lab: Node, start_engine: StartEngine
) -> None:
    run = await start_engine(
        {
            "devices/lamp.js": LAMP_SCRIPT,
            "groups/room.js": group_script("room"),
            "groups/floor.js": group_script("floor", stop_above=50),
            "groups/house.js": group_script("house"),
        },
        groups={k: v for k, v in GROUPS.items() if k != "lights"},
    )
    lab.devices["lamp"].update(level=80)
    entry = await run.entry(lambda e: e.trigger.get("changes") == {"level": 80})
    assert entry.functions == [
        "devices/lamp.js:level_ontrigger",
        "groups/room.js:onchange",
        "groups/floor.js:onchange",
    ]
    assert entry.stopped == "groups/floor.js:onchange"
    # Below the threshold the same chain runs to the end.
    lab.devices["lamp"].update(level=30)
    entry = await run.entry(lambda e: e.trigger.get("changes") == {"level": 30})
    assert entry.functions[-2:] == ["groups/house.js:onchange", "devices/lamp.js:level_onchange"]


async def test_ontrigger_returning_false_skips_that_propertys_onchange(
    lab: Node, start_engine: StartEngine
) -> None:
    script = """
    function level_ontrigger(ev) { return ev.value !== 13; }
    function level_onchange(ev) { home.log("changed", ev.value); }
    function power_onchange(ev) { home.log("power", ev.value); }
    """
    run = await start_engine({"devices/lab/lamp.js": script})
    lab.devices["lamp"].update(level=13, power=True)
    entry = await run.entry(lambda e: e.trigger.get("changes", {}).get("level") == 13)
    assert entry.vetoed == {"level": "devices/lab/lamp.js:level_ontrigger"}
    assert entry.functions == [
        "devices/lab/lamp.js:level_ontrigger",
        "devices/lab/lamp.js:power_onchange",
    ]
    assert entry.logs == ["devices/lab/lamp.js:power_onchange: power true"]


async def test_repeats_inside_the_window_are_skipped(lab: Node, start_engine: StartEngine) -> None:
    script = """
    function level_onchange(ev) { home.log("level", ev.value); }
    function power_onchange(ev) { home.log("power", ev.value); }
    """
    run = await start_engine({"devices/lamp.js": script}, repeat_windows={"lamp.level": 600})
    lamp = lab.devices["lamp"]
    lamp.update(level=1)
    await run.entry(lambda e: e.trigger.get("changes") == {"level": 1})
    # Each published on its own (the owner's outbox would coalesce queued states).
    for values in ({"level": 2}, {"level": 3}, {"power": True}):
        lamp.update(values)
        await lab.bus.flush()  # another property: its own window (none here)
    await run.entry(lambda e: e.trigger.get("changes") == {"power": True})
    levels = [e for e in run.engine.runlog.entries() if "level" in e.trigger.get("changes", {})]
    assert [e.trigger["changes"]["level"] for e in levels] == [1]


async def test_history_keeps_the_last_values_of_a_property(
    lab: Node, start_engine: StartEngine
) -> None:
    script = """
    function level_onchange(ev) {
      if (ev.value !== 5) return;
      var lamp = home.device(ev.device);
      home.log(JSON.stringify(lamp.history("level").map(function (h) { return h.value; })));
      home.log(lamp.level, lamp.latest("level"), typeof lamp.history("level")[0].ts);
    }
    """
    run = await start_engine({"devices/lamp.js": script}, history_sizes={"lab/lamp": 3})
    for level in (1, 2, 3, 4, 5):
        # One at a time: the owner's outbox coalesces queued states of one device.
        lab.devices["lamp"].update(level=level)
        entry = await run.entry(lambda e, v=level: e.trigger.get("changes") == {"level": v})
    assert entry.logs == [
        "devices/lamp.js:level_onchange: [3,4,5]",
        "devices/lamp.js:level_onchange: 5 5 string",
    ]


async def test_properties_outside_the_meta_are_skipped(
    lab: Node, bus: Bus, start_engine: StartEngine
) -> None:
    script = """
    function ghost_onchange(ev) { home.log("ghost"); }
    function level_onchange(ev) { home.log("level", ev.value); }
    """
    run = await start_engine({"devices/lamp.js": script})
    state = {"level": 9, "power": False, "ghost": 1, "ts": "2026-01-01T00:00:00.000Z"}
    await bus.publish(lab.topics.state("lab", "lamp"), state, retain=True)
    entry = await run.entry(lambda e: e.trigger.get("changes", {}).get("level") == 9)
    assert entry.functions == ["devices/lamp.js:level_onchange"]
    assert entry.error is None
