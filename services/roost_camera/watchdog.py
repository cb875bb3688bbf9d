"""Keeping the camera's parts running: a part that fails unexpectedly is started again
with backoff; a storm of failures ends the service instead (its supervisor decides)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from roost.backoff import Backoff

log = logging.getLogger("roost_camera.watchdog")

WINDOW = 60.0
MAX_FAILURES = 5


async def supervised(
    name: str,
    part: Callable[[], Awaitable[None]],
    report: Callable[[str], None],
    *,
    backoff: Backoff | None = None,
) -> None:
    backoff = backoff or Backoff(initial=1.0, maximum=30.0)
    failures: list[float] = []
    while True:
        try:
            await part()
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            now = time.monotonic()
            failures = [t for t in failures if now - t < WINDOW] + [now]
            log.exception("%s failed", name)
            report(f"{name}: {type(exc).__name__}: {exc}")
            if len(failures) >= MAX_FAILURES:
                log.error("%s failed %d times in %.0f s; giving up", name, len(failures), WINDOW)
                raise
            await asyncio.sleep(backoff.next())
