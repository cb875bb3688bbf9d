"""The buses a bridge runs: real `/dev/i2c-N` adapters, or simulated ones and their world.

`plan(section)` turns `[i2c]` into `BusSpec`s (what to open, and which `[[i2c.devices]]`
entries belong to it) plus the simulated world when any bus is simulated. With a `sim` bus
and no `[[i2c.sim.chips]]`, the demo greenhouse is built on `sim` and its device config
applies (entries of the user's own for the same addresses win).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from smbus2 import SMBus

from roost.errors import ConfigError
from roost_i2c_bridge.i2c_bus import I2cBus
from roost_i2c_bridge.settings import DeviceConfig, I2cSection, SimChipConfig
from roost_i2c_bridge.sim.bus import SimBus
from roost_i2c_bridge.sim.chips import SIM_CHIPS
from roost_i2c_bridge.sim.greenhouse import DEMO_CHIPS, DEMO_DEVICES
from roost_i2c_bridge.sim.world import World

log = logging.getLogger("roost_i2c_bridge.buses")


@dataclass
class BusSpec:
    """One bus to run: its label ("1", "sim"), how to open it, its configured devices."""

    label: str
    number: int | None = None  # /dev/i2c-N
    sim: SimBus | None = None
    devices: dict[int, DeviceConfig] = field(default_factory=dict)
    first: bool = False

    def open(self) -> I2cBus:
        """The bus, opened; OSError (with the reason) when the adapter is not there."""
        if self.sim is not None:
            return I2cBus(self.label, self.sim)
        assert self.number is not None
        return I2cBus(self.label, SMBus(self.number))


@dataclass
class Plan:
    buses: list[BusSpec]
    world: World | None = None
    demo: bool = False

    def sim_bus(self, label: str) -> SimBus:
        for spec in self.buses:
            if spec.label == label and spec.sim is not None:
                return spec.sim
        raise KeyError(f"no simulated bus {label!r}")


def plan(section: I2cSection) -> Plan:
    refs = section.resolved_buses()
    labels = [str(ref) for ref in refs]
    specs = [
        BusSpec(label=str(ref), number=ref if isinstance(ref, int) else None, first=i == 0)
        for i, ref in enumerate(refs)
    ]
    by_label = {spec.label: spec for spec in specs}
    result = Plan(specs)
    sims = [spec for spec in specs if spec.number is None]
    devices = list(section.devices)
    if sims:
        world = World(
            seed=section.sim.seed,
            noise=section.sim.noise,
            world_clock=section.sim.world_clock(),
        )
        result.world = world
        for i, spec in enumerate(sims):
            seed = None if section.sim.seed is None else section.sim.seed + i
            spec.sim = SimBus(spec.label, world, seed=seed)
        chips = section.sim.chips
        if chips is None:
            if "sim" not in by_label:
                raise ConfigError(
                    "[i2c.sim] has no chips: list them in [[i2c.sim.chips]], or name the "
                    "bus 'sim' for the demo greenhouse"
                )
            chips = [SimChipConfig.model_validate(chip) for chip in DEMO_CHIPS]
            result.demo = True
            mine = {(d.bus, d.address) for d in devices}
            first = refs[0]
            for entry in DEMO_DEVICES:
                demo = DeviceConfig.model_validate({**entry, "bus": "sim"})
                ours = {("sim", demo.address)} | (
                    {(None, demo.address)} if first == "sim" else set()
                )
                if not mine & ours:
                    devices.append(demo)
        for chip in chips:
            target = by_label.get(chip.bus)
            if target is None or target.sim is None:
                raise ConfigError(
                    f"[[i2c.sim.chips]] puts a {chip.type} on bus {chip.bus!r}, which is not in "
                    f"buses ({', '.join(labels)})"
                )
            target.sim.attach(SIM_CHIPS[chip.type](world, chip.address))
    for device in devices:
        label = str(device.bus) if device.bus is not None else labels[0]
        owner = by_label.get(label)
        if owner is None:
            raise ConfigError(
                f"[[i2c.devices]] at {device.address:#04x} names bus {label!r}, which is not in "
                f"buses ({', '.join(labels)})"
            )
        owner.devices[device.address] = device
    return result
