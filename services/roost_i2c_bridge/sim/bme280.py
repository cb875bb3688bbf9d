"""A simulated BME280/BMP280: registers, calibration words and raw ADC values.

The chip holds factory calibration words like a real one and reports raw 20-bit (16-bit
for humidity) ADC values. To produce them it inverts the datasheet's floating-point
compensation (section 8.1) for the air the world has, by bisection, so the driver's integer
compensation turns them back into that air. Forced mode converts once and returns to
sleep, with the `measuring` status bit set for the measurement time; normal mode converts
every measurement-plus-standby period. Data registers keep the previous result while a
conversion runs. Oversampling sets the resolution (16 bits at ×1 up to 20 at ×16).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from roost_i2c_bridge.sim.chip import RegisterChip
from roost_i2c_bridge.sim.world import Air, World

# Trimming words of a real-looking part: the temperature and pressure words are the
# BMP280 datasheet's worked example, the humidity words typical of BME280s in the field.
CALIBRATION = {
    "t1": 27504,
    "t2": 26435,
    "t3": -1000,
    "p1": 36477,
    "p2": -10685,
    "p3": 3024,
    "p4": 2855,
    "p5": 140,
    "p6": -7,
    "p7": 15500,
    "p8": -14600,
    "p9": 6000,
    "h1": 75,
    "h2": 362,
    "h3": 0,
    "h4": 313,
    "h5": 50,
    "h6": 30,
}
OSRS_FACTOR = {0: 0, 1: 1, 2: 2, 3: 4, 4: 8, 5: 16}
STANDBY_S = {0: 0.0005, 1: 0.0625, 2: 0.125, 3: 0.25, 4: 0.5, 5: 1.0, 6: 0.01, 7: 0.02}
RESET_VALUES = {0xF2: 0x00, 0xF3: 0x00, 0xF4: 0x00, 0xF5: 0x00}
DATA_RESET = bytes([0x80, 0x00, 0x00, 0x80, 0x00, 0x00, 0x80, 0x00])


def _le16(value: int) -> tuple[int, int]:
    value &= 0xFFFF
    return value & 0xFF, value >> 8


class _Float:
    """The datasheet's double-precision compensation, for inverting it."""

    def __init__(self, c: dict[str, int]) -> None:
        self.c = c

    def t_fine(self, adc_t: int) -> float:
        c = self.c
        var1 = (adc_t / 16384.0 - c["t1"] / 1024.0) * c["t2"]
        var2 = (adc_t / 131072.0 - c["t1"] / 8192.0) ** 2 * c["t3"]
        return var1 + var2

    def pressure(self, adc_p: int, t_fine: float) -> float:
        c = self.c
        var1 = t_fine / 2.0 - 64000.0
        var2 = var1 * var1 * c["p6"] / 32768.0
        var2 = var2 + var1 * c["p5"] * 2.0
        var2 = var2 / 4.0 + c["p4"] * 65536.0
        var1 = (c["p3"] * var1 * var1 / 524288.0 + c["p2"] * var1) / 524288.0
        var1 = (1.0 + var1 / 32768.0) * c["p1"]
        p = 1048576.0 - adc_p
        p = (p - var2 / 4096.0) * 6250.0 / var1
        var1 = c["p9"] * p * p / 2147483648.0
        var2 = p * c["p8"] / 32768.0
        return p + (var1 + var2 + c["p7"]) / 16.0

    def humidity(self, adc_h: int, t_fine: float) -> float:
        c = self.c
        h = t_fine - 76800.0
        h = (adc_h - (c["h4"] * 64.0 + c["h5"] / 16384.0 * h)) * (
            c["h2"] / 65536.0 * (1.0 + c["h6"] / 67108864.0 * h * (1.0 + c["h3"] / 67108864.0 * h))
        )
        return h * (1.0 - c["h1"] * h / 524288.0)


def _bisect(f: Callable[[int], float], target: float, bits: int, increasing: bool) -> int:
    """The ADC code in [0, 2**bits) whose compensated value is nearest `target`."""
    low, high = 0, (1 << bits) - 1
    while high - low > 1:
        mid = (low + high) // 2
        value = f(mid)
        if (value < target) == increasing:
            low = mid
        else:
            high = mid
    return low if abs(f(low) - target) <= abs(f(high) - target) else high


class SimBme280(RegisterChip):
    type = "bme280"
    chip_id: ClassVar[int] = 0x60
    has_humidity: ClassVar[bool] = True

    def __init__(self, world: World, address: int) -> None:
        super().__init__(world, address)
        self.formula = _Float(CALIBRATION)
        self._ctrl_hum_latched = 0
        self._busy_until = 0.0
        self._pending: Air | None = None
        self._next_normal = 0.0
        self._nvm_until = 0.0
        self.conversions = 0
        self._reset()

    def _reset(self) -> None:
        self.regs[:] = bytes(256)
        c = CALIBRATION
        tp = [*_le16(c["t1"]), *_le16(c["t2"]), *_le16(c["t3"]), *_le16(c["p1"])]
        for n in range(2, 10):
            tp.extend(_le16(c[f"p{n}"]))
        self.regs[0x88 : 0x88 + 24] = bytes(tp)
        self.regs[0xD0] = self.chip_id
        if self.has_humidity:
            self.regs[0xA1] = c["h1"]
            h4, h5 = c["h4"], c["h5"]
            self.regs[0xE1:0xE8] = bytes(
                [
                    *_le16(c["h2"]),
                    c["h3"],
                    (h4 >> 4) & 0xFF,
                    (h4 & 0x0F) | (h5 & 0x0F) << 4,
                    (h5 >> 4) & 0xFF,
                    c["h6"] & 0xFF,
                ]
            )
        for register, value in RESET_VALUES.items():
            self.regs[register] = value
        self.regs[0xF7:0xFF] = DATA_RESET
        self._ctrl_hum_latched = 0
        self._busy_until = 0.0
        self._pending = None
        self._nvm_until = self.now() + 0.002

    # the register interface ----------------------------------------------------------
    def write(self, data: bytes) -> None:
        # Multi-byte writes to a BME280 are register/value pairs, not auto-increment.
        for i in range(0, len(data) - 1, 2):
            self.write_register(data[i], data[i + 1])
        if data:
            self.pointer = data[-2] if len(data) % 2 == 0 else data[-1]

    def write_register(self, register: int, value: int) -> None:
        if register == 0xE0:
            if value == 0xB6:
                self._reset()
            return
        if register == 0xF2:
            self.regs[0xF2] = value & 0x07
        elif register == 0xF4:
            self._finish()
            self.regs[0xF4] = value
            self._ctrl_hum_latched = self.regs[0xF2]
            mode = value & 0x03
            if mode in (0b01, 0b10):
                self._start(self.now())
            elif mode == 0b11:
                self._next_normal = self.now()
        elif register == 0xF5:
            self.regs[0xF5] = value & 0xFD
        # everything else is read-only

    def read_register(self, register: int) -> int:
        now = self.now()
        self._finish(now)
        if register == 0xF3:
            status = 0x08 if now < self._busy_until else 0x00
            return status | (0x01 if now < self._nvm_until else 0x00)
        if 0xF7 <= register <= 0xFE and self.regs[0xF4] & 0x03 == 0b11:
            self._run_normal(now)
        return self.regs[register]

    # conversions -----------------------------------------------------------------------
    def _oversampling(self) -> tuple[int, int, int]:
        meas = self.regs[0xF4]
        return (
            OSRS_FACTOR.get(meas >> 5, 16),
            OSRS_FACTOR.get(meas >> 2 & 0x07, 16),
            OSRS_FACTOR.get(self._ctrl_hum_latched & 0x07, 16) if self.has_humidity else 0,
        )

    def _duration(self) -> float:
        t, p, h = self._oversampling()
        # Typical rather than maximum time: the driver waits for the maximum.
        ms = 1.0 + 2.0 * t + (2.0 * p + 0.5 if p else 0) + (2.0 * h + 0.5 if h else 0)
        return ms / 1000

    def _start(self, now: float) -> None:
        self._pending = self.world.air()
        self._busy_until = now + self._duration()

    def _finish(self, now: float | None = None) -> None:
        if self._pending is None or (now if now is not None else self.now()) < self._busy_until:
            return
        self._store(self._pending)
        self._pending = None
        if self.regs[0xF4] & 0x03 != 0b11:
            self.regs[0xF4] &= 0xFC  # forced mode returns to sleep

    def _run_normal(self, now: float) -> None:
        if now < self._next_normal:
            return
        self._store(self.world.air())
        standby = STANDBY_S[self.regs[0xF5] >> 5]
        self._next_normal = now + self._duration() + standby

    def _store(self, air: Air) -> None:
        self.conversions += 1
        t_os, p_os, h_os = self._oversampling()
        f = self.formula
        adc_t = _bisect(lambda a: f.t_fine(a) / 5120.0, air.temperature, 20, True)
        t_fine = float(int(f.t_fine(adc_t)))
        adc_p = _bisect(lambda a: f.pressure(a, t_fine), air.pressure * 100, 20, False)
        adc_h = _bisect(lambda a: f.humidity(a, t_fine), air.humidity, 16, True)

        def resolution(adc: int, factor: int) -> int:
            # 16 bits at ×1, one more per doubling: the low bits of a coarse reading are 0.
            drop = {1: 4, 2: 3, 4: 2, 8: 1}.get(factor, 0)
            return adc >> drop << drop

        data = bytearray(DATA_RESET)
        if p_os:
            adc_p = resolution(adc_p, p_os)
            data[0:3] = bytes([adc_p >> 12, adc_p >> 4 & 0xFF, (adc_p & 0x0F) << 4])
        if t_os:
            adc_t = resolution(adc_t, t_os)
            data[3:6] = bytes([adc_t >> 12, adc_t >> 4 & 0xFF, (adc_t & 0x0F) << 4])
        if h_os:
            data[6:8] = bytes([adc_h >> 8, adc_h & 0xFF])
        self.regs[0xF7:0xFF] = bytes(data)


class SimBmp280(SimBme280):
    type = "bmp280"
    chip_id = 0x58
    has_humidity = False
