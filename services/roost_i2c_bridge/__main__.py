"""`roost-i2c-bridge`: the bridge as a process."""

from __future__ import annotations

import logging

from roost.node import Node
from roost.service import run_service, run_until_signalled
from roost_i2c_bridge.buses import plan
from roost_i2c_bridge.coordinator import Coordinator
from roost_i2c_bridge.settings import Settings

log = logging.getLogger("roost_i2c_bridge")

SERVICE = "i2c-bridge"


async def serve(settings: Settings) -> None:
    section = settings.i2c
    bridge = plan(section)
    if bridge.demo:
        why = "" if section.buses is not None else "no /dev/i2c-* here: "
        log.info("%srunning the simulated demo greenhouse on bus 'sim'", why)
    node = Node(settings, service=SERVICE, defer_cleanup=True)
    coordinator = Coordinator(node, section, bridge)
    coordinator.add_methods()
    async with node:
        await run_until_signalled(coordinator.run())


def main() -> None:
    run_service(SERVICE, Settings, serve)


if __name__ == "__main__":
    main()
