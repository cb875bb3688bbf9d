"""Benchmark: how long after the broker returns a node's retained topics are back, for
outages of several lengths (the reconnect delay is capped at 3 s with jitter).

Run: .venv/bin/pytest --perf tests/perf/test_reconnect.py -s
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from roost.bus import Bus
from roost.models import DeviceMeta, PropertySpec
from roost.node import Node
from roost.testing.broker import MosquittoBroker
from roost.testing.plugin import settings_for
from roost.testing.watch import Watcher

OUTAGES = (2.0, 12.0, 30.0)
NODES = 5
META = DeviceMeta(name="Bench", properties={"v": PropertySpec(kind="number")})


async def test_seconds_until_every_node_is_back_after_an_outage(tmp_path: Path) -> None:
    broker = MosquittoBroker(tmp_path / "broker")  # persistence off: it returns empty
    broker.start()
    settings = settings_for(broker, tmp_path)
    nodes = []
    for i in range(NODES):
        node = Node(settings, service="bench", node_id=f"n{i}")
        node.add_device("d", META).update(v=i)
        nodes.append(node)
    figures: dict[str, float] = {}
    try:
        for node in nodes:
            await node.start()
        for node in nodes:
            await node.wait_online(10)
        for outage in OUTAGES:
            broker.stop()
            await asyncio.sleep(outage)  # the outage itself is what is measured against
            broker.start()
            returned = time.monotonic()
            async with Bus(settings.mqtt, reconnect=False) as observer:
                watch = await Watcher(observer, f"{settings.mqtt.prefix}/+/d/state").start()
                for node in nodes:
                    await watch.wait_for(topic=node.topics.state(node.id, "d"), timeout=60)
            figures[f"back_after_{outage:g}s_outage_s"] = round(time.monotonic() - returned, 2)
    finally:
        for node in nodes:
            await node.stop()
        broker.stop()
    print(json.dumps({"nodes": NODES, **figures}))
    assert all(value < 60 for value in figures.values())
