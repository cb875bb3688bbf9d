"""Bosch BME280 (temperature, humidity, pressure) and BMP280 (no humidity), 0x76/0x77.

Identified by the chip-id register (0xD0: 0x60 BME280, 0x58 BMP280). Setup soft-resets the
chip, reads its factory calibration (0x88–0xA1, 0xE1–0xE7) and writes oversampling,
filter and mode. Forced mode (the datasheet's choice for weather monitoring) triggers one
conversion per sample, waits the datasheet's maximum measurement time and polls the
`measuring` bit; normal mode lets the chip convert on its own and reads the latest result.
Raw values become readings through the datasheet's integer compensation (section 4.2.3):
`t_fine` from temperature feeds pressure (64-bit) and humidity (32-bit).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pydantic import field_validator

from roost.models.meta import PropertySpec
from roost_i2c_bridge.drivers.base import (
    ChipError,
    Driver,
    DriverOptions,
    Identity,
    Probe,
    Values,
)

REG_CALIB_TP = 0x88  # 0x88..0xA1: T1..T3, P1..P9, (0xA0 unused), H1
REG_CHIP_ID = 0xD0
REG_RESET = 0xE0
REG_CALIB_H = 0xE1  # 0xE1..0xE7: H2..H6
REG_CTRL_HUM = 0xF2
REG_STATUS = 0xF3
REG_CTRL_MEAS = 0xF4
REG_CONFIG = 0xF5
REG_DATA = 0xF7  # 0xF7..0xFE: press msb/lsb/xlsb, temp msb/lsb/xlsb, hum msb/lsb
RESET_WORD = 0xB6
STATUS_MEASURING = 0x08
STATUS_IM_UPDATE = 0x01
MODE_SLEEP, MODE_FORCED, MODE_NORMAL = 0b00, 0b01, 0b11
SKIPPED_20BIT = 0x80000  # what a skipped (or not yet converted) channel reads
SKIPPED_16BIT = 0x8000
CHIP_ID_BME280 = 0x60
CHIP_IDS_BMP280 = (0x56, 0x57, 0x58)

OVERSAMPLING = {0: 0, 1: 1, 2: 2, 4: 3, 8: 4, 16: 5}  # ×n → register code
FILTER = {0: 0, 2: 1, 4: 2, 8: 3, 16: 4}
STANDBY_MS = {0.5: 0, 62.5: 1, 125.0: 2, 250.0: 3, 500.0: 4, 1000.0: 5, 10.0: 6, 20.0: 7}
Oversampling = Literal[0, 1, 2, 4, 8, 16]


def _u16(data: bytes | list[int], i: int) -> int:
    return data[i] | data[i + 1] << 8


def _s16(data: bytes | list[int], i: int) -> int:
    value = _u16(data, i)
    return value - 0x10000 if value & 0x8000 else value


def _s8(value: int) -> int:
    return value - 0x100 if value & 0x80 else value


@dataclass(frozen=True)
class Calibration:
    """The factory trimming parameters (datasheet table 16)."""

    t1: int
    t2: int
    t3: int
    p1: int
    p2: int
    p3: int
    p4: int
    p5: int
    p6: int
    p7: int
    p8: int
    p9: int
    h1: int = 0
    h2: int = 0
    h3: int = 0
    h4: int = 0
    h5: int = 0
    h6: int = 0

    @classmethod
    def parse(cls, tp: bytes | list[int], h: bytes | list[int] | None = None) -> Calibration:
        """From the 26 bytes at 0x88 and (BME280) the 7 bytes at 0xE1."""
        values: dict[str, Any] = {
            "t1": _u16(tp, 0),
            "t2": _s16(tp, 2),
            "t3": _s16(tp, 4),
            "p1": _u16(tp, 6),
            **{f"p{n}": _s16(tp, 8 + 2 * (n - 2)) for n in range(2, 10)},
        }
        if h is not None:
            values.update(
                h1=tp[25],
                h2=_s16(h, 0),
                h3=h[2],
                # H4 and H5 are 12-bit values sharing the nibbles of 0xE5; their high bytes
                # are signed.
                h4=_s8(h[3]) * 16 | (h[4] & 0x0F),
                h5=_s8(h[5]) * 16 | (h[4] >> 4),
                h6=_s8(h[6]),
            )
        cal = cls(**values)
        if cal.t1 == 0 or cal.p1 == 0:
            raise ChipError("calibration data is blank (dig_T1 or dig_P1 is 0)")
        return cal


def _cdiv(a: int, b: int) -> int:
    """C's integer division (truncates toward zero); Python's // floors."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def compensate_temperature(adc_t: int, cal: Calibration) -> tuple[int, int]:
    """(t_fine, temperature in 0.01 °C): BME280_compensate_T_int32."""
    var1 = (((adc_t >> 3) - (cal.t1 << 1)) * cal.t2) >> 11
    var2 = (((((adc_t >> 4) - cal.t1) * ((adc_t >> 4) - cal.t1)) >> 12) * cal.t3) >> 14
    t_fine = var1 + var2
    return t_fine, (t_fine * 5 + 128) >> 8


def compensate_pressure(adc_p: int, cal: Calibration, t_fine: int) -> int:
    """Pressure in Pa as Q24.8 (divide by 256): BME280_compensate_P_int64."""
    var1 = t_fine - 128000
    var2 = var1 * var1 * cal.p6
    var2 = var2 + ((var1 * cal.p5) << 17)
    var2 = var2 + (cal.p4 << 35)
    var1 = ((var1 * var1 * cal.p3) >> 8) + ((var1 * cal.p2) << 12)
    var1 = (((1 << 47) + var1) * cal.p1) >> 33
    if var1 == 0:
        return 0  # the datasheet's guard against division by zero
    p = 1048576 - adc_p
    p = _cdiv(((p << 31) - var2) * 3125, var1)
    var1 = (cal.p9 * (p >> 13) * (p >> 13)) >> 25
    var2 = (cal.p8 * p) >> 19
    return ((p + var1 + var2) >> 8) + (cal.p7 << 4)


def compensate_humidity(adc_h: int, cal: Calibration, t_fine: int) -> int:
    """Relative humidity in % as Q22.10 (divide by 1024): bme280_compensate_H_int32."""
    x = t_fine - 76800
    a = (((adc_h << 14) - (cal.h4 << 20) - (cal.h5 * x)) + 16384) >> 15
    b = (
        ((((((x * cal.h6) >> 10) * (((x * cal.h3) >> 11) + 32768)) >> 10) + 2097152) * cal.h2)
        + 8192
    ) >> 14
    v = a * b
    v = v - (((((v >> 15) * (v >> 15)) >> 7) * cal.h1) >> 4)
    v = max(0, min(v, 419430400))
    return v >> 12


def measurement_time(osrs_t: int, osrs_p: int, osrs_h: int) -> float:
    """The datasheet's maximum measurement time in seconds (section 9.1)."""
    ms = 1.25 + 2.3 * osrs_t
    if osrs_p:
        ms += 2.3 * osrs_p + 0.575
    if osrs_h:
        ms += 2.3 * osrs_h + 0.575
    return ms / 1000


class Bme280Options(DriverOptions):
    mode: Literal["forced", "normal"] = "forced"
    oversampling_temperature: Literal[1, 2, 4, 8, 16] = 1
    oversampling_pressure: Oversampling = 1
    oversampling_humidity: Oversampling = 1
    filter: Literal[0, 2, 4, 8, 16] = 0
    standby: float = 1000.0  # ms between conversions in normal mode

    @field_validator("standby")
    @classmethod
    def _standby(cls, value: float) -> float:
        if float(value) not in STANDBY_MS:
            raise ValueError(f"standby must be one of {', '.join(map(str, STANDBY_MS))} ms")
        return float(value)


class Bme280(Driver[Bme280Options]):
    name = "bme280"
    model = "BME280"
    manufacturer = "Bosch Sensortec"
    addresses = (0x76, 0x77)
    options_model = Bme280Options
    humidity: ClassVar[bool] = True
    chip_ids: ClassVar[tuple[int, ...]] = (CHIP_ID_BME280,)

    calibration: Calibration | None = None

    @classmethod
    async def identify(cls, probe: Probe) -> Identity | None:
        if "bosch_chip_id" not in probe.cache:
            probe.cache["bosch_chip_id"] = await probe.bus.read_byte_data(
                probe.address, REG_CHIP_ID
            )
        chip_id = probe.cache["bosch_chip_id"]
        if chip_id in cls.chip_ids:
            return Identity(driver=cls.name, model=cls.model, serial=None, firmware=None)
        return None

    def properties(self) -> dict[str, PropertySpec]:
        props = {
            "temperature": PropertySpec(
                kind="number",
                unit="°C",
                precision=2,
                device_class="temperature",
                state_class="measurement",
                deadband=0.1,
            ),
        }
        if self.options.oversampling_pressure:
            props["pressure"] = PropertySpec(
                kind="number",
                unit="hPa",
                precision=2,
                device_class="atmospheric_pressure",
                state_class="measurement",
                deadband=0.1,
            )
        if self.humidity and self.options.oversampling_humidity:
            props["humidity"] = PropertySpec(
                kind="number",
                unit="%",
                precision=1,
                device_class="humidity",
                state_class="measurement",
                deadband=0.5,
            )
        return props

    @property
    def _ctrl_meas(self) -> int:
        o = self.options
        return (
            OVERSAMPLING[o.oversampling_temperature] << 5
            | OVERSAMPLING[o.oversampling_pressure] << 2
        )

    async def setup(self) -> Values:
        bus, address, o = self.bus, self.address, self.options
        await bus.write_byte_data(address, REG_RESET, RESET_WORD)
        for _ in range(20):  # the chip copies its NVM after a reset (about 2 ms)
            await asyncio.sleep(0.002)
            if not await bus.read_byte_data(address, REG_STATUS) & STATUS_IM_UPDATE:
                break
        else:
            raise ChipError("stays busy copying its calibration after a reset")
        tp = await bus.read_block(address, REG_CALIB_TP, 26)
        h = await bus.read_block(address, REG_CALIB_H, 7) if self.humidity else None
        self.calibration = Calibration.parse(tp, h)
        # ctrl_hum takes effect at the next write of ctrl_meas, so it goes first; config
        # is only sure to be taken in sleep mode, which a reset leaves the chip in.
        if self.humidity:
            await bus.write_byte_data(address, REG_CTRL_HUM, OVERSAMPLING[o.oversampling_humidity])
        config = STANDBY_MS[o.standby] << 5 | FILTER[o.filter] << 2
        await bus.write_byte_data(address, REG_CONFIG, config)
        mode = MODE_NORMAL if o.mode == "normal" else MODE_SLEEP
        await bus.write_byte_data(address, REG_CTRL_MEAS, self._ctrl_meas | mode)
        if await bus.read_byte_data(address, REG_CTRL_MEAS) != self._ctrl_meas | mode:
            raise ChipError("ctrl_meas does not read back what was written")
        return {}

    async def sample(self) -> Values:
        bus, address, o = self.bus, self.address, self.options
        cal = self.calibration
        if cal is None:
            raise ChipError("not set up")
        if o.mode == "forced":
            await bus.write_byte_data(address, REG_CTRL_MEAS, self._ctrl_meas | MODE_FORCED)
            await asyncio.sleep(
                measurement_time(
                    o.oversampling_temperature,
                    o.oversampling_pressure,
                    o.oversampling_humidity if self.humidity else 0,
                )
            )
            for _ in range(10):
                if not await bus.read_byte_data(address, REG_STATUS) & STATUS_MEASURING:
                    break
                await asyncio.sleep(0.002)
            else:
                raise ChipError("measurement did not finish")
        raw = await bus.read_block(address, REG_DATA, 8 if self.humidity else 6)
        adc_p = raw[0] << 12 | raw[1] << 4 | raw[2] >> 4
        adc_t = raw[3] << 12 | raw[4] << 4 | raw[5] >> 4
        if adc_t == SKIPPED_20BIT:
            return {}  # normal mode before its first conversion
        t_fine, centi = compensate_temperature(adc_t, cal)
        values: Values = {"temperature": centi / 100}
        if not -40 <= centi / 100 <= 85:
            raise ChipError(f"temperature {centi / 100} °C is outside what the chip measures")
        if o.oversampling_pressure and adc_p != SKIPPED_20BIT:
            hpa = compensate_pressure(adc_p, cal, t_fine) / 256 / 100
            if not 300 <= hpa <= 1100:
                raise ChipError(f"pressure {hpa:.2f} hPa is outside what the chip measures")
            values["pressure"] = hpa
        if self.humidity and o.oversampling_humidity:
            adc_h = raw[6] << 8 | raw[7]
            if adc_h != SKIPPED_16BIT:
                values["humidity"] = compensate_humidity(adc_h, cal, t_fine) / 1024
        return values


class Bmp280(Bme280):
    """The BME280 without its humidity sensor; same registers, same compensation."""

    name = "bmp280"
    model = "BMP280"
    humidity = False
    chip_ids = CHIP_IDS_BMP280
