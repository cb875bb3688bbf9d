"""A simulated ADS1115 wired to the greenhouse: AIN0 a capacitive soil-moisture probe, AIN1
a light sensor, AIN2 the 3.3 V rail through a 1:2 divider, AIN3 grounded.

16-bit registers behind a pointer register, big-endian; a single-shot conversion takes one
sample period at the configured data rate and the config register's OS bit reads 0 until
it is done.
"""

from __future__ import annotations

from roost_i2c_bridge.sim.chip import SimChip
from roost_i2c_bridge.sim.world import World

FSR = {0: 6.144, 1: 4.096, 2: 2.048, 3: 1.024, 4: 0.512, 5: 0.256, 6: 0.256, 7: 0.256}
SPS = {0: 8, 1: 16, 2: 32, 3: 64, 4: 128, 5: 250, 6: 475, 7: 860}
DIFFERENTIAL = {0: (0, 1), 1: (0, 3), 2: (1, 3), 3: (2, 3)}


class SimAds1115(SimChip):
    type = "ads1115"

    def __init__(self, world: World, address: int) -> None:
        super().__init__(world, address)
        self.regs = [0x0000, 0x8583, 0x8000, 0x7FFF]
        self.pointer = 0
        self._done_at = 0.0
        self._pending: int | None = None

    def inputs(self) -> list[float]:
        moisture = self.world.soil_moisture()
        lux = self.world.light()
        return [2.85 - 1.7 * moisture / 100, min(3.3, lux / 40000 * 3.0), 1.65, 0.0005]

    def _finish(self) -> None:
        if self._pending is not None and self.now() >= self._done_at:
            self.regs[0] = self._pending
            self._pending = None
            self.regs[1] |= 0x8000

    def _convert(self, config: int) -> None:
        mux = config >> 12 & 0x07
        volts = self.inputs()
        if mux >= 4:
            value = volts[mux - 4]
        else:
            plus, minus = DIFFERENTIAL[mux]
            value = volts[plus] - volts[minus]
        fsr = FSR[config >> 9 & 0x07]
        code = max(-32768, min(32767, round(value / fsr * 32768)))
        self._pending = code & 0xFFFF
        self._done_at = self.now() + 1 / SPS[config >> 5 & 0x07]

    def write(self, data: bytes) -> None:
        if not data:
            return
        self.pointer = data[0] & 0x03
        if len(data) < 3:
            return
        self._finish()
        value = data[1] << 8 | data[2]
        if self.pointer == 1:
            start = value & 0x8000 and self._pending is None
            self.regs[1] = value & 0x7FFF
            if start or not value & 0x0100:  # single shot started, or continuous mode
                self._convert(value)
            else:
                self.regs[1] |= 0x8000
        elif self.pointer in (2, 3):
            self.regs[self.pointer] = value

    def read(self, length: int) -> bytes:
        self._finish()
        word = self.regs[self.pointer]
        return bytes([word >> 8, word & 0xFF] * ((length + 1) // 2))[:length]
