"""What every CLI command shares: settings, exit codes, and a connection with a mirror."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from enum import IntEnum
from typing import Any, NoReturn, TypeVar

from pydantic import Field
from rich.console import Console

from roost.bus import Bus
from roost.errors import CONFIG_ERROR_EXIT, BusError, ConfigError
from roost.mirror import StateView
from roost.settings import RoostSettings, Section, load_settings

T = TypeVar("T")
console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


class Exit(IntEnum):
    OK = 0
    REJECTED = 1
    USAGE = CONFIG_ERROR_EXIT  # a wrong command line or config
    TIMEOUT = 3
    UNREACHABLE = 4


class CliSection(Section):
    timeout: float = Field(default=5.0, gt=0)


class CliSettings(RoostSettings):
    cli: CliSection = Field(default_factory=CliSection)


def fail(message: str, code: Exit) -> NoReturn:
    err_console.print(f"roost: {message}", markup=False)
    raise SystemExit(int(code))


def settings() -> CliSettings:
    try:
        return load_settings(CliSettings)
    except ConfigError as exc:
        fail(str(exc), Exit.USAGE)


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine; broker trouble becomes one line and exit code 4."""
    try:
        return asyncio.run(coro)
    except BusError as exc:
        fail(str(exc), Exit.UNREACHABLE)
    except KeyboardInterrupt:
        raise SystemExit(130) from None


@asynccontextmanager
async def connected(
    config: CliSettings, *, events: bool = False, errors: bool = False
) -> AsyncIterator[tuple[Bus, StateView]]:
    """A bus and a mirror holding every retained node and device topic."""
    async with Bus(config.mqtt, reconnect=False, connect_timeout=config.cli.timeout) as bus:
        view = StateView(config.mqtt.topics(), events=events, errors=errors)
        await view.attach(bus)
        await bus.sync(config.cli.timeout)
        yield bus, view
