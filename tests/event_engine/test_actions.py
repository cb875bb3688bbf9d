"""What scripts do: commands through the broker, events, timers and plugins."""

from __future__ import annotations

import json

from roost.bus import Bus
from roost.node import Node
from roost.testing import Watcher

from .conftest import StartEngine
from .web import local_web

FOLLOW = """
function temperature_onchange(ev) {
  home.set("lab/fan", {duty: Math.round((ev.value - 20) * 10)});
}
"""


async def test_home_set_reaches_the_owner_and_its_state_follows(
    lab: Node, bus: Bus, start_engine: StartEngine
) -> None:
    run = await start_engine({"devices/sensor.js": FOLLOW})
    t = run.node.topics
    async with Watcher(bus, f"{t.prefix}/lab/fan/#") as fan:
        lab.devices["sensor"].update(temperature=26.0)
        state = await fan.wait_json(t.state("lab", "fan"), lambda s: s["duty"] == 60)
        assert state["duty"] == 60
        command = fan.on(t.set("lab", "fan"))[0]
        assert json.loads(command.payload) == {"duty": 60} and not command.retain
    assert lab.devices["fan"].values["duty"] == 60
    entry = await run.entry(lambda e: e.trigger.get("changes") == {"temperature": 26.0})
    assert entry.sent == [{"set": "lab/fan", "values": {"duty": 60}}]


async def test_a_bad_command_is_a_script_error_not_a_crash(
    lab: Node, bus: Bus, start_engine: StartEngine
) -> None:
    script = """
    function temperature_onchange(ev) {
      if (ev.value === 1) home.set("lab/fan", {speed: 3});
      if (ev.value === 2) home.set("lab/nothing", {duty: 3});
      if (ev.value === 3) home.set("lab/sensor", {temperature: 3});
      if (ev.value === 4) home.set("lab/fan", {duty: 40});
    }
    """
    run = await start_engine({"devices/sensor.js": script})
    t = run.node.topics
    async with run.watcher("engine/event") as events, Watcher(bus, t.state("lab", "fan")) as fan:
        messages: list[str] = []
        for value in (1, 2, 3):
            lab.devices["sensor"].update(temperature=value)
            event = await events.wait_json(
                t.event(run.id, "engine"),
                lambda e: e["event_type"] == "script_error",
                since=len(messages),
            )
            messages.append(event["data"]["message"])
        assert "lab/fan has no property speed" in messages[0]
        assert "no device lab/nothing" in messages[1]
        assert "temperature is read-only" in messages[2]
        lab.devices["sensor"].update(temperature=4)
        await fan.wait_json(t.state("lab", "fan"), lambda s: s["duty"] == 40)
    assert run.engine.errors == 3


async def test_onevent_and_emit(lab: Node, bus: Bus, start_engine: StartEngine) -> None:
    script = """
    function onevent(ev) {
      if (ev.type === "person") home.emit("visitor", {score: ev.data.score, from: ev.device});
    }
    """
    home = "function onevent(ev) { home.log('home saw', ev.device, ev.type); }"
    run = await start_engine({"devices/sensor.js": script, "everything.js": home})
    async with run.watcher("engine/event") as events:
        lab.devices["sensor"].emit("person", {"score": 0.9}, phase="start")
        event = await events.wait_json(
            run.node.topics.event(run.id, "engine"), lambda e: e["event_type"] == "visitor"
        )
    assert event["data"] == {"score": 0.9, "from": "lab/sensor"}
    entry = await run.entry(lambda e: e.trigger.get("event") == "person")
    assert entry.functions == ["devices/sensor.js:onevent", "everything.js:onevent"]
    assert entry.logs == ["everything.js:onevent: home saw lab/sensor person"]


async def test_timers_call_a_named_function_later(lab: Node, start_engine: StartEngine) -> None:
    script = """
    function temperature_onchange(ev) {
      home.after(0.05, "later", {seen: ev.value});
      if (ev.value === 2) home.after(0.05, "never", null);
      if (ev.value === 2) home.cancel("never");
    }
    function later(ev) { home.emit("later", {seen: ev.args.seen, trigger: ev.trigger}); }
    function never(ev) { home.emit("never", {}); }
    """
    run = await start_engine({"devices/sensor.js": script})
    async with run.watcher("engine/event") as events:
        lab.devices["sensor"].update(temperature=2)
        event = await events.wait_json(
            run.node.topics.event(run.id, "engine"), lambda e: e["event_type"] == "later"
        )
    assert event["data"] == {"seen": 2, "trigger": "timer"}
    assert not [m for m in events.messages if b'"never"' in m.payload]
    entry = await run.entry(lambda e: e.trigger.get("function") == "devices/sensor.js:later")
    assert entry.trigger["kind"] == "timer"


async def test_after_names_a_function_that_must_exist(lab: Node, start_engine: StartEngine) -> None:
    script = "function temperature_onchange(ev) { home.after(1, 'nope'); }"
    run = await start_engine({"devices/sensor.js": script})
    lab.devices["sensor"].update(temperature=3)
    entry = await run.entry(lambda e: e.error is not None)
    assert "home.after: devices/sensor.js has no function nope" in (entry.error or "")


async def test_http_plugin_calls_back_with_the_response(
    lab: Node, start_engine: StartEngine
) -> None:
    with local_web() as web:
        script = f"""
        function temperature_onchange(ev) {{
          if (ev.value === 5) home.http("{web.url}/weather?x=1", "answer", {{asked: ev.value}});
          if (ev.value === 6) home.http({{url: "{web.url}/missing", method: "POST",
                                         json: {{a: 1}}}}, "answer", {{asked: 6}});
          if (ev.value === 7) home.http("http://127.0.0.2:9/", "answer", {{asked: 7}});
          if (ev.value === 8) home.http("{web.url}/redirect", "answer", {{asked: 8}});
        }}
        function answer(ev) {{
          home.emit("answer", {{asked: ev.args.asked, status: ev.response && ev.response.status,
                               json: ev.response && ev.response.json, error: ev.error || null}});
        }}
        """
        run = await start_engine(
            {"devices/sensor.js": script},
            http_allow=[f"{web.url}/weather", f"{web.url}/missing", f"{web.url}/redirect"],
        )
        topic = run.node.topics.event(run.id, "engine")
        async with run.watcher("engine/event") as events:
            answers = {}
            for value in (5, 6, 8):
                lab.devices["sensor"].update(temperature=value)
                event = await events.wait_json(
                    topic, lambda e, v=value: e["data"].get("asked") == v
                )
                answers[value] = event["data"]
            lab.devices["sensor"].update(temperature=7)
            refused = await events.wait_json(topic, lambda e: e["event_type"] == "script_error")
        first = await web.requests.get()
        assert (first.method, first.path) == ("GET", "/weather?x=1")
        second = await web.requests.get()
        assert (second.method, json.loads(second.body)) == ("POST", {"a": 1})
    assert answers[5] == {
        "asked": 5,
        "status": 200,
        "json": {"path": "/weather?x=1", "temperature": 21.5},
        "error": None,
    }
    assert answers[6].get("status") == 404, answers[6]
    # A redirect to a host outside the allow-list is refused, and the callback says so.
    assert "status" not in answers[8]
    assert "not in [event_engine] http_allow" in answers[8]["error"]
    assert "http_allow" in refused["data"]["message"]
    assert refused["data"]["script"] == "devices/sensor.js"


async def test_notify_publishes_an_event_and_posts_to_the_webhooks(
    lab: Node, start_engine: StartEngine
) -> None:
    with local_web() as web:
        script = """
        function onevent(ev) {
          if (ev.type !== "person") return;
          home.notify("Someone at the door", {title: "Door", priority: "high"});
        }
        """
        run = await start_engine({"devices/sensor.js": script}, notify_urls=[f"{web.url}/hook"])
        async with run.watcher("engine/event") as events:
            lab.devices["sensor"].emit("person", {"score": 0.8})
            note = await events.wait_json(
                run.node.topics.event(run.id, "engine"),
                lambda e: e["event_type"] == "notification",
            )
        posted = await web.requests.get()
    assert note["data"]["message"] == "Someone at the door"
    assert note["data"]["priority"] == "high"
    assert posted.path == "/hook" and json.loads(posted.body)["title"] == "Door"


async def test_publish_plugin_sends_raw_messages_but_no_state(
    lab: Node, bus: Bus, start_engine: StartEngine
) -> None:
    script = """
    function temperature_onchange(ev) {
      if (ev.value === 1) home.publish("zigbee2mqtt/porch/set", {state: "ON"});
      if (ev.value === 2) home.publish(home.prefix + "/lab/fan/state", {duty: 1}, {retain: true});
    }
    """
    prefix = lab.topics.prefix
    run = await start_engine({"devices/sensor.js": script.replace("home.prefix", f"'{prefix}'")})
    async with Watcher(bus, "zigbee2mqtt/#") as z2m, run.watcher("engine/event") as events:
        lab.devices["sensor"].update(temperature=1)
        message = await z2m.wait_for(topic="zigbee2mqtt/porch/set")
        assert json.loads(message.payload) == {"state": "ON"}
        lab.devices["sensor"].update(temperature=2)
        error = await events.wait_json(
            run.node.topics.event(run.id, "engine"), lambda e: e["event_type"] == "script_error"
        )
    assert "only commands and requests" in error["data"]["message"]


async def test_schedule_plugin_runs_on_a_cron_expression(start_engine: StartEngine) -> None:
    script = """
    function onstart() {
      home.schedule("* * * * * *", "tick", {n: 1});
      home.schedule("nonsense", "tick");
    }
    function tick(ev) {
      home.emit("tick", {args: ev.args, trigger: ev.trigger});
      home.unschedule("tick");
    }
    """
    run = await start_engine()
    async with run.watcher("engine/event") as events:
        run.write("ticker.js", script)  # hot-loaded: onstart runs
        tick = await events.wait_json(
            run.node.topics.event(run.id, "engine"),
            lambda e: e["event_type"] == "tick",
            timeout=5,
        )
        error = next(m.json() for m in events.messages if m.json()["event_type"] == "script_error")
    assert tick["data"] == {"args": {"n": 1}, "trigger": "schedule"}
    assert "not a cron expression" in error["data"]["message"]
