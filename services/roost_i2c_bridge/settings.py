"""The `[i2c]` section: buses, scanning, sampling defaults, per-chip config, the simulator.

```toml
[i2c]
buses = [1]                     # /dev/i2c-1; "sim" is the simulated bus
scan_interval = 30

[[i2c.devices]]                 # optional: pin a driver, name a chip, tune or disable it
address = 0x40
driver = "pca9685"
name = "Greenhouse PWM"
options = { frequency = 1000, channels = { 0 = "Fan" } }
```
"""

from __future__ import annotations

import datetime
import glob
import re
from typing import Annotated, Any, Self

from pydantic import BeforeValidator, Field, ValidationError, model_validator

from roost.settings import RoostSettings, Section
from roost.topics import DeviceId, PropName
from roost_i2c_bridge.drivers import DRIVERS, candidates
from roost_i2c_bridge.sim.chips import SIM_CHIPS
from roost_i2c_bridge.sim.world_clock import DAY, LOCAL, WorldClock, parse_time_of_day

SIM_BUS = re.compile(r"^sim(-[a-z0-9]{1,16})?$")
DEV_BUS = re.compile(r"^/dev/i2c-(\d+)$")


def _bus_ref(value: object) -> object:
    """A bus is a number N (/dev/i2c-N), "/dev/i2c-N", or "sim" / "sim-<name>"."""
    if isinstance(value, bool):
        raise ValueError("a bus is a number (/dev/i2c-N) or 'sim'")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"bus number {value} is negative")
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return int(text)
        if match := DEV_BUS.match(text):
            return int(match.group(1))
        if SIM_BUS.match(text):
            return text
    raise ValueError(f"{value!r} is not a bus: use a number (1 for /dev/i2c-1) or 'sim'")


BusRef = Annotated[int | str, BeforeValidator(_bus_ref)]
Address = Annotated[int, Field(ge=0x03, le=0x77)]


def bus_label(bus: int | str) -> str:
    """`1` → "1", `"sim"` → "sim": the bus as people and device ids name it."""
    return str(bus)


class DeviceConfig(Section):
    """One chip: pin its driver, name it, tune its sampling, or disable it."""

    address: Address
    bus: BusRef | None = None  # None: the first bus in `buses`
    driver: str | None = None  # None: identify by scanning
    id: DeviceId | None = None
    name: str | None = None
    area: str | None = None
    enabled: bool = True
    interval: float | None = Field(default=None, gt=0)
    live_interval: float | None = Field(default=None, ge=0)
    precision: dict[PropName, Annotated[int, Field(ge=0, le=9)]] = Field(default_factory=dict)
    deadband: dict[PropName, Annotated[float, Field(ge=0)]] = Field(default_factory=dict)
    options: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.driver is None:
            # Not pinned: the options must suit a driver that may be found at this address.
            drivers = candidates(self.address) if self.options else []
            if self.options and not drivers:
                raise ValueError(
                    f"no driver is looked for at {self.address:#04x}: options need a driver"
                )
        else:
            pinned = DRIVERS.get(self.driver)
            if pinned is None:
                raise ValueError(
                    f"unknown driver {self.driver!r} (known: {', '.join(sorted(DRIVERS))})"
                )
            drivers = [pinned]
        errors = []
        for driver in drivers:
            try:
                driver.parse_options(self.options)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(part) for part in first["loc"])
                errors.append(f"options.{where}: {first['msg']} ({driver.name})")
        if drivers and len(errors) == len(drivers):
            raise ValueError("; ".join(errors))
        return self


class SimChipConfig(Section):
    """One simulated chip on a simulated bus."""

    type: str
    address: Address
    bus: str = "sim"

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.type not in SIM_CHIPS:
            raise ValueError(
                f"unknown simulated chip {self.type!r} (known: {', '.join(sorted(SIM_CHIPS))})"
            )
        if not SIM_BUS.match(self.bus):
            raise ValueError(f"simulated chips sit on a simulated bus ('sim…'), not {self.bus!r}")
        return self


def _time_of_day(value: object) -> object:
    """`"HH:MM"`, `"HH:MM:SS"`, a TOML local time (`12:00:00`) or `"local"`."""
    if isinstance(value, datetime.time):
        return value.strftime("%H:%M:%S")
    if isinstance(value, str):
        text = value.strip()
        if text == LOCAL:
            return text
        parse_time_of_day(text)
        return text
    raise ValueError('use "HH:MM" (e.g. "09:00") or "local" for the host\'s clock')


TimeOfDay = Annotated[str, BeforeValidator(_time_of_day)]


class SimSection(Section):
    """The simulated world. No `chips`: the demo greenhouse."""

    seed: int | None = None
    chips: list[SimChipConfig] | None = None
    noise: bool = True
    # The world's own clock: it starts at `time_of_day` and a day lasts `day_length`
    # seconds, whatever the host's clock and time zone; "local" follows the host's clock.
    time_of_day: TimeOfDay = "09:00"
    day_length: float = Field(default=DAY, ge=60, le=100 * DAY)

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.time_of_day == LOCAL and self.day_length != DAY:
            raise ValueError(
                'day_length: with time_of_day = "local" the world follows the host\'s clock, '
                "whose day is 86400 s; leave day_length out"
            )
        return self

    def world_clock(self) -> WorldClock:
        start = None if self.time_of_day == LOCAL else parse_time_of_day(self.time_of_day)
        return WorldClock(start=start, day_length=self.day_length)


class I2cSection(Section):
    buses: list[BusRef] | None = None  # None: every /dev/i2c-N there is, else the demo
    scan_interval: float = Field(default=30.0, gt=0)
    scan_addresses: list[Address] | None = None  # None: every address a driver knows
    interval: float = Field(default=5.0, gt=0)
    live_interval: float = Field(default=5.0, ge=0)
    heartbeat: float | None = Field(default=300.0, gt=0)
    offline_after: int = Field(default=3, ge=1)
    retry_max: float = Field(default=30.0, gt=0)
    timeout: float = Field(default=10.0, gt=0)
    devices: list[DeviceConfig] = Field(default_factory=list)
    sim: SimSection = Field(default_factory=SimSection)

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.buses is not None:
            if not self.buses:
                raise ValueError('buses is empty: name at least one bus, e.g. [1] or ["sim"]')
            if len(set(self.buses)) != len(self.buses):
                raise ValueError("buses lists a bus twice")
        seen: set[tuple[int | str | None, int]] = set()
        ids: set[str] = set()
        for device in self.devices:
            key = (device.bus, device.address)
            if key in seen:
                raise ValueError(f"devices: address {device.address:#04x} is configured twice")
            seen.add(key)
            if device.id is not None:
                if device.id in ids:
                    raise ValueError(f"devices: id {device.id!r} is used twice")
                ids.add(device.id)
        return self

    def resolved_buses(self) -> list[int | str]:
        """The buses to run: as configured, else every /dev/i2c-N, else the demo `sim`."""
        if self.buses is not None:
            return list(self.buses)
        found = sorted(int(path.rsplit("-", 1)[1]) for path in glob.glob("/dev/i2c-[0-9]*"))
        return list(found) if found else ["sim"]


class Settings(RoostSettings):
    i2c: I2cSection = Field(default_factory=I2cSection)
