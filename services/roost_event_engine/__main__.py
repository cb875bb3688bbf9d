"""`roost-event-engine`: the node, its engine, until SIGTERM."""

from __future__ import annotations

from roost.node import Node
from roost.service import run_service, run_until_signalled
from roost_event_engine.engine import Engine
from roost_event_engine.settings import DEFAULT_NODE_ID, Settings


async def serve(settings: Settings) -> None:
    node = Node(settings, service=DEFAULT_NODE_ID, persistent_session=True)
    engine = Engine(settings, node)
    await engine.attach()
    async with node:
        try:
            await run_until_signalled(engine.run())
        finally:
            await engine.close()


def main() -> None:
    run_service(DEFAULT_NODE_ID, Settings, serve)


if __name__ == "__main__":
    main()
