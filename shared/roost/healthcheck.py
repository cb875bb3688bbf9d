"""`python -m roost.healthcheck NODE`: exit 0 while NODE says `online` on the broker.

A container's HEALTHCHECK. A live process is not enough: the node must be connected, and
its `online` comes last on every connect, after its meta, state and discovery. The node
id is `[node] id` (or `ROOST_NODE__ID`) when set, else NODE, the service's default.
"""

from __future__ import annotations

import asyncio
import sys

from roost.bus import Bus
from roost.errors import BusError, ConfigError
from roost.message import Message
from roost.settings import RoostSettings, load_settings

TIMEOUT = 8.0


async def node_is_online(settings: RoostSettings, node: str) -> bool:
    """Whether the node's retained availability on the broker is `online`."""
    seen: list[Message] = []
    topic = settings.mqtt.topics().node_availability(node)
    async with asyncio.timeout(TIMEOUT), Bus(settings.mqtt, reconnect=False) as bus:
        await bus.subscribe(topic, seen.append)
        await bus.sync()
    return any(m.payload == b"online" for m in seen)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m roost.healthcheck NODE", file=sys.stderr)
        return 2
    try:
        settings = load_settings(RoostSettings)
    except ConfigError as exc:
        print(f"roost healthcheck: {exc}", file=sys.stderr)
        return 2
    node = settings.node_id(args[0])
    try:
        online = asyncio.run(node_is_online(settings, node))
    except (BusError, TimeoutError) as exc:
        print(f"roost healthcheck: no answer from the broker: {exc}", file=sys.stderr)
        return 1
    if not online:
        print(f"roost healthcheck: node {node} is not online", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
