"""What a chip driver is: identification, properties, setup, sampling, commands.

A driver speaks one chip's protocol through an `I2cBus` and nothing else; it never touches
MQTT. Its manager calls `setup()` once the chip answers (and again after the chip was
lost, since a chip that lost power lost its configuration), `sample()` at the device's
interval, and `apply()` with validated commands. Each returns the values it read back from
the chip: state is what the chip says, never what was asked.

Errors: `OSError` from the bus (NACK, timeout) and `ChipError` (the chip answered nonsense:
a bad CRC, garbage) are I/O failures the manager retries with backoff. `CommandError` is a
refusal that goes back to whoever sent the command.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, JsonValue

from roost.errors import CommandError, ErrorCode
from roost.models.meta import PropertySpec
from roost_i2c_bridge.i2c_bus import I2cBus

Values = dict[str, JsonValue]


class ChipError(Exception):
    """The chip answered with something no working chip would say (bad CRC, garbage)."""


class DriverOptions(BaseModel):
    """A driver's `options` table in config; unknown keys are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class Identity:
    """What identification found at an address."""

    driver: str
    model: str
    serial: str | None = None
    firmware: str | None = None


@dataclass
class Probe:
    """One address during a scan. Replies that several drivers identify by (an EZO's `i`)
    are asked once and kept in `cache`."""

    bus: I2cBus
    address: int
    cache: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Method:
    """A request method of the device (calibration and other one-off actions)."""

    name: str
    handler: Callable[[Any], Awaitable[JsonValue]]
    params: type[BaseModel] | None = None
    title: str | None = None
    description: str | None = None


OptionsT = TypeVar("OptionsT", bound=DriverOptions)


class Driver(ABC, Generic[OptionsT]):
    """Base of every chip driver; subclasses register themselves in `DRIVERS` by name."""

    name: ClassVar[str]  # the registry key and the device id's prefix: "bme280"
    model: ClassVar[str]
    manufacturer: ClassVar[str]
    addresses: ClassVar[tuple[int, ...]]  # where a scan looks for this chip
    # False for chips with no way to tell them from others at the same addresses without
    # risking a write to something else: they are only used where config pins them.
    auto_identify: ClassVar[bool] = True
    options_model: ClassVar[type[DriverOptions]] = DriverOptions

    def __init__(self, bus: I2cBus, address: int, identity: Identity, options: OptionsT) -> None:
        self.bus = bus
        self.address = address
        self.identity = identity
        self.options = options
        self._changes: Values = {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.bus.name}, {self.address:#04x})"

    @classmethod
    def parse_options(cls, raw: dict[str, Any]) -> DriverOptions:
        return cls.options_model.model_validate(raw)

    @classmethod
    async def identify(cls, probe: Probe) -> Identity | None:
        """This chip's identity if the chip at `probe.address` is one, else None."""
        return None

    @classmethod
    def default_identity(cls) -> Identity:
        """The identity of a chip pinned in config that did not identify itself."""
        return Identity(driver=cls.name, model=cls.model)

    # what the device looks like --------------------------------------------------------
    @abstractmethod
    def properties(self) -> dict[str, PropertySpec]:
        """The device's properties (config may then change precision and deadband)."""

    def methods(self) -> list[Method]:
        return []

    def links(self) -> dict[str, str]:
        """Values this driver takes from other devices: link name → `device/prop` or
        `node/device/prop` (an EZO's temperature compensation)."""
        return {}

    def on_link(self, name: str, value: float) -> None:
        """A linked value arrived (from the broker; applied at the next sample)."""

    # the chip's I/O --------------------------------------------------------------------
    @abstractmethod
    async def setup(self) -> Values:
        """Configure the chip; return what it says its settable values are now."""

    @abstractmethod
    async def sample(self) -> Values:
        """Read the chip once."""

    async def apply(self, values: Values) -> Values:
        """Apply validated commands; return the values read back."""
        prop = next(iter(values), None)
        raise CommandError(ErrorCode.NOT_SETTABLE, f"{prop} is read-only", prop=prop)

    def report(self, values: Values) -> None:
        """State a method changed (a calibration's point count): published after it."""
        self._changes.update(values)

    def take_changes(self) -> Values:
        changes, self._changes = self._changes, {}
        return changes

    @property
    def sleeping(self) -> bool:
        """A chip put to sleep on purpose is not sampled (and not reported lost)."""
        return False


def slug(text: str) -> str:
    """A model name as a device id prefix: "EZO-pH" → "ezo-ph"."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def device_id(driver: str, address: int, bus: str | None) -> str:
    """`bme280-76` on the first bus, `bme280-76-bus3` (`-sim-b`) on the others."""
    base = f"{driver}-{address:02x}"
    if bus is None:
        return base
    return f"{base}-bus{bus}" if bus.isdigit() else f"{base}-{slug(bus)}"
