"""Commands end to end through the real broker: `/set` as a bare value and as JSON, bad
input answered on the error topic, request methods (EZO calibration, pump doses)."""

from __future__ import annotations

import pytest

from roost.bus import Bus
from roost.cli.context import CliSettings
from roost.cli.control import _set
from roost.settings import RoostSettings
from roost_i2c_bridge.sim.ezo import SimEzoPh
from roost_i2c_bridge.sim.pca9685 import SimPca9685

from .conftest import running_bridge, section, watch

PCA = {"type": "pca9685", "address": 0x40}
PCA_CONFIG = {"address": 0x40, "options": {"frequency": 1000, "channels": {0: "Fan"}}}


async def test_pwm_duty_from_a_shell_and_from_json(roost_settings: RoostSettings, bus: Bus) -> None:
    t = bus.topics
    seen = await watch(bus, f"{t.prefix}/#")
    async with running_bridge(
        roost_settings, section(chips=[PCA], devices=[PCA_CONFIG], live_interval=0)
    ) as bridge:
        node = bridge.node.id
        state = t.state(node, "pca9685-40")
        first = await seen.wait_json(state)
        assert first["frequency"] == 1017  # 1000 Hz asked, the prescaler's nearest is 1017
        chip = bridge.sim.chips[0x40]
        assert isinstance(chip, SimPca9685)

        # mosquitto_pub -t …/pca9685-40/set/ch0_duty -m 40
        await bus.publish(t.set(node, "pca9685-40", "ch0_duty"), "40")
        now = await seen.wait_json(state, lambda s: s["ch0_duty"] == 40.0)
        assert now["ch0_on"] is True
        assert chip.regs[0x06:0x0A] == bytes([0, 0, 0x66, 0x06])
        assert bridge.world.outputs["fan"] == pytest.approx(0.4, abs=0.001)

        # mosquitto_pub -t …/pca9685-40/set -m '{"ch0_duty": 12.5, "ch1_on": "on"}'
        await bus.publish(t.set(node, "pca9685-40"), {"ch0_duty": 12.5, "ch1_on": "on"})
        now = await seen.wait_json(state, lambda s: s["ch0_duty"] == 12.5)
        assert now["ch1_on"] is True

        mark = seen.mark()
        await bus.publish(t.set(node, "pca9685-40", "ch0_on"), "off")
        now = await seen.wait_json(state, lambda s: s["ch0_on"] is False, since=mark)
        assert now["ch0_duty"] == 12.5  # switched off, duty kept
        assert bridge.world.outputs["fan"] == 0

        await bus.publish(t.set(node, "pca9685-40", "ch3_duty"), "150")  # clamped
        await seen.wait_json(state, lambda s: s["ch3_duty"] == 100.0)
        await bus.publish(t.set(node, "pca9685-40", "frequency"), "50")
        await seen.wait_json(state, lambda s: s["frequency"] == 50)
        assert chip.regs[0xFE] == 121


async def test_bad_commands_are_answered_and_change_nothing(
    roost_settings: RoostSettings, bus: Bus
) -> None:
    t = bus.topics
    seen = await watch(bus, f"{t.prefix}/#")
    async with running_bridge(roost_settings, section(chips=[PCA])) as bridge:
        node = bridge.node.id
        errors = t.error(node, "pca9685-40")
        await seen.wait_json(t.state(node, "pca9685-40"))
        cases = [
            (t.set(node, "pca9685-40", "ch0_duty"), "forty", "invalid_value"),
            (t.set(node, "pca9685-40"), '{"ch0_duty": ', "invalid_json"),
            (t.set(node, "pca9685-40"), '{"ch99_duty": 1}', "unknown_property"),
            (t.set(node, "pca9685-40", "ch0_on"), "maybe", "invalid_value"),
        ]
        for topic, payload, code in cases:
            mark = seen.mark()
            await bus.publish(topic, payload)
            device = topic.split("/")[2]
            error = await seen.wait_json(t.error(node, device), since=mark)
            assert error["code"] == code, (payload, error)
        mark = seen.mark()
        await bus.publish(t.set(node, "pca9685-40", "ch0_duty"), "30", retain=True)
        error = await seen.wait_json(errors, since=mark)
        assert error["code"] == "retained_command"
        chip = bridge.sim.chips[0x40]
        assert isinstance(chip, SimPca9685)
        assert chip.regs[0x09] == 0x10  # channel 0 still full-off, as at power-on


async def test_roost_set_waits_for_the_chip(roost_settings: RoostSettings) -> None:
    """`roost set pca9685-40 ch0_duty=40`, the README's example."""
    async with running_bridge(roost_settings, section(chips=[PCA])):
        config = CliSettings(mqtt=roost_settings.mqtt)
        code, message = await _set(config, "pca9685-40", {"ch0_duty": 40}, 5.0)
        assert int(code) == 0, message
        assert "40" in message


@pytest.mark.parametrize(("asked", "applied"), [(1000, 1017), (500, 509), (200, 197)])
async def test_roost_set_accepts_what_the_prescaler_applied(
    roost_settings: RoostSettings, asked: int, applied: int
) -> None:
    """`roost set pca9685-40 frequency=1000`: the prescaler's nearest is 1017 Hz, and the
    owner's answer says so; that is success, shown as what was applied."""
    async with running_bridge(roost_settings, section(chips=[PCA])):
        config = CliSettings(mqtt=roost_settings.mqtt)
        code, message = await _set(config, "pca9685-40", {"frequency": asked}, 5.0)
        assert int(code) == 0, message
        assert f"pca9685-40: frequency applied as {applied}" in message


@pytest.mark.usefixtures("fast_ezo")
async def test_ezo_calibration_is_a_request_method(roost_settings: RoostSettings, bus: Bus) -> None:
    t = bus.topics
    seen = await watch(bus, f"{t.prefix}/#")
    chips = [{"type": "ezo-ph", "address": 0x63}]
    async with running_bridge(roost_settings, section(chips=chips, interval=0.5)) as bridge:
        node = bridge.node.id
        state = t.state(node, "ezo-ph-63")
        await seen.wait_json(state, lambda s: s["ph"] is not None and s["calibration"] == 0)
        meta = await seen.wait_json(
            t.meta(node, "ezo-ph-63"), lambda m: "calibrate" in m["methods"]
        )
        assert meta["methods"]["calibrate"]["device"] is True
        response = await bus.request(
            node, "calibrate", {"device": "ezo-ph-63", "point": "mid", "value": 7.0}
        )
        assert response.ok, response
        assert response.data == {
            "command": "Cal,mid,7.00",
            "calibration": 1,
            "acid_slope": 97.2,
            "base_slope": 96.5,
        }
        await seen.wait_json(state, lambda s: s["calibration"] == 1)
        chip = bridge.sim.chips[0x63]
        assert isinstance(chip, SimEzoPh) and chip.offset == 0
        bad = await bus.request(node, "calibrate", {"device": "ezo-ph-63", "point": "low"})
        assert not bad.ok and bad.error is not None and bad.error.code == "invalid_params"
        bad = await bus.request(node, "calibrate", {"device": "ezo-ph-63", "point": "middle"})
        assert not bad.ok and bad.error is not None and bad.error.code == "invalid_params"
        find = await bus.request(node, "find", {"device": "ezo-ph-63"})
        assert find.ok
        await bus.publish(t.set(node, "ezo-ph-63", "led"), "off")
        await seen.wait_json(state, lambda s: s["led"] is False)
        assert chip.led is False


@pytest.mark.usefixtures("fast_ezo")
async def test_pump_dose_from_set_and_methods(roost_settings: RoostSettings, bus: Bus) -> None:
    t = bus.topics
    seen = await watch(bus, f"{t.prefix}/#")
    chips = [{"type": "ezo-pmp", "address": 0x67}]
    async with running_bridge(roost_settings, section(chips=chips, interval=0.2)) as bridge:
        node = bridge.node.id
        state = t.state(node, "ezo-pmp-67")
        await seen.wait_json(state, lambda s: s["dispensing"] is False)
        await bus.publish(t.set(node, "ezo-pmp-67", "dose"), "0.5")
        await seen.wait_json(state, lambda s: s["dispensing"] is True and s["dose"] == 0.5)
        done = await seen.wait_json(state, lambda s: s["dispensed"] == 0.5 and not s["dispensing"])
        assert done["total_volume"] == 0.5
        assert bridge.world.dosed_ml == pytest.approx(0.5)
        mark = seen.mark()
        await bus.publish(t.set(node, "ezo-pmp-67", "dose"), "5000")  # refused, not clamped
        error = await seen.wait_json(t.error(node, "ezo-pmp-67"), since=mark)
        assert error["code"] == "out_of_range"
        response = await bus.request(
            node, "dose_at_rate", {"device": "ezo-pmp-67", "rate": 30, "minutes": None}
        )
        assert response.ok and response.data["dispensing"] is True  # type: ignore[index, call-overload]
        stop = await bus.request(node, "stop", {"device": "ezo-pmp-67"})
        assert stop.ok and stop.data["dispensing"] is False  # type: ignore[index, call-overload]
        await seen.wait_json(state, lambda s: s["dispensing"] is False, since=mark)
