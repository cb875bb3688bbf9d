"""A tiny roost node for the supervisor's tests: one device, online until signalled.

Usage: node_app.py NODE_ID [--exit-after SECONDS CODE]
"""

from __future__ import annotations

import asyncio
import sys

from roost.models import DeviceMeta, PropertySpec
from roost.node import Node
from roost.service import run_until_signalled
from roost.settings import RoostSettings, load_settings

META = DeviceMeta(name="Probe", properties={"value": PropertySpec(kind="number")})


async def main(node_id: str) -> None:
    settings = load_settings(RoostSettings)
    node = Node(settings, service="test-app", node_id=node_id)
    probe = node.add_device("probe", META)
    probe.update(value=1)
    async with node:
        print(f"node {node_id} serving", flush=True)
        await run_until_signalled(asyncio.Event().wait())


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
