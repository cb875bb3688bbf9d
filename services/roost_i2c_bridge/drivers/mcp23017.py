"""Microchip MCP23017 16-bit GPIO expander (0x20–0x27): relays as switches, inputs as
binary sensors.

Pins are named `a0`…`a7`, `b0`…`b7`. An output is a settable switch written through the
output latch (OLAT) and read back from the port; an input is a read-only switch with an
optional pull-up. `invert` makes a pin active-low (most relay boards). A bridge restart
leaves outputs as they are; a pin newly made an output starts inactive.

The MCP23017 has no identification register and shares its addresses with the PCF8574,
which takes any written byte as its outputs: probing could switch someone's relays. So it
is only driven where config pins `driver = "mcp23017"` to its address.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from roost.models.meta import PropertySpec
from roost_i2c_bridge.drivers.base import ChipError, Driver, DriverOptions, Values

IODIR, GPPU, IOCON, GPIO, OLAT = 0x00, 0x0C, 0x0A, 0x12, 0x14  # BANK=0 addresses (A; B is +1)
IOCON_BANK = 0x80
PIN = re.compile(r"^[ab][0-7]$")


class PinOptions(DriverOptions):
    mode: Literal["input", "output"] = "input"
    name: str | None = None
    pullup: bool = False
    invert: bool = False  # active-low: on = pin low


class Mcp23017Options(DriverOptions):
    pins: dict[str, PinOptions] = Field(default_factory=dict)  # none: all 16 are inputs

    @field_validator("pins")
    @classmethod
    def _names(cls, value: dict[str, PinOptions]) -> dict[str, PinOptions]:
        bad = [name for name in value if not PIN.match(name)]
        if bad:
            raise ValueError(f"pins are a0..a7 and b0..b7, not {', '.join(bad)}")
        return value


def _bit(pin: str) -> int:
    """The pin's bit in a 16-bit A|B<<8 word."""
    return 1 << (int(pin[1]) + (8 if pin[0] == "b" else 0))


class Mcp23017(Driver[Mcp23017Options]):
    name = "mcp23017"
    model = "MCP23017"
    manufacturer = "Microchip"
    addresses = (0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27)
    auto_identify = False
    options_model = Mcp23017Options

    def _pins(self) -> dict[str, PinOptions]:
        if self.options.pins:
            return dict(sorted(self.options.pins.items()))
        return {f"{port}{n}": PinOptions() for port in "ab" for n in range(8)}

    def properties(self) -> dict[str, PropertySpec]:
        return {
            pin: PropertySpec(
                kind="switch",
                name=options.name or pin.upper(),
                settable=options.mode == "output",
            )
            for pin, options in self._pins().items()
        }

    async def _word(self, register: int) -> int:
        low, high = await self.bus.read_block(self.address, register, 2)
        return low | high << 8

    async def _write_word(self, register: int, value: int) -> None:
        await self.bus.write_block(self.address, register, [value & 0xFF, value >> 8])

    async def setup(self) -> Values:
        if await self.bus.read_byte_data(self.address, IOCON) & IOCON_BANK:
            raise ChipError("IOCON.BANK is 1 (registers moved); power-cycle the chip")
        pins = self._pins()
        iodir, olat, gppu = await self._word(IODIR), await self._word(OLAT), await self._word(GPPU)
        new_iodir, new_olat, new_gppu = iodir, olat, gppu
        for pin, options in pins.items():
            bit = _bit(pin)
            if options.mode == "output":
                if iodir & bit:  # newly an output: start inactive
                    new_olat = new_olat | bit if options.invert else new_olat & ~bit
                new_iodir &= ~bit
            else:
                new_iodir |= bit
                new_gppu = new_gppu | bit if options.pullup else new_gppu & ~bit
        # The latch first, so a pin that becomes an output starts at its inactive level.
        if new_olat != olat:
            await self._write_word(OLAT, new_olat)
        if new_gppu != gppu:
            await self._write_word(GPPU, new_gppu)
        if new_iodir != iodir:
            await self._write_word(IODIR, new_iodir)
        if await self._word(IODIR) != new_iodir:
            raise ChipError("IODIR does not read back what was written")
        return await self.sample()

    async def sample(self) -> Values:
        levels = await self._word(GPIO)
        return {
            pin: bool(levels & _bit(pin)) != options.invert for pin, options in self._pins().items()
        }

    async def apply(self, values: Values) -> Values:
        pins = self._pins()
        olat = await self._word(OLAT)
        for pin, value in values.items():
            active_high = not pins[pin].invert
            olat = olat | _bit(pin) if bool(value) == active_high else olat & ~_bit(pin)
        await self._write_word(OLAT, olat)
        return await self.sample()
