"""The coordinator: scans each bus, identifies what answers, gives each chip a manager.

A scan probes the addresses the drivers know (and those config names) the way i2cdetect
does, skipping addresses that already have a manager: a managed chip is watched by its own
manager, and probing it mid-conversation could confuse it. What answers is identified by
the chip's own identification (a chip-id register, an EZO's `i` reply, a CRC-checked
status word) or by the driver config pins to its address, and becomes a device. Scans
repeat every `scan_interval` seconds, so a chip plugged in later appears; one that
vanishes is taken offline by its manager and comes back when it answers.

The first scan runs before the node clears what it no longer owns (`defer_cleanup`), so
the retained topics of chips that are still there survive a restart and those of chips
that are gone are cleared.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator

from roost.device import Device
from roost.errors import CommandError, ErrorCode
from roost.models.meta import DeviceMeta, PropertySpec
from roost.node import Node
from roost_i2c_bridge.buses import BusSpec, Plan
from roost_i2c_bridge.drivers import DRIVERS, DriverClass, candidates, known_addresses
from roost_i2c_bridge.drivers.base import ChipError, Identity, Probe, device_id
from roost_i2c_bridge.drivers.ezo import EzoSyntaxError
from roost_i2c_bridge.i2c_bus import I2cBus
from roost_i2c_bridge.manager import ChipManager, Tuning
from roost_i2c_bridge.settings import DeviceConfig, I2cSection
from roost_i2c_bridge.sim.bus import Fault
from roost_i2c_bridge.sim.world import QUANTITIES
from roost_i2c_bridge.sim.world_clock import format_time_of_day

log = logging.getLogger("roost_i2c_bridge.coordinator")

BUS_META = DeviceMeta(
    name="i2c bus",
    model="i2c bus",
    manufacturer="roost",
    properties={
        "chips": PropertySpec(kind="number", name="Chips", precision=0),
        "addresses": PropertySpec(kind="text", name="Addresses", entity_category="diagnostic"),
        "unknown": PropertySpec(
            kind="text", name="Unknown addresses", entity_category="diagnostic"
        ),
        "transactions": PropertySpec(
            kind="number",
            precision=0,
            state_class="total_increasing",
            entity_category="diagnostic",
            deadband=1000,
        ),
        "errors": PropertySpec(
            kind="number", precision=0, state_class="total_increasing", entity_category="diagnostic"
        ),
    },
)


@dataclass
class BusState:
    """One bus as the coordinator runs it."""

    spec: BusSpec
    bus: I2cBus | None = None
    device: Device | None = None
    managers: dict[int, ChipManager] = field(default_factory=dict)
    unknown: set[int] = field(default_factory=set)
    refused: set[int] = field(default_factory=set)  # identified, but its options do not fit
    open_error: str | None = None
    scanning: asyncio.Lock = field(default_factory=asyncio.Lock)


def _hex(addresses: Iterable[int]) -> str:
    return " ".join(f"{a:#04x}" for a in sorted(addresses))


class ScanParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bus: str | None = None


class ForgetParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device: str


class SimFaultParams(BaseModel):
    """Inject a fault into a simulated chip (tests, demos of roost's fault handling)."""

    model_config = ConfigDict(extra="forbid")

    address: int = Field(ge=0x03, le=0x77)
    bus: str = "sim"
    fault: str = Field(pattern="^(none|nack|timeout|garbage|unplug|plug)$")
    count: int | None = Field(default=None, ge=1)

    @field_validator("address", mode="before")
    @classmethod
    def _hex_address(cls, value: object) -> object:
        return int(value, 0) if isinstance(value, str) else value  # "0x76" as people write it


class SimWorldParams(BaseModel):
    """Hold simulated quantities (`air.temperature`, `water.ph`, …) or let them go."""

    model_config = ConfigDict(extra="forbid")

    pin: dict[str, float] = Field(default_factory=dict)
    unpin: list[str] = Field(default_factory=list)


class Coordinator:
    def __init__(self, node: Node, section: I2cSection, plan: Plan) -> None:
        self.node = node
        self.section = section
        self.plan = plan
        self.buses = [BusState(spec) for spec in plan.buses]
        self.first_scan_done = asyncio.Event()
        self._ids: set[str] = set()

    # node methods ----------------------------------------------------------------------
    def add_methods(self) -> None:
        self.node.add_method(
            "scan",
            self._scan_method,
            params=ScanParams,
            title="Scan i2c buses",
            description="Scan now; returns the chips found and the addresses nobody knows",
        )
        self.node.add_method(
            "forget",
            self._forget_method,
            params=ForgetParams,
            description="Remove an offline chip's device and clear its retained topics",
        )
        if self.plan.world is not None:
            self.node.add_method(
                "sim_fault",
                self._sim_fault_method,
                params=SimFaultParams,
                description="Simulated bus: NACK, time out, answer garbage, unplug or plug",
            )
            self.node.add_method(
                "sim_world",
                self._sim_world_method,
                params=SimWorldParams,
                description="Simulated greenhouse: pin or unpin quantities, see its state",
            )

    async def _scan_method(self, params: ScanParams) -> JsonValue:
        states = [s for s in self.buses if params.bus is None or s.spec.label == params.bus]
        if not states:
            raise CommandError(ErrorCode.INVALID_PARAMS, f"no bus {params.bus!r}")
        await asyncio.gather(*(self.scan(state) for state in states))
        return {
            state.spec.label: {
                "devices": {f"{a:#04x}": m.id for a, m in sorted(state.managers.items())},
                "unknown": [f"{a:#04x}" for a in sorted(state.unknown)],
                "open": state.bus is not None,
                **({"error": state.open_error} if state.open_error else {}),
            }
            for state in states
        }

    async def _forget_method(self, params: ForgetParams) -> JsonValue:
        for state in self.buses:
            for address, manager in list(state.managers.items()):
                if manager.id != params.device:
                    continue
                if manager.available:
                    raise CommandError(
                        ErrorCode.FAILED,
                        f"{manager.id} is online; only an offline chip is forgotten",
                    )
                del state.managers[address]
                self._ids.discard(manager.id)
                await manager.remove()
                self._publish_bus(state)
                return {"forgotten": manager.id}
        raise CommandError(ErrorCode.UNKNOWN_DEVICE, f"no chip {params.device!r}")

    async def _sim_fault_method(self, params: SimFaultParams) -> JsonValue:
        try:
            sim = self.plan.sim_bus(params.bus)
        except KeyError as exc:
            raise CommandError(ErrorCode.INVALID_PARAMS, str(exc.args[0])) from None
        try:
            if params.fault == "unplug":
                sim.unplug(params.address)
            elif params.fault == "plug":
                sim.plug(params.address)
            else:
                sim.inject(params.address, Fault(params.fault), params.count)
        except KeyError:
            raise CommandError(
                ErrorCode.INVALID_PARAMS,
                f"no simulated chip to {params.fault} at {params.address:#04x} on {params.bus}",
            ) from None
        return {"bus": params.bus, "address": f"{params.address:#04x}", "fault": params.fault}

    async def _sim_world_method(self, params: SimWorldParams) -> JsonValue:
        world = self.plan.world
        assert world is not None
        for name in [*params.pin, *params.unpin]:
            if name not in QUANTITIES:
                raise CommandError(
                    ErrorCode.INVALID_PARAMS,
                    f"unknown quantity {name!r} (known: {', '.join(QUANTITIES)})",
                )
        for name, value in params.pin.items():
            world.pin(name, value)
        for name in params.unpin:
            world.unpin(name)
        air, outside, water = world.air(), world.outside(), world.water()
        return {
            "time_of_day": format_time_of_day(world.time_of_day()),
            "air": vars(air),
            "outside": vars(outside),
            "water": vars(water),
            "soil_moisture": world.soil_moisture(),
            "light": world.light(),
            "outputs": dict(world.outputs),
            "pinned": dict(world.pins),
            "dosed_ml": world.dosed_ml,
        }

    # running -----------------------------------------------------------------------------
    async def run(self) -> None:
        """Scan now and every `scan_interval`; clear stale topics once online after the first."""
        try:
            await asyncio.gather(*(self.scan(state) for state in self.buses))
            self.first_scan_done.set()
            found = sum(len(state.managers) for state in self.buses)
            labels = ", ".join(state.spec.label for state in self.buses)
            log.info("first scan: %d chip%s on bus %s", found, "" if found == 1 else "s", labels)
            cleanup = asyncio.create_task(self._clear_stale())
            try:
                while True:
                    await asyncio.sleep(self.section.scan_interval)
                    await asyncio.gather(*(self.scan(state) for state in self.buses))
            finally:
                cleanup.cancel()
        finally:
            await self.close()

    async def _clear_stale(self) -> None:
        await self.node.wait_online()
        cleared = await self.node.clear_stale()
        if cleared:
            log.info("cleared %d retained topics of chips no longer found", cleared)

    async def close(self) -> None:
        for state in self.buses:
            await asyncio.gather(*(m.stop() for m in state.managers.values()))
            if state.bus is not None:
                state.bus.close()

    def _open(self, state: BusState) -> I2cBus | None:
        if state.bus is not None:
            return state.bus
        try:
            state.bus = state.spec.open()
        except OSError as exc:
            reason = f"cannot open /dev/i2c-{state.spec.number}: {exc.strerror or exc}"
            if reason != state.open_error:
                log.error(
                    "bus %s: %s (is i2c enabled? see docs/services/i2c-bridge.md); "
                    "trying again every %g s",
                    state.spec.label,
                    reason,
                    self.section.scan_interval,
                )
            state.open_error = reason
            return None
        if state.open_error:
            log.warning("bus %s: open now", state.spec.label)
        state.open_error = None
        return state.bus

    def _addresses(self, state: BusState) -> list[int]:
        configured = {a for a, d in state.spec.devices.items() if d.enabled}
        disabled = {a for a, d in state.spec.devices.items() if not d.enabled}
        scanned = set(self.section.scan_addresses or known_addresses())
        return sorted((scanned | configured) - disabled - set(state.managers))

    async def scan(self, state: BusState) -> None:
        """Scan one bus (never twice at once: a `scan` request during the periodic scan
        waits for it rather than finding the same new chip again)."""
        async with state.scanning:
            await self._scan(state)

    async def _scan(self, state: BusState) -> None:
        bus = self._open(state)
        if bus is None:
            self._publish_bus(state)
            return
        found: list[tuple[int, DriverClass, Identity, DeviceConfig | None]] = []
        for address in self._addresses(state):
            if not await bus.probe(address):
                state.unknown.discard(address)
                continue
            config = state.spec.devices.get(address)
            match = await self._identify(bus, address, config)
            if match is None:
                if address not in state.unknown:
                    log.info("bus %s: %#04x answers, but no driver knows it", bus.name, address)
                state.unknown.add(address)
                continue
            state.unknown.discard(address)
            found.append((address, *match, config))
        managers = []
        for address, driver_cls, identity, config in found:
            manager = self._manager(state, bus, address, driver_cls, identity, config)
            if manager is not None:
                state.managers[address] = manager
                managers.append(manager)
        await asyncio.gather(*(m.start() for m in managers))
        self._publish_bus(state)

    async def _identify(
        self, bus: I2cBus, address: int, config: DeviceConfig | None
    ) -> tuple[DriverClass, Identity] | None:
        probe = Probe(bus, address)
        if config is not None and config.driver is not None:
            pinned = DRIVERS[config.driver]
            identity = None
            if pinned.auto_identify:
                with contextlib.suppress(OSError, ChipError, EzoSyntaxError):
                    identity = await pinned.identify(probe)
                if identity is None:
                    log.warning(
                        "bus %s: %#04x is pinned to %s but does not identify as one; "
                        "driving it as one anyway",
                        bus.name,
                        address,
                        pinned.name,
                    )
            return pinned, identity or pinned.default_identity()
        for driver_cls in candidates(address):
            try:
                identity = await driver_cls.identify(probe)
            except (OSError, ChipError, EzoSyntaxError) as exc:
                log.debug("bus %s: %#04x is not a %s: %s", bus.name, address, driver_cls.name, exc)
                continue
            if identity is not None:
                return DRIVERS[identity.driver], identity
        return None

    def _manager(
        self,
        state: BusState,
        bus: I2cBus,
        address: int,
        driver_cls: DriverClass,
        identity: Identity,
        config: DeviceConfig | None,
    ) -> ChipManager | None:
        section = self.section
        options = config.options if config is not None else {}
        try:
            parsed = driver_cls.parse_options(options)
        except ValueError as exc:
            if address not in state.refused:
                log.error(
                    "bus %s: %#04x is a %s, but its options do not fit it: %s",
                    bus.name,
                    address,
                    driver_cls.name,
                    exc,
                )
            state.refused.add(address)
            return None
        wanted = (config.id if config else None) or device_id(
            identity.driver, address, None if state.spec.first else state.spec.label
        )
        ident = wanted
        n = 2
        while ident in self._ids or ident in self.node.devices:
            ident = f"{wanted}-{n}"
            n += 1
        if ident != wanted:
            log.warning(
                "bus %s: %#04x: device id %s is taken, using %s", bus.name, address, wanted, ident
            )
        self._ids.add(ident)
        where = "" if state.spec.first else f" on bus {state.spec.label}"
        tuning = Tuning(
            interval=(config.interval if config else None) or section.interval,
            live_interval=(
                config.live_interval
                if config is not None and config.live_interval is not None
                else section.live_interval
            ),
            heartbeat=section.heartbeat,
            offline_after=section.offline_after,
            retry_max=section.retry_max,
            timeout=section.timeout,
            precision=dict(config.precision) if config else {},
            deadband=dict(config.deadband) if config else {},
        )
        return ChipManager(
            self.node,
            driver_cls(bus, address, identity, parsed),
            ident,
            name=(config.name if config else None) or f"{identity.model} {address:#04x}{where}",
            area=config.area if config else None,
            tuning=tuning,
        )

    def _publish_bus(self, state: BusState) -> None:
        bus_id = f"i2c-{state.spec.label}"
        if state.device is None:
            meta = BUS_META.model_copy(
                update={
                    "name": f"i2c bus {state.spec.label}",
                    "model": "simulated i2c bus"
                    if state.spec.sim
                    else f"/dev/i2c-{state.spec.number}",
                }
            )
            state.device = self.node.add_device(bus_id, meta, available=state.bus is not None)
        device = state.device
        device.set_available(state.bus is not None)
        values: dict[str, Any] = {
            "chips": len(state.managers),
            "addresses": _hex(state.managers) or "none",
            "unknown": _hex(state.unknown) or "none",
        }
        if state.bus is not None:
            values.update(transactions=state.bus.transactions, errors=state.bus.errors)
        device.update(values)
