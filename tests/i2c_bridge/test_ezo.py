"""Atlas EZO circuits: the status codes on the wire, the driver's protocol handling, and
what calibration, temperature compensation, LED and sleep do."""

from __future__ import annotations

import asyncio
import time

import pytest

from roost.errors import CommandError
from roost_i2c_bridge.drivers import ezo
from roost_i2c_bridge.drivers.base import ChipError, Probe
from roost_i2c_bridge.drivers.ezo_do import EzoDo
from roost_i2c_bridge.drivers.ezo_ec import EzoEc
from roost_i2c_bridge.drivers.ezo_ph import EzoPh, PhCalibration
from roost_i2c_bridge.drivers.ezo_rtd import EzoRtd, RtdCalibration
from roost_i2c_bridge.sim.bus import Fault
from roost_i2c_bridge.sim.ezo import SimEzoDo, SimEzoEc, SimEzoPh, SimEzoRtd

from .conftest import Bench


async def test_status_codes_on_the_wire(bench: Bench) -> None:
    """1 success, 2 syntax error, 254 still processing, 255 no data."""
    bench.sim.attach(SimEzoPh(bench.world, 0x63))
    bus = bench.bus
    assert (await bus.read(0x63, 40))[0] == 255  # nothing asked yet
    await bus.write(0x63, b"R")
    assert (await bus.read(0x63, 40))[0] == 254  # read far too early
    await asyncio.sleep(0.9)
    reply = await bus.read(0x63, 40)
    assert reply[0] == 1
    assert 0 < float(ezo.decode(reply[1:])) < 14
    assert (await bus.read(0x63, 40))[0] == 255  # the reply was taken
    await bus.write(0x63, b"Bogus,1")
    await asyncio.sleep(0.3)
    assert (await bus.read(0x63, 40))[0] == 2


async def test_query_waits_out_a_pending_reply(bench: Bench) -> None:
    bench.sim.attach(SimEzoPh(bench.world, 0x63))
    start = time.monotonic()
    # Told to read at once, the driver meets 254 and polls until the 900 ms are over.
    reply = await ezo.query(bench.bus, 0x63, "R", delay=0)
    assert time.monotonic() - start >= 0.9
    assert float(reply) > 0
    with pytest.raises(ezo.EzoSyntaxError):
        await ezo.query(bench.bus, 0x63, "Nonsense")


def test_replies_are_checked() -> None:
    assert ezo.decode(b"7.002\0\0\0") == "7.002"
    assert ezo.decode(bytes([ord("7") | 0x80]) + b".0\0") == "7.0"  # the Pi's stray high bit
    with pytest.raises(ChipError):
        ezo.decode(b"7.\x01\x02\0")
    with pytest.raises(ChipError):
        ezo.fields("?L,1", "CAL")
    assert ezo.fields("?Cal,2", "CAL") == ["2"]
    assert ezo.number("*OV") is None
    with pytest.raises(ChipError):
        ezo.number("7x")


@pytest.mark.usefixtures("fast_ezo")
async def test_garbage_is_a_chip_error(bench: Bench) -> None:
    bench.sim.attach(SimEzoPh(bench.world, 0x63))
    bench.sim.inject(0x63, Fault.GARBAGE)
    failures = 0
    for _ in range(5):  # random bytes could spell a status byte now and then
        try:
            await ezo.query(bench.bus, 0x63, "i")
        except ChipError:
            failures += 1
    assert failures >= 4


async def ph_driver(bench: Bench, **options: object) -> tuple[EzoPh, SimEzoPh]:
    chip = bench.sim.attach(SimEzoPh(bench.world, 0x63))
    assert isinstance(chip, SimEzoPh)
    identity = await EzoPh.identify(Probe(bench.bus, 0x63))
    assert identity is not None and identity.firmware == "2.16"
    driver = EzoPh(bench.bus, 0x63, identity, EzoPh.parse_options(options))
    return driver, chip


@pytest.mark.usefixtures("fast_ezo")
async def test_ph_calibration_removes_the_probe_offset(bench: Bench) -> None:
    bench.world.pin("water.ph", 7.0)
    bench.world.pin("water.temperature", 25.0)
    driver, chip = await ph_driver(bench)
    values = await driver.setup()
    assert values["calibration"] == 0
    assert values["led"] is True
    assert values["restart_reason"] == "powered_off"
    before = (await driver.sample())["ph"]
    assert before == pytest.approx(7.15, abs=0.005)  # an uncalibrated probe is off
    result = await driver._calibrate(PhCalibration(point="mid", value=7.0))
    assert result == {
        "command": "Cal,mid,7.00",
        "calibration": 1,
        "acid_slope": 97.2,
        "base_slope": 96.5,
    }
    assert driver.take_changes()["calibration"] == 1
    assert (await driver.sample())["ph"] == pytest.approx(7.0, abs=0.005)
    assert "Cal,mid,7.00" in chip.commands
    await driver._calibrate(PhCalibration(point="clear"))
    assert chip.calibration_points == 0
    with pytest.raises(ValueError, match="needs the buffer"):
        PhCalibration(point="low")


@pytest.mark.usefixtures("fast_ezo")
async def test_temperature_compensation_follows_its_link(bench: Bench) -> None:
    bench.world.pin("water.ph", 5.0)
    bench.world.pin("water.temperature", 15.0)
    driver, chip = await ph_driver(bench, temperature_source="ezo-rtd-66/temperature")
    assert driver.links() == {"temperature": "ezo-rtd-66/temperature"}
    await driver.setup()
    await driver._calibrate(PhCalibration(point="mid", value=7.0))
    await driver._calibrate(PhCalibration(point="low", value=4.0))
    wrong = (await driver.sample())["ph"]  # compensating for 25 °C in 15 °C water
    assert isinstance(wrong, float) and wrong == pytest.approx(5.07, abs=0.01)
    driver.on_link("temperature", 15.04)
    values = await driver.sample()
    assert values["temperature_compensation"] == 15.0
    assert chip.compensation == 15.0
    assert values["ph"] == pytest.approx(5.0, abs=0.005)
    # An unchanged temperature is not sent again.
    sent = len(chip.commands)
    await driver.sample()
    assert chip.commands[sent:] == ["R"]


@pytest.mark.usefixtures("fast_ezo")
async def test_fixed_compensation_and_manual_setting(bench: Bench) -> None:
    driver, chip = await ph_driver(bench, temperature=19.5)
    values = await driver.setup()
    assert values["temperature_compensation"] == 19.5
    assert await driver.apply({"temperature_compensation": 22.25}) == {
        "temperature_compensation": 22.2
    }
    assert chip.compensation == 22.2


@pytest.mark.usefixtures("fast_ezo")
async def test_led_and_sleep(bench: Bench) -> None:
    driver, chip = await ph_driver(bench)
    await driver.setup()
    assert await driver.apply({"led": False}) == {"led": False}
    assert chip.led is False
    assert await driver.apply({"sleep": True}) == {"sleep": True}
    assert chip.asleep and driver.sleeping
    assert await driver.apply({"sleep": False}) == {"sleep": False}
    assert (chip.asleep, driver.sleeping) == (False, False)


@pytest.mark.usefixtures("fast_ezo")
async def test_any_other_command_through_the_method(bench: Bench) -> None:
    driver, _ = await ph_driver(bench)
    params = ezo.CommandParams(command="Slope,?")
    assert await driver._command(params) == {"reply": "?Slope,97.2,96.5,-0.89"}
    with pytest.raises(CommandError, match="syntax error"):
        await driver._command(ezo.CommandParams(command="Frobnicate"))


@pytest.mark.usefixtures("fast_ezo")
async def test_ec_reads_the_outputs_the_circuit_has_on(bench: Bench) -> None:
    chip = bench.sim.attach(SimEzoEc(bench.world, 0x64))
    assert isinstance(chip, SimEzoEc)
    chip.outputs["TDS"] = False
    bench.world.pin("water.ec", 1413)
    bench.world.pin("water.temperature", 25.0)
    driver = EzoEc(bench.bus, 0x64, EzoEc.default_identity(), EzoEc.parse_options({"probe_k": 0.1}))
    values = await driver.setup()
    assert values["probe_k"] == 0.1
    assert chip.k == 0.1
    sample = await driver.sample()
    assert sample["conductivity"] == 1413
    assert sample["tds"] is None
    assert sample["salinity"] == pytest.approx(0.78, abs=0.01)


@pytest.mark.usefixtures("fast_ezo")
async def test_ec_without_compensation_drifts_with_water_temperature(bench: Bench) -> None:
    bench.sim.attach(SimEzoEc(bench.world, 0x64))
    bench.world.pin("water.ec", 1000)
    bench.world.pin("water.temperature", 15.0)
    driver = EzoEc(bench.bus, 0x64, EzoEc.default_identity(), EzoEc.parse_options({}))
    await driver.setup()
    assert (await driver.sample())["conductivity"] == 800  # 2 %/°C at 10 °C below 25
    driver.on_link("temperature", 15.0)
    assert (await driver.sample())["conductivity"] == 1000


@pytest.mark.usefixtures("fast_ezo")
async def test_do_saturation_and_atmospheric_calibration(bench: Bench) -> None:
    bench.sim.attach(SimEzoDo(bench.world, 0x61))
    driver = EzoDo(bench.bus, 0x61, EzoDo.default_identity(), EzoDo.parse_options({}))
    await driver.setup()
    sample = await driver.sample()
    assert 5 < sample["dissolved_oxygen"] < 12  # type: ignore[operator]
    assert 80 < sample["saturation"] < 100  # type: ignore[operator]
    result = await driver._calibrate(
        driver.calibration_params().model_validate({"point": "atmospheric"})
    )
    assert result["calibration"] == 1  # type: ignore[index, call-overload]


@pytest.mark.usefixtures("fast_ezo")
async def test_rtd_reports_celsius_whatever_its_scale(bench: Bench) -> None:
    chip = bench.sim.attach(SimEzoRtd(bench.world, 0x66))
    assert isinstance(chip, SimEzoRtd)
    chip.scale = "f"
    bench.world.pin("water.temperature", 20.0)
    driver = EzoRtd(bench.bus, 0x66, EzoRtd.default_identity(), EzoRtd.parse_options({}))
    await driver.setup()
    assert (await driver.sample())["temperature"] == pytest.approx(20.0, abs=0.001)
    await driver._calibrate(RtdCalibration(point="single", value=100.0))
    assert "Cal,212.00" in chip.commands  # in the circuit's own scale


@pytest.mark.usefixtures("fast_ezo")
async def test_identification_asks_i_once(bench: Bench) -> None:
    chip = bench.sim.attach(SimEzoRtd(bench.world, 0x66))
    assert isinstance(chip, SimEzoRtd)
    probe = Probe(bench.bus, 0x66)
    assert await EzoPh.identify(probe) is None
    assert await EzoRtd.identify(probe) is not None
    assert chip.commands == ["i"]
