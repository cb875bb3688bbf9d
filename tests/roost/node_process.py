"""A node in a process of its own, for tests that kill it: `python -m tests.roost.node_process`.

Settings come from the environment (ROOST_MQTT__PORT, ROOST_MQTT__PREFIX, …); ROOST_TEST_DEVICES
names the devices to own (comma-separated).
"""

from __future__ import annotations

import os

from roost.node import Node
from roost.service import run_service, until_signalled
from roost.settings import RoostSettings
from tests.roost.nodes import FAN


async def serve(settings: RoostSettings) -> None:
    node = Node(settings, service="test-process", node_id=os.environ.get("ROOST_TEST_NODE", "proc"))
    for device_id in filter(None, os.environ.get("ROOST_TEST_DEVICES", "fan").split(",")):
        node.add_device(device_id, FAN)
    async with node:
        await until_signalled()


if __name__ == "__main__":
    run_service("test-process", RoostSettings, serve)
