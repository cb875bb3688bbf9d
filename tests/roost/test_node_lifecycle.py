"""A node's life: broker restarts, being killed, coming back with fewer devices, stopping."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from roost.bus import Bus
from roost.node import Node
from roost.settings import RoostSettings
from roost.testing import Watcher
from roost.testing.broker import MosquittoBroker
from roost.testing.plugin import settings_for

from .nodes import FAN

ROOT = Path(__file__).resolve().parents[2]


def retained_owned(node: Node) -> set[str]:
    t = node.topics
    topics = {t.node_info(node.id), t.node_availability(node.id)}
    for device in node.devices:
        topics |= {
            t.meta(node.id, device),
            t.state(node.id, device),
            t.availability(node.id, device),
        }
    return topics


async def test_broker_restart_brings_every_retained_message_back(
    own_mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    settings = settings_for(own_mosquitto, tmp_path)
    node = Node(settings, service="test", node_id="n1")
    fan = node.add_device("fan", FAN)
    fan.update(duty=33)
    async with node:
        await node.wait_online(5)
        own_mosquitto.restart()  # persistence off: every retained message is gone
        async with Bus(settings.mqtt, reconnect=False) as observer:
            watch = await Watcher(observer, f"{settings.mqtt.prefix}/#").start()
            disc = await Watcher(observer, f"{settings.mqtt.discovery_prefix}/#").start()
            for topic in retained_owned(node):
                await watch.wait_for(
                    lambda m: m.retain and bool(m.payload), topic=topic, timeout=40
                )
            state = await watch.wait_json(node.topics.state("n1", "fan"), timeout=5)
            assert state["duty"] == 33
            online = await watch.wait_for(topic=node.topics.node_availability("n1"))
            assert online.payload == b"online"
            await disc.wait_for(topic=node.topics.discovery("number", "n1", "fan_duty"))


@asynccontextmanager
async def node_process(
    settings: RoostSettings, devices: str, node_id: str = "proc"
) -> AsyncIterator[asyncio.subprocess.Process]:
    env = {
        **os.environ,
        "ROOST_MQTT__HOST": settings.mqtt.host,
        "ROOST_MQTT__PORT": str(settings.mqtt.port),
        "ROOST_MQTT__PREFIX": settings.mqtt.prefix,
        "ROOST_MQTT__DISCOVERY_PREFIX": settings.mqtt.discovery_prefix,
        "ROOST_TEST_DEVICES": devices,
        "ROOST_TEST_NODE": node_id,
        "PYTHONPATH": str(ROOT),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.roost.node_process", env=env, cwd=ROOT
    )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_sigkill_shows_offline_through_the_last_will(
    roost_settings: RoostSettings, bus: Bus
) -> None:
    t = roost_settings.mqtt.topics()
    watch = await Watcher(bus, t.node_availability("proc")).start()
    async with node_process(roost_settings, "fan") as process:
        await watch.wait_for(lambda m: m.payload == b"online", timeout=20)
        mark = watch.mark()
        process.send_signal(signal.SIGKILL)
        await process.wait()
        offline = await watch.wait_for(lambda m: m.payload == b"offline", since=mark)
        assert offline.retain


async def test_sigterm_stops_cleanly_within_two_seconds(
    roost_settings: RoostSettings, bus: Bus
) -> None:
    t = roost_settings.mqtt.topics()
    avail = await Watcher(bus, t.node_availability("proc")).start()
    info = await Watcher(bus, t.node_info("proc")).start()
    async with node_process(roost_settings, "fan") as process:
        await avail.wait_for(lambda m: m.payload == b"online", timeout=20)
        mark = avail.mark()
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        code = await process.wait()
        elapsed = time.monotonic() - started
        assert code == 0
        await avail.wait_for(lambda m: m.payload == b"offline", since=mark)
        stopped = await info.wait_json(t.node_info("proc"), lambda i: i["state"] == "stopped")
        assert stopped["service"] == "test-process"
        # The contract's bound, not a performance figure: a stop must not hang.
        assert elapsed < 2.5


async def test_restart_with_one_device_fewer_clears_its_retained_topics(
    roost_settings: RoostSettings, bus: Bus
) -> None:
    t = roost_settings.mqtt.topics()
    gone = {
        t.meta("n1", "old"),
        t.state("n1", "old"),
        t.availability("n1", "old"),
        t.discovery("number", "n1", "old_duty"),
        t.discovery("switch", "n1", "old_power"),
        t.discovery("image", "n1", "old_snapshot"),
    }
    first = Node(roost_settings, service="test", node_id="n1")
    first.add_device("keep", FAN)
    first.add_device("old", FAN).update(duty=5)
    async with first:
        await first.wait_online(5)
    second = Node(roost_settings, service="test", node_id="n1")
    second.add_device("keep", FAN)
    async with second:
        await second.wait_online(5)
        # A fresh observer sees only what is retained now.
        async with Bus(roost_settings.mqtt, reconnect=False) as observer:
            seen = await Watcher(observer, f"{t.prefix}/#").start()
            disc = await Watcher(observer, f"{t.discovery_prefix}/#").start()
            await observer.sync()
            retained = {m.topic for m in [*seen.messages, *disc.messages] if m.retain}
            assert not (retained & gone), retained & gone
            assert t.meta("n1", "keep") in retained
            assert t.discovery("number", "n1", "keep_duty") in retained


async def test_removing_a_device_at_run_time_clears_it(
    roost_settings: RoostSettings, bus: Bus
) -> None:
    t = roost_settings.mqtt.topics()
    node = Node(roost_settings, service="test", node_id="n1")
    node.add_device("fan", FAN)
    async with node:
        await node.wait_online(5)
        await node.remove_device("fan")
        await node.bus.flush(5)
        async with Bus(roost_settings.mqtt, reconnect=False) as observer:
            seen = await Watcher(observer, f"{t.prefix}/#").start()
            disc = await Watcher(observer, f"{t.discovery_prefix}/#").start()
            await observer.sync()
            retained = {m.topic for m in [*seen.messages, *disc.messages] if m.retain}
            assert not any("/fan" in topic for topic in retained), retained
            info = await seen.wait_json(t.node_info("n1"))
            assert info["devices"] == []


async def test_restore_takes_back_the_retained_state(roost_settings: RoostSettings) -> None:
    first = Node(roost_settings, service="test", node_id="n1")
    first.add_device("fan", FAN).update(duty=42, label="kept")
    async with first:
        await first.wait_online(5)
    second = Node(roost_settings, service="test", node_id="n1")
    fan = second.add_device("fan", FAN, restore=True)
    async with second:
        await second.wait_online(5)
        assert fan.values["duty"] == 42
        assert fan.values["label"] == "kept"


async def test_a_node_started_before_the_broker_connects_when_it_appears(tmp_path: Path) -> None:
    broker = MosquittoBroker(tmp_path / "late")
    settings = settings_for(broker, tmp_path)
    node = Node(settings, service="test", node_id="n1")
    node.add_device("fan", FAN)
    async with node:
        broker.start()
        try:
            await node.wait_online(40)
        finally:
            await node.stop()
            broker.stop()
