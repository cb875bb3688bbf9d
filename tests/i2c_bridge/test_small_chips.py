"""SHT31, ADS1115 and MCP23017 against their simulated chips."""

from __future__ import annotations

import pytest

from roost_i2c_bridge.drivers.ads1115 import Ads1115, Ads1115Options
from roost_i2c_bridge.drivers.base import ChipError, Probe
from roost_i2c_bridge.drivers.mcp23017 import Mcp23017, Mcp23017Options
from roost_i2c_bridge.drivers.pca9685 import Pca9685
from roost_i2c_bridge.drivers.sht31 import Sht31, Sht31Options, crc8, words
from roost_i2c_bridge.sim.ads1115 import SimAds1115
from roost_i2c_bridge.sim.bus import Fault
from roost_i2c_bridge.sim.mcp23017 import SimMcp23017
from roost_i2c_bridge.sim.sht31 import SimSht31

from .conftest import Bench


def test_sensirion_crc() -> None:
    assert crc8(b"\xbe\xef") == 0x92  # the datasheet's example
    assert words(b"\xbe\xef\x92\x00\x00\x81") == [0xBEEF, 0x0000]
    with pytest.raises(ChipError, match="CRC"):
        words(b"\xbe\xef\x93")


async def test_sht31_reads_the_outside_air(bench: Bench) -> None:
    bench.sim.attach(SimSht31(bench.world, 0x44))
    bench.world.pin("outside.temperature", 12.5)
    bench.world.pin("outside.humidity", 80.0)
    identity = await Sht31.identify(Probe(bench.bus, 0x44))
    assert identity is not None and identity.serial == "1a2b3c4d"
    driver = Sht31(bench.bus, 0x44, identity, Sht31Options.model_validate({}))
    assert await driver.setup() == {"heater": False}
    values = await driver.sample()
    assert values["temperature"] == pytest.approx(12.5, abs=0.01)
    assert values["humidity"] == pytest.approx(80.0, abs=0.01)
    assert await driver.apply({"heater": True}) == {"heater": True}
    warm = await driver.sample()
    assert warm["temperature"] == pytest.approx(15.5, abs=0.01)  # the heater warms the sensor
    assert warm["humidity"] < 70  # type: ignore[operator]


async def test_sht31_garbage_fails_the_crc(bench: Bench) -> None:
    bench.sim.attach(SimSht31(bench.world, 0x44))
    driver = Sht31(bench.bus, 0x44, Sht31.default_identity(), Sht31Options.model_validate({}))
    await driver.setup()
    bench.sim.inject(0x44, Fault.GARBAGE, count=2)  # the command and the read
    with pytest.raises(ChipError, match="CRC"):
        await driver.sample()
    assert "temperature" in await driver.sample()


async def test_sht31_is_not_a_pca9685(bench: Bench) -> None:
    bench.sim.attach(SimSht31(bench.world, 0x44))
    with pytest.raises(OSError, match="Remote I/O"):  # it does not answer register reads
        await Pca9685.identify(Probe(bench.bus, 0x44))


async def test_ads1115_converts_each_channel(bench: Bench) -> None:
    chip = bench.sim.attach(SimAds1115(bench.world, 0x48))
    assert isinstance(chip, SimAds1115)
    bench.world.pin("soil.moisture", 40.0)
    assert await Ads1115.identify(Probe(bench.bus, 0x48)) is not None
    options = Ads1115Options.model_validate(
        {
            "data_rate": 860,
            "channels": {
                "0": {"name": "Soil", "unit": "%", "scale": -100 / 1.7, "offset": 285 / 1.7},
                "1": {"range": 2.048},
                "3": {"enabled": False},
            },
        }
    )
    driver = Ads1115(bench.bus, 0x48, Ads1115.default_identity(), options)
    assert set(driver.properties()) == {"ain0", "ain1", "ain2"}
    assert driver.properties()["ain2"].device_class == "voltage"
    await driver.setup()
    values = await driver.sample()
    assert values["ain0"] == pytest.approx(40.0, abs=0.01)  # 2.17 V back to % moisture
    assert values["ain2"] == pytest.approx(1.65, abs=0.001)
    # The last conversion was AIN2 at ±4.096 V, 860 SPS, single shot, comparator off.
    assert chip.regs[1] == 0x8000 | 0b110 << 12 | 0b001 << 9 | 0x0100 | 0b111 << 5 | 0b11


async def test_ads1115_clips_at_full_scale(bench: Bench) -> None:
    bench.sim.attach(SimAds1115(bench.world, 0x48))
    options = Ads1115Options.model_validate({"channels": {"2": {"range": 0.256}}})
    driver = Ads1115(bench.bus, 0x48, Ads1115.default_identity(), options)
    values = await driver.sample()
    assert values["ain2"] == pytest.approx(0.256, abs=0.0001)


async def mcp(bench: Bench, pins: dict[str, object]) -> tuple[Mcp23017, SimMcp23017]:
    chip = bench.sim.attach(SimMcp23017(bench.world, 0x20))
    assert isinstance(chip, SimMcp23017)
    options = Mcp23017Options.model_validate({"pins": pins})
    return Mcp23017(bench.bus, 0x20, Mcp23017.default_identity(), options), chip


async def test_mcp23017_relays_and_inputs(bench: Bench) -> None:
    driver, chip = await mcp(
        bench,
        {
            "a0": {"mode": "output", "name": "Valve"},
            "a7": {"mode": "output", "invert": True},
            "b0": {"pullup": True},
        },
    )
    props = driver.properties()
    assert props["a0"].settable and not props["b0"].settable
    values = await driver.setup()
    assert values == {"a0": False, "a7": False, "b0": True}
    assert chip.regs[0x00] == 0b0111_1110  # a0 and a7 outputs, the rest left as inputs
    assert chip.regs[0x14] == 0b1000_0000  # a7 active-low: inactive is high
    assert chip.regs[0x0D] == 0b0000_0001  # b0 pulled up
    assert await driver.apply({"a0": True, "a7": True}) == {"a0": True, "a7": True, "b0": True}
    assert chip.regs[0x14] == 0b0000_0001
    assert bench.world.outputs["valve"] == 1.0
    bench.world.pin("water.level", 10)  # the float switch drops
    assert (await driver.sample())["b0"] is False


async def test_mcp23017_restart_keeps_outputs(bench: Bench) -> None:
    driver, _ = await mcp(bench, {"a1": {"mode": "output"}})
    await driver.setup()
    await driver.apply({"a1": True})
    again = Mcp23017(bench.bus, 0x20, driver.identity, driver.options)
    assert (await again.setup())["a1"] is True
    assert bench.world.outputs["mister"] == 1.0


async def test_mcp23017_without_pins_is_sixteen_inputs(bench: Bench) -> None:
    driver, chip = await mcp(bench, {})
    assert len(driver.properties()) == 16
    assert not any(spec.settable for spec in driver.properties().values())
    await driver.setup()
    assert chip.regs[0x00] == chip.regs[0x01] == 0xFF
    with pytest.raises(ValueError, match=r"a0\.\.a7"):
        Mcp23017.parse_options({"pins": {"c1": {}}})
