"""Request/response: MQTT 5 response topics, reply_to for 3.1.1 clients, errors."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import paho.mqtt.client as paho
import pytest
import pytest_asyncio
from pydantic import BaseModel, ConfigDict, JsonValue

from roost.bus import Bus
from roost.device import Device
from roost.errors import CommandError, ErrorCode, RequestTimeout
from roost.node import Node
from roost.settings import RoostSettings
from roost.testing import Watcher

from .nodes import FAN


class AddParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    a: int
    b: int = 0


class CalParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    point: str


@pytest_asyncio.fixture
async def calc(roost_settings: RoostSettings) -> AsyncIterator[Node]:
    node = Node(roost_settings, service="test", node_id="calc")

    async def add(params: AddParams) -> JsonValue:
        if params.a < 0:
            raise CommandError(ErrorCode.INVALID_PARAMS, "a must not be negative")
        return {"sum": params.a + params.b}

    async def boom(params: dict[str, object]) -> JsonValue:
        raise ZeroDivisionError("division by zero")

    async def calibrate(device: Device, params: CalParams) -> JsonValue:
        return {"device": device.id, "point": params.point}

    node.add_method("add", add, params=AddParams, description="adds")
    node.add_method("boom", boom)
    node.add_device("fan", FAN).add_method("calibrate", calibrate, params=CalParams)
    async with node:
        await node.wait_online(5)
        yield node


async def test_request_with_mqtt5_response_topic(calc: Node, bus: Bus) -> None:
    response = await bus.request("calc", "add", {"a": 2, "b": 3})
    assert response.ok
    assert response.data == {"sum": 5}


@pytest.mark.parametrize(
    ("method", "params", "code"),
    [
        ("add", {"a": "two"}, "invalid_params"),
        ("add", {"a": 1, "c": 2}, "invalid_params"),
        ("add", {"a": -1}, "invalid_params"),
        ("nope", {}, "unknown_method"),
        ("boom", {}, "failed"),
        ("calibrate", {"point": "mid"}, "invalid_params"),
        ("calibrate", {"device": "ghost", "point": "mid"}, "invalid_params"),
        ("calibrate", {"device": "fan"}, "invalid_params"),
    ],
)
async def test_bad_requests_get_error_responses(
    calc: Node, bus: Bus, method: str, params: dict[str, object], code: str
) -> None:
    response = await bus.request("calc", method, params)
    assert response.status == "error"
    assert response.error is not None
    assert response.error.code == code
    assert response.error.message


async def test_device_methods_run_in_the_device_actor(calc: Node, bus: Bus) -> None:
    response = await bus.request("calc", "calibrate", {"device": "fan", "point": "mid"})
    assert response.data == {"device": "fan", "point": "mid"}
    meta = calc.devices["fan"].meta
    assert "calibrate" in meta.methods
    assert meta.methods["calibrate"].params is not None


async def test_info_lists_node_methods_with_their_schema(calc: Node, bus: Bus) -> None:
    info = await Watcher(bus, calc.topics.node_info("calc")).start()
    body = await info.wait_json(calc.topics.node_info("calc"))
    assert body["methods"]["add"]["description"] == "adds"
    assert body["methods"]["add"]["params"]["required"] == ["a"]


async def test_malformed_request_is_answered_on_the_response_topic(calc: Node, bus: Bus) -> None:
    t = calc.topics
    answers = await Watcher(bus, t.response("calc", "add")).start()
    await bus.publish(t.request("calc", "add"), b"not json")
    response = await answers.wait_json(t.response("calc", "add"))
    assert (response["status"], response["error"]["code"]) == ("error", "invalid_request")


async def test_an_mqtt_311_client_gets_its_answer_on_reply_to(calc: Node) -> None:
    """A 3.1.1 client (no response topic) names `reply_to` under roost/reply/<user>/."""
    settings = calc.settings.mqtt
    t = calc.topics
    reply_to = t.reply("node-red", "calc/1")
    loop = asyncio.get_running_loop()
    got: asyncio.Future[bytes] = loop.create_future()
    subscribed: asyncio.Future[None] = loop.create_future()
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv311)

    def on_connect(c: paho.Client, *_: object) -> None:
        c.subscribe(reply_to, qos=1)

    def on_subscribe(*_: object) -> None:
        loop.call_soon_threadsafe(subscribed.set_result, None)

    def on_message(_c: paho.Client, _u: object, message: paho.MQTTMessage) -> None:
        loop.call_soon_threadsafe(got.set_result, message.payload)

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    client.connect(settings.host, settings.port)
    client.loop_start()  # paho's own thread: this test plays a foreign 3.1.1 client
    try:
        await asyncio.wait_for(subscribed, 5)
        body = {"id": 1, "params": {"a": 20, "b": 22}, "reply_to": reply_to}
        client.publish(t.request("calc", "add"), json.dumps(body), qos=1)
        answer = json.loads(await asyncio.wait_for(got, 5))
        assert answer == {"id": 1, "status": "ok", "data": {"sum": 42}}
    finally:
        client.loop_stop()
        client.disconnect()


async def test_a_request_to_nobody_times_out(bus: Bus) -> None:
    with pytest.raises(RequestTimeout, match="no response from nobody"):
        await bus.request("nobody", "add", {}, timeout=0.3)
