"""A node refuses to start when a live node with its id already answers on the broker,
and leaves the live one alone: no will, no info or availability, no cleared topics, no
session takeover. A retained `online` that nobody answers is stale and does not stop it."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from roost.bus import Bus
from roost.liveness import DuplicateNode
from roost.node import Node
from roost.settings import RoostSettings
from roost.testing import Watcher

from .nodes import FAN

ROOT = Path(__file__).resolve().parents[2]


async def _serve_forever(node: Node) -> None:
    async with node:
        await asyncio.Event().wait()


@pytest.mark.parametrize("persistent", [False, True])
async def test_a_second_node_with_a_live_id_refuses_and_touches_nothing(
    roost_settings: RoostSettings, bus: Bus, persistent: bool
) -> None:
    t = roost_settings.mqtt.topics()
    live = Node(roost_settings, service="test", node_id="n1", persistent_session=persistent)
    live.add_device("fan", FAN).update(duty=7)
    async with live:
        await live.wait_online(10)
        own = await Watcher(bus, t.all_of_node("n1")).start()
        discovery = await Watcher(bus, f"{t.discovery_prefix}/+/n1/#").start()
        marks = own.mark(), discovery.mark()
        second = Node(roost_settings, service="test", node_id="n1", persistent_session=persistent)
        second.add_device("pump", FAN)  # would clear the live node's `fan` as stale
        with pytest.raises(DuplicateNode) as refused:
            async with asyncio.timeout(30):
                await _serve_forever(second)
        message = str(refused.value)
        assert f"pid {os.getpid()}" in message
        assert "ROOST_NODE__ID" in message and "[node] id" in message
        await bus.sync()
        assert own.messages[marks[0] :] == []
        assert discovery.messages[marks[1] :] == []
        # The live node kept its connection (and its session): never kicked off.
        assert live.bus.connects == 1 and live.bus.connected.is_set()
        assert second.bus.connects == 0
        state = await bus.request("n1", "ping", timeout=5)  # still answers
        assert state.error is not None and state.error.code == "unknown_method"


async def test_a_stale_retained_online_does_not_stop_a_node(
    roost_settings: RoostSettings, bus: Bus
) -> None:
    """A broker restarted with persistence, or a will not yet sent: `online` retained,
    nobody behind it."""
    t = roost_settings.mqtt.topics()
    await bus.publish(t.node_availability("ghost"), "online", retain=True)
    info = b'{"service":"old","version":"0","host":"gone","pid":1,"started":"x","state":"running"}'
    await bus.publish(t.node_info("ghost"), info, retain=True)
    node = Node(roost_settings, service="test", node_id="ghost")
    async with node:
        await node.wait_online(30)
        assert node.refused is None


async def test_a_duplicate_service_process_exits_with_the_config_error_code(
    roost_settings: RoostSettings, bus: Bus
) -> None:
    live = Node(roost_settings, service="test", node_id="proc")
    async with live:
        await live.wait_online(10)
        env = {
            **os.environ,
            "ROOST_MQTT__HOST": roost_settings.mqtt.host,
            "ROOST_MQTT__PORT": str(roost_settings.mqtt.port),
            "ROOST_MQTT__PREFIX": roost_settings.mqtt.prefix,
            "ROOST_MQTT__DISCOVERY_PREFIX": roost_settings.mqtt.discovery_prefix,
            "ROOST_TEST_NODE": "proc",
            "PYTHONPATH": str(ROOT),
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.roost.node_process",
            env=env,
            cwd=ROOT,
            stderr=asyncio.subprocess.PIPE,
        )
        async with asyncio.timeout(60):
            _, err = await process.communicate()
        assert process.returncode == 2
        assert "'proc' is already live" in err.decode()
        assert f"pid {os.getpid()}" in err.decode()
        assert live.bus.connects == 1
