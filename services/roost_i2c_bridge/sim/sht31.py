"""A simulated SHT31 measuring the outside air: 16-bit commands, CRC-protected words, no
acknowledge while measuring, a heater that warms the sensor (and so lowers its RH)."""

from __future__ import annotations

import math

from roost_i2c_bridge.sim.chip import Nack, SimChip
from roost_i2c_bridge.sim.world import World

DURATION = {0x2400: 0.0125, 0x240B: 0.0045, 0x2416: 0.0025}  # typical; the driver waits max
HEATER_RISE = 3.0  # °C


def crc8(data: bytes) -> int:
    crc = 0xFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc << 1 ^ 0x31) & 0xFF if crc & 0x80 else crc << 1 & 0xFF
    return crc


def pack(*words: int) -> bytes:
    out = bytearray()
    for word in words:
        pair = bytes([word >> 8 & 0xFF, word & 0xFF])
        out += pair + bytes([crc8(pair)])
    return bytes(out)


def _saturation_pressure(t: float) -> float:
    """Magnus formula, hPa: relative humidity at a warmer sensor scales by its ratio."""
    return 6.112 * math.exp(17.62 * t / (243.12 + t))


class SimSht31(SimChip):
    type = "sht31"

    def __init__(self, world: World, address: int, serial: int = 0x1A2B3C4D) -> None:
        super().__init__(world, address)
        self.serial = serial
        self.heater = False
        self.status = 0x0010  # reset detected
        self._ready_at = 0.0
        self._reply: bytes | None = None

    def write(self, data: bytes) -> None:
        if len(data) < 2:
            return
        command = data[0] << 8 | data[1]
        self._reply = None
        if command in DURATION:
            air = self.world.outside()
            t = air.temperature + (HEATER_RISE if self.heater else 0.0)
            rh = air.humidity * _saturation_pressure(air.temperature) / _saturation_pressure(t)
            raw_t = round((t + 45) / 175 * 65535)
            raw_h = round(min(100.0, max(0.0, rh)) / 100 * 65535)
            self._reply = pack(max(0, min(65535, raw_t)), raw_h)
            self._ready_at = self.now() + DURATION[command]
        elif command == 0xF32D:
            self._reply = pack(self.status | (1 << 13 if self.heater else 0))
        elif command == 0x3780:
            self._reply = pack(self.serial >> 16, self.serial & 0xFFFF)
        elif command == 0x3041:
            self.status = 0
        elif command == 0x30A2:
            self.heater = False
            self.status = 0x0010
        elif command == 0x306D:
            self.heater = True
        elif command == 0x3066:
            self.heater = False
        else:
            self.status |= 0x0002  # last command not processed
            raise Nack

    def read(self, length: int) -> bytes:
        if self._reply is None or self.now() < self._ready_at:
            raise Nack
        reply, self._reply = self._reply, None
        return reply[:length].ljust(length, b"\xff")
