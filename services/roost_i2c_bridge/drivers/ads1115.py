"""TI ADS1115 16-bit 4-channel ADC (0x48–0x4B): voltages, or whatever they measure.

Each enabled channel is one single-shot conversion per sample: write the config register
(start, input, full-scale range, data rate), wait one conversion, poll the start bit, read
the conversion register. Registers are 16-bit big-endian. A channel can carry a linear
scale to what its sensor measures (a soil probe's % from its volts). Identified by the
comparator threshold registers, which hold 0x8000/0x7FFF from power-on and which roost
never writes.
"""

from __future__ import annotations

import asyncio
from typing import Literal

from pydantic import Field, field_validator

from roost.models.meta import PropertySpec
from roost_i2c_bridge.drivers.base import ChipError, Driver, DriverOptions, Identity, Probe, Values

CONVERSION, CONFIG, LO_THRESH, HI_THRESH = 0x00, 0x01, 0x02, 0x03
OS_START = 0x8000
MODE_SINGLE = 0x0100
COMPARATOR_OFF = 0x0003
RANGES = {6.144: 0, 4.096: 1, 2.048: 2, 1.024: 3, 0.512: 4, 0.256: 5}  # ±V → PGA code
DATA_RATES = {8: 0, 16: 1, 32: 2, 64: 3, 128: 4, 250: 5, 475: 6, 860: 7}  # SPS → DR code


class AdsChannel(DriverOptions):
    name: str | None = None
    range: float = 4.096  # ± full-scale volts
    unit: str = "V"
    scale: float = 1.0  # value = volts × scale + offset
    offset: float = 0.0
    precision: int = Field(default=3, ge=0, le=6)
    device_class: str | None = None
    enabled: bool = True

    @field_validator("range")
    @classmethod
    def _range(cls, value: float) -> float:
        if value not in RANGES:
            raise ValueError(f"range is one of {', '.join(map(str, RANGES))} V")
        return value


class Ads1115Options(DriverOptions):
    data_rate: Literal[8, 16, 32, 64, 128, 250, 475, 860] = 128
    channels: dict[int, AdsChannel] = Field(default_factory=dict)

    @field_validator("channels")
    @classmethod
    def _channels(cls, value: dict[int, AdsChannel]) -> dict[int, AdsChannel]:
        bad = [n for n in value if not 0 <= n <= 3]
        if bad:
            raise ValueError(f"channels are 0..3, not {bad}")
        return value

    def channel(self, n: int) -> AdsChannel:
        return self.channels.get(n) or AdsChannel()


def _signed(msb: int, lsb: int) -> int:
    value = msb << 8 | lsb
    return value - 0x10000 if value & 0x8000 else value


class Ads1115(Driver[Ads1115Options]):
    name = "ads1115"
    model = "ADS1115"
    manufacturer = "Texas Instruments"
    addresses = (0x48, 0x49, 0x4A, 0x4B)
    options_model = Ads1115Options

    @classmethod
    async def identify(cls, probe: Probe) -> Identity | None:
        bus, address = probe.bus, probe.address
        lo = await bus.read_block(address, LO_THRESH, 2)
        hi = await bus.read_block(address, HI_THRESH, 2)
        if lo == [0x80, 0x00] and hi == [0x7F, 0xFF]:
            return Identity(driver=cls.name, model=cls.model)
        return None

    def _enabled(self) -> list[int]:
        return [n for n in range(4) if self.options.channel(n).enabled]

    def properties(self) -> dict[str, PropertySpec]:
        props = {}
        for n in self._enabled():
            channel = self.options.channel(n)
            device_class = channel.device_class or ("voltage" if channel.unit == "V" else None)
            props[f"ain{n}"] = PropertySpec(
                kind="number",
                name=channel.name or f"Input {n}",
                unit=channel.unit,
                precision=channel.precision,
                device_class=device_class,
                state_class="measurement",
            )
        return props

    async def setup(self) -> Values:
        config = await self.bus.read_block(self.address, CONFIG, 2)
        if not config[0] & 0x80 and not config[1] & 0x03:
            raise ChipError(f"config register {bytes(config).hex()} is not an idle ADS1115's")
        return {}

    async def _convert(self, n: int) -> float:
        channel = self.options.channel(n)
        config = (
            OS_START
            | (0b100 + n) << 12
            | RANGES[channel.range] << 9
            | MODE_SINGLE
            | DATA_RATES[self.options.data_rate] << 5
            | COMPARATOR_OFF
        )
        await self.bus.write_block(self.address, CONFIG, [config >> 8, config & 0xFF])
        await asyncio.sleep(1 / self.options.data_rate + 0.0005)
        for _ in range(10):
            if (await self.bus.read_block(self.address, CONFIG, 2))[0] & 0x80:
                break
            await asyncio.sleep(0.001)
        else:
            raise ChipError("conversion did not finish")
        msb, lsb = await self.bus.read_block(self.address, CONVERSION, 2)
        volts = _signed(msb, lsb) * channel.range / 32768
        return volts * channel.scale + channel.offset

    async def sample(self) -> Values:
        return {f"ain{n}": await self._convert(n) for n in self._enabled()}
