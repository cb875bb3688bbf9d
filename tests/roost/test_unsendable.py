"""Nothing a node cannot send may wedge its connection: a message over the broker's
packet limit, or to a topic MQTT forbids, is refused by the bus, never sent. Sent, the
broker would close the connection, and a queued message would go out again after every
reconnect, so the node would loop disconnecting and answer nothing else."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from pydantic import JsonValue

from roost.bus import Bus, publish_properties
from roost.errors import BusError, TooLarge
from roost.node import Node
from roost.settings import RoostSettings
from roost.testing import Watcher
from roost.testing.broker import MosquittoBroker
from roost.testing.plugin import settings_for

from .nodes import FAN

LIMIT = 4096


@pytest.fixture
def small_broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    broker = MosquittoBroker(tmp_path / "small", extra_config=f"max_packet_size {LIMIT}")
    broker.start()
    yield broker
    broker.stop()


@pytest_asyncio.fixture
async def big_answers(small_broker: MosquittoBroker, tmp_path: Path) -> AsyncIterator[Node]:
    node = Node(settings_for(small_broker, tmp_path), service="test", node_id="big")

    async def blob(params: dict[str, int]) -> JsonValue:
        return {"text": "x" * params.get("size", 10)}

    node.add_method("blob", blob)
    node.add_device("fan", FAN)
    async with node:
        await node.wait_online(5)
        yield node


async def test_the_bus_knows_the_brokers_limit_and_refuses_what_is_over_it(
    big_answers: Node,
) -> None:
    bus = big_answers.bus
    assert bus.broker_max_packet == LIMIT
    assert bus.max_packet == LIMIT
    topic = bus.topics.event(big_answers.id, "fan")
    assert not bus.publish_nowait(topic, b"x" * LIMIT)
    with pytest.raises(TooLarge, match=f"over the broker's packet limit of {LIMIT} bytes"):
        await bus.publish(topic, b"x" * LIMIT)
    assert bus.counters.too_large == 2
    await bus.publish(topic, b"x" * 100, timeout=5)  # the connection is fine
    assert bus.connects == 1


async def test_an_oversized_answer_is_an_error_and_the_node_keeps_answering(
    big_answers: Node,
) -> None:
    async with Bus(big_answers.settings.mqtt, reconnect=False) as client:
        availability = Watcher(client, client.topics.node_availability("big"))
        async with availability:
            response = await client.request("big", "blob", {"size": 2 * LIMIT}, timeout=5)
            assert not response.ok and response.error is not None
            assert response.error.code == "too_large"
            assert f"limit of {LIMIT} bytes" in response.error.message
            small = await client.request("big", "blob", {"size": 10}, timeout=5)
            assert small.ok and small.data == {"text": "x" * 10}
            # Availability never flapped: one connect, online all along.
            assert [m.payload for m in availability.messages] == [b"online"]
    assert big_answers.bus.connects == 1
    assert big_answers.stats().errors >= 1


async def test_a_message_that_cannot_be_encoded_is_refused(roost_settings: RoostSettings) -> None:
    """A response topic over 65535 bytes cannot be a property: the bus says so (BusError)
    instead of raising struct.error out of publish_nowait."""
    async with Bus(roost_settings.mqtt, reconnect=False) as bus:
        props = publish_properties(response_topic="x" * 70_000)
        assert not bus.publish_nowait(bus.topics.event("x", "y"), b"{}", properties=props)
        with pytest.raises(BusError, match="cannot encode"):
            await bus.publish(bus.topics.event("x", "y"), b"{}", properties=props)
        await bus.publish(bus.topics.event("x", "y"), b"{}", timeout=5)


async def test_a_configured_limit_applies_below_the_brokers(roost_settings: RoostSettings) -> None:
    settings = roost_settings.mqtt.model_copy(update={"max_packet_bytes": 2048})
    async with Bus(settings, reconnect=False) as bus:
        assert bus.max_packet == 2048
        with pytest.raises(TooLarge):
            await bus.publish(bus.topics.event("x", "y"), b"x" * 3000, timeout=5)
        assert bus.counters.too_large == 1
        await bus.publish(bus.topics.event("x", "y"), b"x" * 1000, timeout=5)


async def test_an_oversized_blob_does_not_stop_the_connect_sequence(
    small_broker: MosquittoBroker, tmp_path: Path
) -> None:
    """The connect sequence publishes every retained blob: one over the limit used to make
    the broker close the connection there, on every connect, so the node never got to
    `online`."""
    settings = settings_for(small_broker, tmp_path)
    node = Node(settings, service="test", node_id="cam")
    device = node.add_device("door", FAN)
    device.blobs["snapshot"] = b"\xff\xd8" + b"x" * LIMIT  # held from before a reconnect
    device.update(duty=10)
    async with node:
        await node.wait_online(5)
        async with Bus(settings.mqtt, reconnect=False) as client:
            state = await Watcher(client, client.topics.state("cam", "door")).start()
            assert state.messages and state.messages[0].retain
            online = client.topics.node_availability("cam")
            availability = await Watcher(client, online).start()
            assert [m.payload for m in availability.messages] == [b"online"]
        assert node.bus.counters.too_large == 1
        assert node.bus.connects == 1


async def test_a_reply_topic_mqtt_forbids_does_not_wedge_the_node(
    roost_settings: RoostSettings, bus: Bus
) -> None:
    """A `reply_to` inside the reply space but holding U+0000: the broker closed the
    node's connection for the answer ("Malformed packet"), and the queued answer went out
    again after every reconnect, so the node answered nothing else."""
    node = Node(roost_settings, service="test", node_id="nul")
    node.add_method("echo", echo)
    async with node:
        await node.wait_online(5)
        reply_to = bus.topics.reply("me", "a\u0000b")
        body = {"id": "1", "params": {}, "reply_to": reply_to}
        await bus.publish(bus.topics.request("nul", "echo"), body)
        answer = await bus.request("nul", "echo", {"size": 3})
        assert answer.ok and answer.data == {"text": "xxx"}
        assert node.bus.connects == 1
        assert node.stats().errors >= 1


async def echo(params: dict[str, int]) -> JsonValue:
    return {"text": "x" * params.get("size", 10)}


async def test_a_request_to_a_method_name_that_cannot_be_is_not_an_unhandled_error(
    roost_settings: RoostSettings, bus: Bus, caplog: pytest.LogCaptureFixture
) -> None:
    """Without a response topic the answer goes to roost/response/<node>/<method>, which
    no invalid method name can form: that raised TopicError out of the handler."""
    node = Node(roost_settings, service="test", node_id="odd")
    node.add_method("echo", echo)
    async with node:
        await node.wait_online(5)
        await bus.publish(f"{bus.topics.prefix}/request/odd/No-Such", b'{"id": 1}')
        answer = await bus.request("odd", "echo", {"size": 1})
        assert answer.ok
        assert not [r for r in caplog.records if r.exc_info]
        assert node.stats().errors == 1
