"""A node publishes meta, state, availability and discovery; others see them retained."""

from __future__ import annotations

from roost.bus import Bus
from roost.node import Node
from roost.settings import RoostSettings
from roost.testing import Watcher

from .nodes import FAN


async def test_node_publishes_everything_retained(roost_settings: RoostSettings) -> None:
    node = Node(roost_settings, service="test", node_id="n1")
    fan = node.add_device("fan", FAN)
    async with node:
        await node.wait_online(5)
        fan.update(duty=40, power=True)
        t = node.topics
        # A client that connects afterwards sees it all retained.
        async with Bus(roost_settings.mqtt, reconnect=False) as late:
            seen = Watcher(late, f"{t.prefix}/#")
            disc = Watcher(late, f"{t.discovery_prefix}/#")
            await seen.start()
            await disc.start()
            state = await seen.wait_json(t.state("n1", "fan"), lambda s: s["duty"] == 40)
            assert state["power"] is True
            assert "ts" in state
            meta = await seen.wait_json(t.meta("n1", "fan"))
            assert meta["name"] == "Fan"
            assert meta["properties"]["duty"]["max"] == 100
            assert "deadband" not in meta["properties"]["rpm"]
            avail = await seen.wait_for(topic=t.availability("n1", "fan"))
            assert avail.payload == b"online" and avail.retain
            node_avail = await seen.wait_for(topic=t.node_availability("n1"))
            assert node_avail.payload == b"online"
            info = await seen.wait_json(t.node_info("n1"))
            assert info["state"] == "running" and info["devices"] == ["fan"]
            config = await disc.wait_json(t.discovery("number", "n1", "fan_duty"))
            assert config["unique_id"] == "roost_n1_fan_duty"
            assert config["command_topic"] == t.set("n1", "fan", "duty")
