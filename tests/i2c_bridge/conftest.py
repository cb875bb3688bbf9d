"""Fixtures for the i2c-bridge tests: a simulated bench (world, bus, chips) and a running
bridge against the session's real broker."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from roost.node import Node
from roost.settings import RoostSettings
from roost.testing import Watcher
from roost_i2c_bridge.buses import Plan, plan
from roost_i2c_bridge.coordinator import Coordinator
from roost_i2c_bridge.drivers import DRIVERS, ezo
from roost_i2c_bridge.i2c_bus import I2cBus
from roost_i2c_bridge.settings import I2cSection, Settings
from roost_i2c_bridge.sim.bus import SimBus
from roost_i2c_bridge.sim.chips import SIM_CHIPS
from roost_i2c_bridge.sim.ezo import SimEzo
from roost_i2c_bridge.sim.world import World


@dataclass
class Bench:
    """A simulated bus on the workbench: chips attached by hand, no MQTT."""

    world: World
    sim: SimBus
    bus: I2cBus


@pytest.fixture
def world() -> World:
    return World(seed=7, noise=False)


@pytest.fixture
def bench(world: World) -> Bench:
    sim = SimBus("sim", world, seed=7)
    return Bench(world, sim, I2cBus("sim", sim))


EZO_SPEEDUP = 10


@pytest.fixture
def fast_ezo(monkeypatch: pytest.MonkeyPatch) -> None:
    """EZO processing times a tenth of the datasheet's, on both sides of the wire, so the
    protocol runs exactly as it does, only faster. Tests of the timing itself go without."""
    monkeypatch.setattr(ezo, "COMMAND_DELAY", ezo.COMMAND_DELAY / EZO_SPEEDUP)
    monkeypatch.setattr(ezo, "POLL_INTERVAL", ezo.POLL_INTERVAL / EZO_SPEEDUP)
    sides: list[type[Any]] = [
        *(d for d in DRIVERS.values() if issubclass(d, ezo.EzoDriver)),
        *(c for c in SIM_CHIPS.values() if issubclass(c, SimEzo)),
    ]
    for cls in sides:
        for attr in ("read_delay", "cal_delay"):
            monkeypatch.setattr(cls, attr, getattr(cls, attr) / EZO_SPEEDUP)
    monkeypatch.setattr(SimEzo, "command_delay", SimEzo.command_delay / EZO_SPEEDUP)


@dataclass
class Bridge:
    node: Node
    coordinator: Coordinator
    plan: Plan
    settings: Settings

    @property
    def sim(self) -> SimBus:
        return self.plan.sim_bus("sim")

    @property
    def world(self) -> World:
        assert self.plan.world is not None
        return self.plan.world

    def state_topic(self, device: str) -> str:
        return self.node.topics.state(self.node.id, device)

    def topic(self, kind: str, device: str) -> str:
        return str(getattr(self.node.topics, kind)(self.node.id, device))


def section(**i2c: Any) -> I2cSection:
    """An [i2c] section for tests: fast sampling, the given simulated chips, and `world`
    settings of `[i2c.sim]` (`time_of_day`, `day_length`)."""
    chips = i2c.pop("chips", None)
    world = i2c.pop("world", {})
    data: dict[str, Any] = {
        "buses": ["sim"],
        "interval": 0.1,
        "live_interval": 0.1,
        "scan_interval": 30,
        "offline_after": 3,
        "retry_max": 0.2,
        "sim": {"seed": 3, "noise": False, "chips": chips, **world},
    }
    data.update(i2c)
    return I2cSection.model_validate(data)


@contextlib.asynccontextmanager
async def running_bridge(base: RoostSettings, i2c: I2cSection) -> AsyncIterator[Bridge]:
    settings = Settings(mqtt=base.mqtt, node=base.node, i2c=i2c)
    bridge_plan = plan(i2c)
    node = Node(settings, service="i2c-bridge", defer_cleanup=True)
    coordinator = Coordinator(node, i2c, bridge_plan)
    coordinator.add_methods()
    async with node:
        task = asyncio.create_task(coordinator.run())
        try:
            await asyncio.wait_for(coordinator.first_scan_done.wait(), 20)
            await node.wait_online(10)
            yield Bridge(node, coordinator, bridge_plan, settings)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def watch(bus: Any, topic_filter: str) -> Watcher:
    return await Watcher(bus, topic_filter).start()
