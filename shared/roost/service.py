"""What every `roost-<service>` entry point does: settings, logging, signals, run.

`roost-<service> --check-config` loads the settings as a start would (same file, same
environment) and exits: 0 when they are valid, else the error's one line on stderr and
CONFIG_ERROR_EXIT. `roost up` runs it for every service app before it starts anything.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, NoReturn, TypeVar

from roost.errors import CONFIG_ERROR_EXIT, ConfigError
from roost.log import setup_logging
from roost.settings import RoostSettings, load_settings

S = TypeVar("S", bound=RoostSettings)
CHECK_CONFIG = "--check-config"


def run_service(
    service: str,
    settings_cls: type[S],
    main: Callable[[S], Coroutine[Any, Any, None]],
    argv: Sequence[str] | None = None,
) -> None:
    """Load settings (a bad file is one line on stderr and CONFIG_ERROR_EXIT), then run
    `main`; with `--check-config`, only load them."""
    args = _arguments(service, sys.argv[1:] if argv is None else argv)
    try:
        settings = load_settings(settings_cls)
    except ConfigError as exc:
        _config_error(service, exc)
    if args.check_config:
        print(f"roost-{service}: config ok")
        return
    setup_logging(settings.log, name=service)
    try:
        asyncio.run(main(settings))
    except ConfigError as exc:
        _config_error(service, exc)
    except KeyboardInterrupt:
        pass


def _arguments(service: str, argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=f"roost-{service}",
        description=f"roost's {service} service: settings from roost.toml ($ROOST_CONFIG) "
        "and ROOST_<SECTION>__<KEY> environment variables.",
    )
    parser.add_argument(
        CHECK_CONFIG,
        action="store_true",
        help=f"check the settings and exit (0: valid; {CONFIG_ERROR_EXIT}: the error on stderr)",
    )
    # An unknown argument is a usage error: argparse exits with 2, the config-error code.
    return parser.parse_args(argv)


def _config_error(service: str, exc: ConfigError) -> NoReturn:
    print(f"roost-{service}: {exc}", file=sys.stderr, flush=True)
    raise SystemExit(CONFIG_ERROR_EXIT) from None


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
