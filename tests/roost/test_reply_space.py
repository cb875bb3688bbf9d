"""A requester cannot choose where a node publishes: answers go only to the reply space
(`<prefix>/reply/<user>/…`) or the node's own response topic; anything else is refused,
answered at the node's response topic, and the method does not run."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from pydantic import JsonValue

from roost.bus import Bus, publish_properties
from roost.node import Node
from roost.settings import RoostSettings
from roost.testing import Watcher

from .nodes import FAN


@pytest_asyncio.fixture
async def echo(roost_settings: RoostSettings) -> AsyncIterator[tuple[Node, list[object]]]:
    node = Node(roost_settings, service="test", node_id="echo")
    calls: list[object] = []

    async def ping(params: dict[str, object]) -> JsonValue:
        calls.append(params)
        return "pong"

    node.add_method("ping", ping)
    node.add_device("fan", FAN).update(duty=5)
    async with node:
        await node.wait_online(5)
        yield node, calls


def _targets(node: Node) -> dict[str, str]:
    t = node.topics
    return {
        "own availability": t.node_availability(node.id),
        "own device state": t.state(node.id, "fan"),
        "another node's state": t.state("i2c-bridge", "pca9685-40"),
        "own discovery": t.discovery("number", node.id, "fan_duty"),
        "another node's response": t.response("recorder", "ping"),
        "the bare reply base": f"{t.prefix}/reply/",
        "a reply user without a rest": f"{t.prefix}/reply/someone",
        "an empty level": f"{t.prefix}/reply/someone//x",
        "outside the prefix": "elsewhere/x",
    }


@pytest.mark.parametrize(
    "target",
    [
        "own availability",
        "own device state",
        "another node's state",
        "own discovery",
        "another node's response",
        "the bare reply base",
        "a reply user without a rest",
        "an empty level",
        "outside the prefix",
    ],
)
@pytest.mark.parametrize("how", ["response_topic", "reply_to"])
async def test_an_answer_aimed_outside_the_reply_space_is_refused(
    echo: tuple[Node, list[object]], bus: Bus, target: str, how: str
) -> None:
    node, calls = echo
    t = node.topics
    aimed = _targets(node)[target]
    default = t.response(node.id, "ping")
    # Only the two topics that matter: `#` on the shared broker would replay every
    # retained message of the session's earlier tests.
    aimed_watch = await Watcher(bus, aimed).start()
    watch = await Watcher(bus, default).start()
    mark, aimed_mark = len(watch.messages), len(aimed_watch.messages)
    body: dict[str, object] = {"id": "r1", "params": {}}
    props = None
    if how == "reply_to":
        body["reply_to"] = aimed
    else:
        props = publish_properties(response_topic=aimed, correlation_data=b"c1")
    await bus.publish(t.request(node.id, "ping"), body, properties=props)
    answer = await watch.wait_json(default, since=mark, timeout=5)
    assert answer["id"] == "r1"
    assert answer["status"] == "error"
    assert answer["error"]["code"] == "invalid_request"
    assert "reply space" in answer["error"]["message"]
    assert calls == []  # the method did not run
    await bus.sync()
    assert aimed_watch.messages[aimed_mark:] == []


@pytest.mark.parametrize("how", ["response_topic", "reply_to"])
async def test_answers_in_the_reply_space_or_at_the_own_response_topic_arrive(
    echo: tuple[Node, list[object]], bus: Bus, how: str
) -> None:
    node, calls = echo
    t = node.topics
    for aimed in (t.reply("someone-else", "x/1"), t.response(node.id, "ping")):
        watch = await Watcher(bus, aimed).start()
        body: dict[str, object] = {"id": "ok1", "params": {}}
        props = None
        if how == "reply_to":
            body["reply_to"] = aimed
        else:
            props = publish_properties(response_topic=aimed, correlation_data=b"c2")
        await bus.publish(t.request(node.id, "ping"), body, properties=props)
        answer = await watch.wait_json(aimed, timeout=5)
        assert answer == {"id": "ok1", "status": "ok", "data": "pong"}
        await watch.stop()
    assert len(calls) == 2
