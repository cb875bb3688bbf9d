"""PCA9685: register values for duty and frequency, the chip's rules, restarts."""

from __future__ import annotations

import pytest

from roost_i2c_bridge.drivers.base import Probe
from roost_i2c_bridge.drivers.pca9685 import (
    Pca9685,
    Pca9685Options,
    channel_registers,
    decode_channel,
    frequency_of,
    prescale_for,
)
from roost_i2c_bridge.sim.pca9685 import SimPca9685

from .conftest import Bench


@pytest.mark.parametrize(
    ("frequency", "prescale"),
    [(200, 30), (1000, 5), (50, 121), (1526, 3), (24, 253), (3000, 3), (10, 255)],
)
def test_prescale(frequency: float, prescale: int) -> None:
    assert prescale_for(frequency) == prescale  # round(25 MHz / (4096 f)) - 1, 3..255


def test_frequency_of_a_prescale() -> None:
    assert frequency_of(5) == pytest.approx(1017.25, abs=0.01)
    assert frequency_of(30, oscillator=26_000_000) == pytest.approx(204.76, abs=0.01)


@pytest.mark.parametrize(
    ("duty", "on", "registers"),
    [
        (40, True, [0x00, 0x00, 0x66, 0x06]),  # 1638 of 4096
        (50, True, [0x00, 0x00, 0x00, 0x08]),
        (0, True, [0x00, 0x00, 0x00, 0x00]),
        (100, True, [0x00, 0x10, 0x00, 0x00]),  # full on
        (40, False, [0x00, 0x00, 0x66, 0x16]),  # full off, the count kept
        (100, False, [0x00, 0x10, 0x00, 0x10]),  # full off beats full on
        (0.1, True, [0x00, 0x00, 0x04, 0x00]),
    ],
)
def test_channel_registers(duty: float, on: bool, registers: list[int]) -> None:
    assert channel_registers(duty, on) == registers
    back_duty, back_on = decode_channel(registers)
    assert back_on is on
    assert back_duty == pytest.approx(duty, abs=100 / 4096)


async def driver_for(bench: Bench, **options: object) -> tuple[Pca9685, SimPca9685]:
    chip = bench.sim.attach(SimPca9685(bench.world, 0x40))
    assert isinstance(chip, SimPca9685)
    identity = await Pca9685.identify(Probe(bench.bus, 0x40))
    assert identity is not None
    return Pca9685(bench.bus, 0x40, identity, Pca9685Options.model_validate(options)), chip


async def test_a_power_on_chip_is_initialised(bench: Bench) -> None:
    driver, chip = await driver_for(bench, frequency=1000)
    assert chip.regs[0x00] & 0x10  # asleep from power-on
    values = await driver.setup()
    assert chip.regs[0x00] == 0x21  # awake, auto-increment, all-call
    assert chip.regs[0x01] == 0x04  # totem-pole outputs
    assert chip.regs[0xFE] == 5
    assert values["frequency"] == pytest.approx(1017.25, abs=0.01)
    assert values["ch0_on"] is False  # power-on: every channel full-off


async def test_duty_reaches_registers_and_the_fan(bench: Bench) -> None:
    driver, chip = await driver_for(bench)
    await driver.setup()
    values = await driver.apply({"ch0_duty": 40})
    assert chip.regs[0x06:0x0A] == bytes([0x00, 0x00, 0x66, 0x06])
    assert values == {"ch0_duty": pytest.approx(39.99, abs=0.01), "ch0_on": True}
    assert bench.world.outputs["fan"] == pytest.approx(0.4, abs=0.001)
    await driver.apply({"ch0_on": False})
    assert chip.regs[0x09] == 0x16 and bench.world.outputs["fan"] == 0
    values = await driver.apply({"ch0_on": True})
    assert values["ch0_duty"] == pytest.approx(40, abs=0.03)  # switched on at its duty
    values = await driver.apply({"ch15_duty": 100, "ch15_on": False})
    assert chip.regs[0x42:0x46] == bytes([0x00, 0x10, 0x00, 0x10])
    assert values == {"ch15_duty": 100.0, "ch15_on": False}


async def test_frequency_change_goes_through_sleep(bench: Bench) -> None:
    driver, chip = await driver_for(bench)
    await driver.setup()
    await driver.apply({"ch1_duty": 25})
    # The chip ignores a prescale written while awake: only the datasheet's sequence works.
    await bench.bus.write_byte_data(0x40, 0xFE, 100)
    assert chip.regs[0xFE] == 30
    values = await driver.apply({"frequency": 50})
    assert chip.regs[0xFE] == 121
    assert values["frequency"] == pytest.approx(50.0, abs=0.1)
    assert not chip.regs[0x00] & 0x10  # awake again
    assert bench.world.outputs["grow_light"] == pytest.approx(0.25)


async def test_a_restart_leaves_running_outputs_alone(bench: Bench) -> None:
    driver, chip = await driver_for(bench, frequency=1000)
    await driver.setup()
    await driver.apply({"ch0_duty": 60})
    again = Pca9685(bench.bus, 0x40, Pca9685.default_identity(), Pca9685Options.model_validate({}))
    values = await again.setup()  # a new run of the bridge
    assert values["ch0_duty"] == pytest.approx(60, abs=0.03)
    assert values["ch0_on"] is True
    assert chip.regs[0xFE] == 5


def test_channel_names_and_checks() -> None:
    options = Pca9685Options.model_validate({"channels": {"0": "Fan"}})
    assert options.channels == {0: "Fan"}
    with pytest.raises(ValueError, match=r"0\.\.15"):
        Pca9685.parse_options({"channels": {16: "x"}})
