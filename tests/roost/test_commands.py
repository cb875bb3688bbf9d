"""Commands on /set and /set/<prop>: every kind of bad one answered, good ones applied."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest
import pytest_asyncio
from pydantic import JsonValue

from roost.bus import Bus
from roost.device import Device
from roost.errors import CommandError, ErrorCode
from roost.node import Node
from roost.settings import RoostSettings
from roost.testing import Watcher

from .nodes import FAN


@pytest_asyncio.fixture
async def fan_node(roost_settings: RoostSettings) -> AsyncIterator[Node]:
    node = Node(roost_settings, service="test", node_id="n1")
    node.add_device("fan", FAN).update(duty=10, power=False, mode="auto", label="start")
    async with node:
        await node.wait_online(5)
        yield node


BAD_COMMANDS: list[tuple[str, str, bytes, str]] = [
    # (name, topic suffix, payload, expected code)
    ("malformed json", "set", b'{"duty": 4', "invalid_json"),
    ("json that is not an object", "set", b"[1, 2]", "invalid_command"),
    ("empty object", "set", b"{}", "invalid_command"),
    ("only an id", "set", b'{"id": "x"}', "invalid_command"),
    ("NaN is not JSON", "set", b'{"duty": NaN}', "invalid_json"),
    ("unknown property", "set", b'{"speed": 3}', "unknown_property"),
    ("unknown property, bare", "set/speed", b"3", "unknown_property"),
    ("wrong type for a number", "set", b'{"duty": "fast"}', "invalid_value"),
    ("a boolean for a number", "set", b'{"duty": true}', "invalid_value"),
    ("a list for a number", "set", b'{"duty": [40]}', "invalid_value"),
    ("out of range where clamping is unsafe", "set", b'{"dose_ml": 80}', "out_of_range"),
    ("read-only property", "set", b'{"rpm": 1200}', "not_settable"),
    ("read-only switch, bare", "set/running", b"on", "not_settable"),
    ("an image takes no commands", "set", b'{"snapshot": "x"}', "not_settable"),
    ("not a switch word", "set/power", b"maybe", "invalid_value"),
    ("not an option", "set", b'{"mode": "turbo"}', "invalid_option"),
    ("text too long", "set", b'{"label": "' + b"x" * 17 + b'"}', "too_long"),
    ("text of the wrong type", "set", b'{"label": 5}', "invalid_value"),
    ("bytes that are not UTF-8", "set", b'{"label": "\xff\xfe"}', "invalid_encoding"),
    ("oversized payload", "set", b'{"label": "' + b"y" * 70_000 + b'"}', "payload_too_large"),
    ("empty bare value", "set/duty", b"", "invalid_command"),
    ("a property name no topic may carry", "set/Duty", b"5", "invalid_command"),
]


@pytest.mark.parametrize(
    ("name", "suffix", "payload", "code"), BAD_COMMANDS, ids=[c[0] for c in BAD_COMMANDS]
)
async def test_bad_command_gets_an_error_and_changes_nothing(
    fan_node: Node, bus: Bus, name: str, suffix: str, payload: bytes, code: str
) -> None:
    t = fan_node.topics
    errors = await Watcher(bus, t.error("n1", "fan")).start()
    states = await Watcher(bus, t.state("n1", "fan")).start()
    await bus.sync()
    before = states.messages[-1].json()
    await bus.publish(f"{t.prefix}/n1/fan/{suffix}", payload)
    error = await errors.wait_json(t.error("n1", "fan"))
    assert error["code"] == code, error
    assert error["message"]
    assert "ts" in error
    # Still alive, and the rejected command changed nothing: the next good command's
    # state differs from the one before only where that command said.
    mark = states.mark()
    await bus.publish(t.set("n1", "fan"), {"duty": 77})
    after = await states.wait_json(t.state("n1", "fan"), lambda s: s["duty"] == 77, since=mark)
    unchanged = {k: v for k, v in before.items() if k not in ("duty", "ts")}
    assert {k: after[k] for k in unchanged} == unchanged


async def test_a_command_to_an_unknown_device_publishes_nothing(fan_node: Node, bus: Bus) -> None:
    """Anything on a device's topics would make that device appear to a consumer that
    reads them naively: the owner only logs and counts it."""
    t = fan_node.topics
    ghost = await Watcher(bus, f"{t.prefix}/n1/ghost/#").start()
    acks = await Watcher(bus, t.ack("n1", "fan")).start()
    errors_before = fan_node.stats().errors
    await bus.publish(t.set("n1", "ghost"), {"duty": 1, "id": "g1"})
    await bus.publish(f"{t.prefix}/n1/ghost/set/Duty", "1")
    await bus.publish(t.set("n1", "ghost", "duty"), "1", retain=True)
    # commands are handled in order: once this one is answered, the ghosts were handled
    await bus.publish(t.set("n1", "fan"), {"duty": 3, "id": "after"})
    await acks.wait_json(t.ack("n1", "fan"), lambda a: a["id"] == "after")
    await fan_node.bus.flush(5)
    await bus.sync()
    # only our own commands (and the clearing of the retained one) went by
    assert [m.topic for m in ghost.messages if "/set" not in m.topic] == []
    assert fan_node.stats().errors == errors_before + 3
    async with Bus(fan_node.settings.mqtt, reconnect=False) as late:
        left = await Watcher(late, f"{t.prefix}/n1/ghost/#").start()
        assert [m.topic for m in left.messages if m.payload] == []  # the retained one cleared


async def test_an_applied_command_with_an_id_is_acknowledged_after_its_state(
    roost_settings: RoostSettings, bus: Bus
) -> None:
    async def hardware(device: Device, values: dict[str, JsonValue]) -> Mapping[str, JsonValue]:
        duty = values.get("duty")
        return {**values, "duty": duty - duty % 5} if isinstance(duty, int) else values

    node = Node(roost_settings, service="test", node_id="n1")
    node.add_device("fan", FAN, on_set=hardware)
    t = node.topics
    seen = await Watcher(bus, f"{t.prefix}/n1/fan/#").start()
    async with node:
        await node.wait_online(5)
        mark = seen.mark()
        await bus.publish(t.set("n1", "fan"), {"duty": 42, "power": "on", "id": "c1"})
        ack = await seen.wait_json(t.ack("n1", "fan"), since=mark)
        assert ack["id"] == "c1"
        assert ack["applied"] == {"duty": 40, "power": True}
        assert "ts" in ack
        answered = [m for m in seen.messages[mark:] if m.topic.endswith(("/state", "/ack"))]
        assert [m.topic.rsplit("/", 1)[1] for m in answered] == ["state", "ack"]
        assert answered[0].json()["duty"] == 40
        assert not answered[1].retain
        # a button is applied too: its press event, then the ack
        mark = seen.mark()
        await bus.publish(t.set("n1", "fan"), {"reset": True, "id": 7})
        ack = await seen.wait_json(t.ack("n1", "fan"), since=mark)
        assert (ack["id"], ack["applied"]) == (7, {})
        kinds = [m.topic.rsplit("/", 1)[1] for m in seen.messages[mark:]]
        assert kinds.index("event") < kinds.index("ack")
        # without an id there is nobody to answer: state only
        mark = seen.mark()
        await bus.publish(t.set("n1", "fan", "duty"), "77")
        await seen.wait_json(t.state("n1", "fan"), lambda s: s["duty"] == 75, since=mark)
        await bus.publish(t.set("n1", "fan"), {"duty": "x", "id": "bad"})
        error = await seen.wait_json(t.error("n1", "fan"), since=mark)
        assert error["id"] == "bad"
        await node.bus.flush(5)
        await bus.sync()
        assert seen.on(t.ack("n1", "fan"))[-1].json()["id"] == 7


async def test_error_carries_the_request_id(fan_node: Node, bus: Bus) -> None:
    t = fan_node.topics
    errors = await Watcher(bus, t.error("n1", "fan")).start()
    await bus.publish(t.set("n1", "fan"), {"id": "req-7", "duty": "x"})
    error = await errors.wait_json(t.error("n1", "fan"))
    assert (error["id"], error["prop"], error["code"]) == ("req-7", "duty", "invalid_value")


async def test_a_bad_property_level_keeps_the_correlation_id(fan_node: Node, bus: Bus) -> None:
    """A `/set/<prop>` whose level cannot be a property name still answers with the
    request's MQTT 5 correlation data, so the requester can match the refusal."""
    from roost.bus import publish_properties

    t = fan_node.topics
    errors = await Watcher(bus, t.error("n1", "fan")).start()
    props = publish_properties(correlation_data=b"req-9")
    await bus.publish(t.set("n1", "fan") + "/Duty", b"5", properties=props)
    error = await errors.wait_json(t.error("n1", "fan"))
    assert (error["id"], error["code"]) == ("req-9", "invalid_command")


async def test_a_retained_set_is_refused_and_cleared_live(fan_node: Node, bus: Bus) -> None:
    t = fan_node.topics
    errors = await Watcher(bus, t.error("n1", "fan")).start()
    states = await Watcher(bus, t.state("n1", "fan")).start()
    await bus.publish(t.set("n1", "fan", "duty"), b"90", retain=True)
    error = await errors.wait_json(t.error("n1", "fan"))
    assert error["code"] == "retained_command"
    await fan_node.bus.flush(5)
    async with Bus(fan_node.settings.mqtt, reconnect=False) as late:
        seen = await Watcher(late, t.set("n1", "fan", "duty")).start()
        await late.sync()
        assert [m for m in seen.messages if m.payload] == []
    assert all(m.json()["duty"] != 90 for m in states.messages)


async def test_a_retained_set_left_from_before_is_not_replayed(
    roost_settings: RoostSettings, bus: Bus
) -> None:
    t = roost_settings.mqtt.topics()
    await bus.publish(t.set("n1", "fan"), {"duty": 99}, retain=True)
    errors = await Watcher(bus, t.error("n1", "fan")).start()
    node = Node(roost_settings, service="test", node_id="n1")
    fan = node.add_device("fan", FAN)
    async with node:
        await node.wait_online(5)
        error = await errors.wait_json(t.error("n1", "fan"))
        assert error["code"] == "retained_command"
        assert fan.values["duty"] is None


async def test_json_and_bare_commands_are_applied(fan_node: Node, bus: Bus) -> None:
    t = fan_node.topics
    states = await Watcher(bus, t.state("n1", "fan")).start()
    await bus.publish(t.set("n1", "fan"), {"duty": 40, "power": "on", "mode": "MANUAL"})
    state = await states.wait_json(t.state("n1", "fan"), lambda s: s["duty"] == 40)
    assert (state["power"], state["mode"]) == (True, "manual")
    for word, value in [("off", False), ("open", True), ("0", False), ("YES", True)]:
        mark = states.mark()
        await bus.publish(t.set("n1", "fan", "power"), word)
        state = await states.wait_json(t.state("n1", "fan"), since=mark)
        assert state["power"] is value, word
    mark = states.mark()
    await bus.publish(t.set("n1", "fan", "label"), "hello world")
    state = await states.wait_json(t.state("n1", "fan"), since=mark)
    assert state["label"] == "hello world"


async def test_dials_are_clamped_and_rounded_to_step(fan_node: Node, bus: Bus) -> None:
    t = fan_node.topics
    states = await Watcher(bus, t.state("n1", "fan")).start()
    for sent, shown in [("150", 100), ("-3", 0), ("41.6", 42), ("7.2", 7)]:
        mark = states.mark()
        await bus.publish(t.set("n1", "fan", "duty"), sent)
        state = await states.wait_json(t.state("n1", "fan"), since=mark)
        assert state["duty"] == shown, sent


async def test_a_button_press_is_an_event_not_state(fan_node: Node, bus: Bus) -> None:
    t = fan_node.topics
    events = await Watcher(bus, t.event("n1", "fan")).start()
    states = await Watcher(bus, t.state("n1", "fan")).start()
    await bus.publish(t.set("n1", "fan", "reset"), "PRESS")
    event = await events.wait_json(t.event("n1", "fan"))
    assert event["event_type"] == "press"
    assert event["data"] == {"prop": "reset"}
    assert all("reset" not in m.json() for m in states.messages)


@pytest.mark.skipif(shutil.which("mosquitto_pub") is None, reason="needs mosquitto-clients")
async def test_an_mqtt_311_client_can_send_commands(fan_node: Node, bus: Bus) -> None:
    t = fan_node.topics
    states = await Watcher(bus, t.state("n1", "fan")).start()
    settings = fan_node.settings.mqtt
    process = await asyncio.create_subprocess_exec(
        "mosquitto_pub", "-V", "mqttv311", "-h", settings.host, "-p", str(settings.port),
        "-q", "1", "-t", t.set("n1", "fan", "duty"), "-m", "64",
    )  # fmt: skip
    assert await process.wait() == 0
    state = await states.wait_json(t.state("n1", "fan"), lambda s: s["duty"] == 64)
    assert state["duty"] == 64


async def test_handler_result_is_what_gets_published(
    roost_settings: RoostSettings, bus: Bus
) -> None:
    async def hardware(device: Device, values: dict[str, JsonValue]) -> Mapping[str, JsonValue]:
        duty = values.get("duty")
        if duty == 13:
            raise CommandError(ErrorCode.FAILED, "the chip did not answer", prop="duty")
        if duty == 14:
            raise RuntimeError("driver bug")
        assert isinstance(duty, int)
        return {"duty": duty - duty % 5}  # the chip's resolution: what is, not what was asked

    node = Node(roost_settings, service="test", node_id="n1")
    node.add_device("fan", FAN, on_set=hardware)
    t = node.topics
    states = await Watcher(bus, t.state("n1", "fan")).start()
    errors = await Watcher(bus, t.error("n1", "fan")).start()
    async with node:
        await node.wait_online(5)
        await bus.publish(t.set("n1", "fan", "duty"), "43")
        state = await states.wait_json(t.state("n1", "fan"), lambda s: s["duty"] is not None)
        assert state["duty"] == 40
        await bus.publish(t.set("n1", "fan", "duty"), "13")
        error = await errors.wait_json(t.error("n1", "fan"))
        assert (error["code"], error["message"]) == ("failed", "the chip did not answer")
        mark = errors.mark()
        await bus.publish(t.set("n1", "fan", "duty"), "14")
        error = await errors.wait_json(t.error("n1", "fan"), since=mark)
        assert error["code"] == "failed"
        assert "driver bug" in error["message"]
        mark = states.mark()
        await bus.publish(t.set("n1", "fan", "duty"), "40")
        state = await states.wait_json(t.state("n1", "fan"), since=mark)
        assert state["duty"] == 40  # unchanged value, yet published: the command is answered


async def test_a_newer_command_supersedes_a_queued_older_one(
    roost_settings: RoostSettings, bus: Bus
) -> None:
    entered = asyncio.Event()
    release = asyncio.Event()
    applied: list[Any] = []

    async def slow(device: Device, values: dict[str, JsonValue]) -> Mapping[str, JsonValue]:
        applied.append(values)
        entered.set()
        await release.wait()
        return values

    node = Node(roost_settings, service="test", node_id="n1")
    node.add_device("fan", FAN, on_set=slow)
    t = node.topics
    errors = await Watcher(bus, t.error("n1", "fan")).start()
    states = await Watcher(bus, t.state("n1", "fan")).start()
    async with node:
        await node.wait_online(5)
        await bus.publish(t.set("n1", "fan"), {"id": "a", "duty": 1})
        await asyncio.wait_for(entered.wait(), 5)
        await bus.publish(t.set("n1", "fan"), {"id": "b", "duty": 2})
        await bus.publish(t.set("n1", "fan"), {"id": "c", "duty": 3, "power": True})
        error = await errors.wait_json(t.error("n1", "fan"))
        assert (error["code"], error["id"]) == ("superseded", "b")
        release.set()
        await states.wait_json(t.state("n1", "fan"), lambda s: s["duty"] == 3)
        assert applied == [{"duty": 1}, {"duty": 3, "power": True}]
