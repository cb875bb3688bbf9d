"""Sensirion SHT31 (SHT3x) temperature and humidity (0x44/0x45), every reading CRC-checked.

Single-shot measurements without clock stretching: write the 16-bit command, wait the
measurement time, read six bytes (temperature word, CRC, humidity word, CRC). A read during
the measurement is not acknowledged and is tried again shortly after. Identified by a
status-register read whose CRC checks out. The built-in heater (to drive off condensation)
is a settable switch.
"""

from __future__ import annotations

import asyncio
from typing import Literal

from roost.models.meta import PropertySpec
from roost_i2c_bridge.drivers.base import ChipError, Driver, DriverOptions, Identity, Probe, Values
from roost_i2c_bridge.i2c_bus import I2cBus

MEASURE = {"high": (0x2400, 0.0155), "medium": (0x240B, 0.0065), "low": (0x2416, 0.0045)}
READ_STATUS = 0xF32D
CLEAR_STATUS = 0x3041
SOFT_RESET = 0x30A2
HEATER_ON, HEATER_OFF = 0x306D, 0x3066
READ_SERIAL = 0x3780
STATUS_HEATER = 1 << 13


def crc8(data: bytes) -> int:
    """Sensirion's CRC-8: polynomial 0x31, initial 0xFF (CRC of 0xBEEF is 0x92)."""
    crc = 0xFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc << 1 ^ 0x31) & 0xFF if crc & 0x80 else crc << 1 & 0xFF
    return crc


def words(data: bytes) -> list[int]:
    """16-bit words from (msb, lsb, crc) triplets; a bad CRC is a ChipError."""
    out = []
    for i in range(0, len(data) - 2, 3):
        chunk = data[i : i + 2]
        if crc8(chunk) != data[i + 2]:
            raise ChipError(f"CRC mismatch on {chunk.hex()} (got {data[i + 2]:#04x})")
        out.append(chunk[0] << 8 | chunk[1])
    return out


def temperature(raw: int) -> float:
    return -45 + 175 * raw / 65535


def humidity(raw: int) -> float:
    return 100 * raw / 65535


class Sht31Options(DriverOptions):
    repeatability: Literal["high", "medium", "low"] = "high"


async def _command(bus: I2cBus, address: int, command: int) -> None:
    await bus.write(address, bytes([command >> 8, command & 0xFF]))


class Sht31(Driver[Sht31Options]):
    name = "sht31"
    model = "SHT31"
    manufacturer = "Sensirion"
    addresses = (0x44, 0x45)
    options_model = Sht31Options

    @classmethod
    async def identify(cls, probe: Probe) -> Identity | None:
        bus, address = probe.bus, probe.address
        try:
            await _command(bus, address, READ_STATUS)
            words(await bus.read(address, 3))
        except ChipError:
            return None
        serial = None
        try:
            await _command(bus, address, READ_SERIAL)
            high, low = words(await bus.read(address, 6))
            serial = f"{high << 16 | low:08x}"
        except (OSError, ChipError):
            pass  # older parts have no serial-number command
        return Identity(driver=cls.name, model=cls.model, serial=serial)

    def properties(self) -> dict[str, PropertySpec]:
        return {
            "temperature": PropertySpec(
                kind="number",
                unit="°C",
                precision=2,
                device_class="temperature",
                state_class="measurement",
                deadband=0.1,
            ),
            "humidity": PropertySpec(
                kind="number",
                unit="%",
                precision=1,
                device_class="humidity",
                state_class="measurement",
                deadband=0.5,
            ),
            "heater": PropertySpec(kind="switch", settable=True, entity_category="config"),
        }

    async def _status(self) -> int:
        await _command(self.bus, self.address, READ_STATUS)
        return words(await self.bus.read(self.address, 3))[0]

    async def setup(self) -> Values:
        await _command(self.bus, self.address, SOFT_RESET)
        await asyncio.sleep(0.002)
        await _command(self.bus, self.address, CLEAR_STATUS)
        return {"heater": bool(await self._status() & STATUS_HEATER)}

    async def sample(self) -> Values:
        command, duration = MEASURE[self.options.repeatability]
        await _command(self.bus, self.address, command)
        await asyncio.sleep(duration)
        for attempt in range(5):
            try:
                data = await self.bus.read(self.address, 6)
                break
            except OSError:
                if attempt == 4:
                    raise
                await asyncio.sleep(0.002)  # still measuring: it does not acknowledge
        raw_t, raw_h = words(data)
        return {"temperature": temperature(raw_t), "humidity": humidity(raw_h)}

    async def apply(self, values: Values) -> Values:
        if "heater" in values:
            await _command(self.bus, self.address, HEATER_ON if values["heater"] else HEATER_OFF)
        return {"heater": bool(await self._status() & STATUS_HEATER)}
