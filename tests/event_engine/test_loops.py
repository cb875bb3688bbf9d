"""The loop breaker: scripts whose own actions trigger them again are stopped after
`max_chain` links, with a script error naming the chain; the next outside change starts
afresh."""

from __future__ import annotations

from roost.node import Node

from .conftest import StartEngine

ECHO = """
function onevent(ev) {
  home.emit("echo", {from: ev.device, type: ev.type});
}
"""


async def test_an_onevent_that_emits_on_every_event_is_stopped(
    lab: Node, start_engine: StartEngine
) -> None:
    run = await start_engine({"echo.js": ECHO}, max_chain=5)
    topic = run.node.topics.event(run.id, "engine")

    def is_error(event: dict[str, object]) -> bool:
        return event["event_type"] == "script_error"

    async with run.watcher("engine/event") as events:
        for round_ in (1, 2):
            lab.devices["sensor"].emit("person", {"score": 0.5})
            error = await events.wait_json(
                topic, is_error, since=len(events.on(topic)) if round_ == 2 else 0
            )
            assert "stopped a loop" in error["data"]["message"]
            assert "echo.js:onevent (×5)" in error["data"]["message"]
            echoes = [m for m in events.on(topic) if b'"event_type":"echo"' in m.payload]
            # the person event, then echoes 1..4 each caused one more: 5 runs per round
            assert len(echoes) == 5 * round_
    assert run.engine.errors == 2


async def test_two_scripts_setting_each_others_devices_are_stopped(
    lab: Node, start_engine: StartEngine
) -> None:
    scripts = {
        "devices/lamp.js": """
        function level_onchange(ev) { home.set("lab/fan", {duty: ev.value}); }
        """,
        "devices/fan.js": """
        function duty_onchange(ev) { home.set("lab/lamp", {level: (ev.value + 1) % 100}); }
        """,
    }
    run = await start_engine(scripts, max_chain=6)
    topic = run.node.topics.event(run.id, "engine")
    async with run.watcher("engine/event") as events:
        lab.devices["lamp"].update(level=1)
        error = await events.wait_json(topic, lambda e: e["event_type"] == "script_error")
    message = error["data"]["message"]
    assert "stopped a loop" in message
    assert "devices/lamp.js:level_onchange → devices/fan.js:duty_onchange" in message
    # from the outside change lamp=1, six commands: fan 1, lamp 2, fan 2, lamp 3, fan 3,
    # lamp 4; the change to lamp 4 is the seventh link and is not run
    assert lab.devices["fan"].values["duty"] == 3
    assert lab.devices["lamp"].values["level"] == 4


async def test_a_chain_shorter_than_the_limit_runs_to_its_end(
    lab: Node, start_engine: StartEngine
) -> None:
    scripts = {
        "devices/sensor.js": (
            'function temperature_onchange(ev) { home.set("lab/lamp", {level: 5}); }'
        ),
        "devices/lamp.js": 'function level_onchange(ev) { home.set("lab/fan", {duty: 7}); }',
    }
    run = await start_engine(scripts, max_chain=3)
    lab.devices["sensor"].update(temperature=30.0)
    entry = await run.entry(lambda e: e.trigger.get("device") == "lab/lamp")
    assert entry.sent == [{"set": "lab/fan", "values": {"duty": 7}}]
    assert run.engine.errors == 0
