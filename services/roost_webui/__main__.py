"""`roost-webui`: serve the dashboard (demo default: http://127.0.0.1:8080)."""

from __future__ import annotations

import logging

from roost.service import run_service, run_until_signalled
from roost_webui.server import WebUI
from roost_webui.settings import Settings


async def serve(settings: Settings) -> None:
    # uvicorn's own per-request lines would drown the service's log.
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
    webui = WebUI(settings)
    await webui.prepare()
    async with webui.node:
        await run_until_signalled(webui.run())


def main() -> None:
    run_service("webui", Settings, serve)


if __name__ == "__main__":
    main()
