"""BME280: the driver's integer compensation against the datasheet, and the driver against
the simulated chip at register level."""

from __future__ import annotations

import random

import pytest

from roost_i2c_bridge.drivers.base import Identity, Probe
from roost_i2c_bridge.drivers.bme280 import (
    Bme280,
    Bme280Options,
    Bmp280,
    Calibration,
    compensate_humidity,
    compensate_pressure,
    compensate_temperature,
)
from roost_i2c_bridge.sim.bme280 import SimBme280, SimBmp280

from .conftest import Bench

# The BMP280 datasheet's worked example (section 3.12): trimming words and raw readings.
EXAMPLE = Calibration(27504, 26435, -1000, 36477, -10685, 3024, 2855, 140, -7, 15500, -14600, 6000)
EXAMPLE_ADC_T, EXAMPLE_ADC_P = 519888, 415148


# The datasheet's double-precision formulas (BME280 section 8.1), written out here on their
# own so the driver's integer arithmetic is checked against an independent computation.
def t_fine_double(adc_t: int, c: Calibration) -> float:
    var1 = (adc_t / 16384.0 - c.t1 / 1024.0) * c.t2
    var2 = ((adc_t / 131072.0 - c.t1 / 8192.0) * (adc_t / 131072.0 - c.t1 / 8192.0)) * c.t3
    return var1 + var2


def pressure_double(adc_p: int, c: Calibration, t_fine: float) -> float:
    var1 = t_fine / 2.0 - 64000.0
    var2 = var1 * var1 * c.p6 / 32768.0
    var2 = var2 + var1 * c.p5 * 2.0
    var2 = (var2 / 4.0) + (c.p4 * 65536.0)
    var1 = (c.p3 * var1 * var1 / 524288.0 + c.p2 * var1) / 524288.0
    var1 = (1.0 + var1 / 32768.0) * c.p1
    p = 1048576.0 - adc_p
    p = (p - (var2 / 4096.0)) * 6250.0 / var1
    var1 = c.p9 * p * p / 2147483648.0
    var2 = p * c.p8 / 32768.0
    return p + (var1 + var2 + c.p7) / 16.0


def humidity_double(adc_h: int, c: Calibration, t_fine: float) -> float:
    h = t_fine - 76800.0
    h = (adc_h - (c.h4 * 64.0 + c.h5 / 16384.0 * h)) * (
        c.h2 / 65536.0 * (1.0 + c.h6 / 67108864.0 * h * (1.0 + c.h3 / 67108864.0 * h))
    )
    h = h * (1.0 - c.h1 * h / 524288.0)
    return min(100.0, max(0.0, h))


def test_datasheet_worked_example() -> None:
    t_fine, centi = compensate_temperature(EXAMPLE_ADC_T, EXAMPLE)
    assert t_fine == 128422
    assert centi == 2508  # 25.08 °C
    pascal = compensate_pressure(EXAMPLE_ADC_P, EXAMPLE, t_fine) / 256
    assert pascal == pytest.approx(100653.27, abs=0.1)  # the datasheet's 100653.27 Pa
    assert t_fine_double(EXAMPLE_ADC_T, EXAMPLE) / 5120 == pytest.approx(25.08, abs=0.005)


def random_calibration(rng: random.Random) -> Calibration:
    """Trimming words spread around those of real parts."""
    return Calibration(
        t1=rng.randint(26000, 29000),
        t2=rng.randint(25000, 27500),
        t3=rng.randint(-1100, 100),
        p1=rng.randint(35000, 39000),
        p2=rng.randint(-11500, -10000),
        p3=rng.randint(2800, 3200),
        p4=rng.randint(2000, 9000),
        p5=rng.randint(-250, 250),
        p6=rng.randint(-10, -5),
        p7=rng.randint(9000, 16000),
        p8=rng.randint(-15000, -10000),
        p9=rng.randint(4000, 6500),
        h1=rng.randint(70, 80),
        h2=rng.randint(330, 380),
        h3=0,
        h4=rng.randint(280, 340),
        h5=rng.randint(0, 60),
        h6=rng.randint(25, 35),
    )


def test_integer_compensation_agrees_with_the_double_formulas() -> None:
    rng = random.Random(280)
    checked = 0
    for _ in range(300):
        cal = random_calibration(rng)
        adc_t = rng.randint(420000, 600000)
        adc_p = rng.randint(250000, 480000)
        adc_h = rng.randint(22000, 38000)
        t_fine, centi = compensate_temperature(adc_t, cal)
        fine = t_fine_double(adc_t, cal)
        # adc_T >> 3 drops up to 7/8 of a step worth T2 / 2048 (about 11) units of t_fine, the
        # other shifts a few more: at most 0.003 °C, below the result's 0.01 °C resolution.
        assert abs(t_fine - fine) <= 16
        assert centi / 100 == pytest.approx(fine / 5120, abs=0.01)
        pascal = compensate_pressure(adc_p, cal, t_fine) / 256
        expected_p = pressure_double(adc_p, cal, float(t_fine))
        if not 30000 <= expected_p <= 110000:
            continue
        assert pascal == pytest.approx(expected_p, abs=1.0)
        humidity = compensate_humidity(adc_h, cal, t_fine) / 1024
        assert humidity == pytest.approx(humidity_double(adc_h, cal, float(t_fine)), abs=0.05)
        checked += 1
    assert checked > 200


async def test_driver_reads_the_simulated_air(bench: Bench) -> None:
    bench.sim.attach(SimBme280(bench.world, 0x76))
    bench.world.pin("air.temperature", 21.5)
    bench.world.pin("air.humidity", 55.0)
    bench.world.pin("air.pressure", 1002.3)
    identity = await Bme280.identify(Probe(bench.bus, 0x76))
    assert identity == Identity(driver="bme280", model="BME280")
    options = Bme280Options.model_validate(
        {"oversampling_temperature": 16, "oversampling_pressure": 16, "oversampling_humidity": 16}
    )
    driver = Bme280(bench.bus, 0x76, identity, options)
    await driver.setup()
    values = await driver.sample()
    assert values["temperature"] == pytest.approx(21.5, abs=0.01)
    assert values["humidity"] == pytest.approx(55.0, abs=0.05)
    assert values["pressure"] == pytest.approx(1002.3, abs=0.02)
    bench.world.pin("air.temperature", -5.25)
    assert (await driver.sample())["temperature"] == pytest.approx(-5.25, abs=0.01)


async def test_settings_reach_the_registers(bench: Bench) -> None:
    chip = bench.sim.attach(SimBme280(bench.world, 0x77))
    assert isinstance(chip, SimBme280)
    options = Bme280Options.model_validate(
        {
            "mode": "normal",
            "oversampling_temperature": 2,
            "oversampling_pressure": 16,
            "oversampling_humidity": 4,
            "filter": 4,
            "standby": 125,
        }
    )
    driver = Bme280(bench.bus, 0x77, Bme280.default_identity(), options)
    await driver.setup()
    assert chip.regs[0xF2] == 0b011  # humidity ×4
    assert chip.regs[0xF4] == 0b010_101_11  # temperature ×2, pressure ×16, normal mode
    assert chip.regs[0xF5] == 0b010_010_00  # standby 125 ms, filter 4
    values = await driver.sample()
    assert set(values) == {"temperature", "pressure", "humidity"}


async def test_forced_mode_converts_once_per_sample(bench: Bench) -> None:
    chip = bench.sim.attach(SimBme280(bench.world, 0x76))
    assert isinstance(chip, SimBme280)
    driver = Bme280(bench.bus, 0x76, Bme280.default_identity(), Bme280Options.model_validate({}))
    await driver.setup()
    assert chip.conversions == 0  # sleep mode after setup: nothing converts
    # A forced conversion on the chip's own clock, held still: `measuring` is up until the
    # conversion time has passed, then the data is there and the chip is back asleep.
    now = [1000.0]
    chip.now = lambda: now[0]  # type: ignore[method-assign]
    bench.sim.write_byte_data(0x76, 0xF4, 0b001_001_01)
    assert bench.sim.read_byte_data(0x76, 0xF3) & 0x08
    now[0] += 0.005
    assert bench.sim.read_byte_data(0x76, 0xF3) & 0x08
    assert chip.conversions == 0
    now[0] += 0.005
    assert not bench.sim.read_byte_data(0x76, 0xF3) & 0x08
    assert chip.conversions == 1
    assert chip.regs[0xF4] & 0x03 == 0  # back to sleep
    del chip.now
    await driver.sample()
    assert chip.conversions == 2


async def test_skipped_humidity_is_not_a_property(bench: Bench) -> None:
    bench.sim.attach(SimBme280(bench.world, 0x76))
    options = Bme280Options.model_validate({"oversampling_humidity": 0})
    driver = Bme280(bench.bus, 0x76, Bme280.default_identity(), options)
    assert "humidity" not in driver.properties()
    await driver.setup()
    assert "humidity" not in await driver.sample()


async def test_bmp280_is_told_apart_by_its_chip_id(bench: Bench) -> None:
    bench.sim.attach(SimBmp280(bench.world, 0x76))
    probe = Probe(bench.bus, 0x76)
    assert await Bme280.identify(probe) is None
    identity = await Bmp280.identify(probe)
    assert identity is not None and identity.model == "BMP280"
    driver = Bmp280(bench.bus, 0x76, identity, Bme280Options.model_validate({}))
    assert set(driver.properties()) == {"temperature", "pressure"}
    await driver.setup()
    assert set(await driver.sample()) == {"temperature", "pressure"}


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="standby"):
        Bme280.parse_options({"standby": 300})
    with pytest.raises(ValueError, match="oversampling_temperature"):
        Bme280.parse_options({"oversampling_temperature": 3})
    with pytest.raises(ValueError, match="extra"):
        Bme280.parse_options({"oversample": 2})
