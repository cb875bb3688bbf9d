"""What every `roost-<service>` entry point does: settings, logging, signals, run."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from roost.errors import ConfigError
from roost.log import setup_logging
from roost.settings import RoostSettings, load_settings

S = TypeVar("S", bound=RoostSettings)


def run_service(
    service: str, settings_cls: type[S], main: Callable[[S], Coroutine[Any, Any, None]]
) -> None:
    """Load settings (a bad file is one line on stderr and exit 2), then run `main`."""
    try:
        settings = load_settings(settings_cls)
    except ConfigError as exc:
        print(f"roost-{service}: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    setup_logging(settings.log, name=service)
    try:
        asyncio.run(main(settings))
    except ConfigError as exc:
        print(f"roost-{service}: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        pass


async def until_signalled() -> None:
    """Return on SIGTERM or SIGINT (the node then shuts down cleanly)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)


async def run_until_signalled(*parts: Coroutine[Any, Any, None]) -> None:
    """Run a service's parts until SIGTERM/SIGINT, then cancel them. A part that fails
    ends the service with its exception (the supervisor restarts it); one that returns
    simply ends."""
    tasks = {asyncio.create_task(part) for part in parts}
    stop = asyncio.create_task(until_signalled())
    try:
        pending = {*tasks, stop}
        while stop in pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not stop and not task.cancelled() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
    finally:
        for task in (*tasks, stop):
            task.cancel()
        await asyncio.gather(*tasks, stop, return_exceptions=True)
