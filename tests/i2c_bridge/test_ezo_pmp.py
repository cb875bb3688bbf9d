"""EZO-PMP: doses, continuous running, stop, pause, totals, and the pump's acid reaching
the simulated reservoir."""

from __future__ import annotations

import asyncio

import pytest

from roost.errors import CommandError
from roost_i2c_bridge.drivers.base import Values
from roost_i2c_bridge.drivers.ezo_pmp import DoseAtRate, DoseOverTime, EzoPmp
from roost_i2c_bridge.sim.ezo_pmp import SimEzoPmp
from roost_i2c_bridge.sim.world import World

from .conftest import Bench

pytestmark = pytest.mark.usefixtures("fast_ezo")


async def pump(bench: Bench) -> tuple[EzoPmp, SimEzoPmp]:
    chip = bench.sim.attach(SimEzoPmp(bench.world, 0x67))
    assert isinstance(chip, SimEzoPmp)
    driver = EzoPmp(bench.bus, 0x67, EzoPmp.default_identity(), EzoPmp.parse_options({}))
    values = await driver.setup()
    assert values["dispensing"] is False
    assert values["max_flow_rate"] == 105.0
    return driver, chip


async def until_idle(driver: EzoPmp) -> Values:
    while True:
        values = await driver.sample()
        if not values["dispensing"]:
            return values
        await asyncio.sleep(0.05)


async def test_a_dose_is_dispensed_and_reported(bench: Bench) -> None:
    driver, _ = await pump(bench)
    started = await driver.apply({"dose": 1.5})
    assert started["dose"] == 1.5
    assert started["dispensing"] is True
    done = await until_idle(driver)  # 1.5 mL at 105 mL/min: under a second
    assert done["dispensed"] == 1.5
    assert done["total_volume"] == 1.5
    assert bench.world.dosed_ml == pytest.approx(1.5)
    await driver.apply({"dose": -0.5})  # backwards
    done = await until_idle(driver)
    assert done["dispensed"] == -0.5
    assert done["total_volume"] == 1.0
    state = await driver._clear_total(None)
    assert state["total_volume"] == 0.0  # type: ignore[index, call-overload]


async def test_continuous_pause_and_stop(bench: Bench) -> None:
    driver, chip = await pump(bench)
    assert (await driver.apply({"dispensing": True}))["dispensing"] is True
    paused = await driver.apply({"paused": True})
    assert paused["paused"] is True and chip.paused
    assert (await driver.apply({"paused": True}))["paused"] is True  # not toggled back
    assert (await driver.apply({"paused": False}))["paused"] is False
    stopped = await driver.apply({"dispensing": False})
    assert stopped["dispensing"] is False
    assert "X" in chip.commands


async def test_dose_over_time_and_at_a_rate(bench: Bench) -> None:
    driver, chip = await pump(bench)
    state = await driver._dose_over_time(DoseOverTime(volume=10, minutes=5))
    assert state["dispensing"] is True  # type: ignore[index, call-overload]
    assert chip.rate == pytest.approx(2.0)  # mL/min
    with pytest.raises(CommandError, match="refused"):
        await driver.apply({"dose": 1})  # a dose is already running
    await driver._stop(None)
    await driver._dose_at_rate(DoseAtRate(rate=20))
    assert "DC,20.00,*" in chip.commands and chip.target is None
    await driver._stop(None)


async def test_a_zero_dose_is_refused(bench: Bench) -> None:
    driver, _ = await pump(bench)
    with pytest.raises(CommandError, match="0 mL"):
        await driver.apply({"dose": 0})


def test_acid_lowers_the_reservoir_ph() -> None:
    now = [1_000_000.0]
    world = World(seed=1, noise=False, clock=lambda: now[0])
    before = world.water().ph
    world.dose_acid(10)
    assert world.water().ph == pytest.approx(before, abs=0.001)  # not mixed in yet
    now[0] += 600
    after = world.water().ph
    assert before - after == pytest.approx(0.3, abs=0.02)  # 0.03 per mL once mixed
