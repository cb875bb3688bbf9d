"""The host device: disk space per configured path, memory, load, CPU and its temperature
where the kernel reports one; a `disk_low` event (phase start, then end on recovery)
when free space falls below the threshold."""

from __future__ import annotations

import asyncio
import logging
import platform
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from pydantic import JsonValue

from roost.device import Device
from roost.models import DeviceMeta, PropertySpec
from roost.node import Node
from roost_supervisor.settings import HostSection

log = logging.getLogger("roost_supervisor.host")

# Sensors that mean "the CPU", most specific first (x86 Intel and AMD, Raspberry Pi, ARM).
CPU_SENSORS = ("coretemp", "k10temp", "zenpower", "cpu_thermal", "cpu-thermal", "soc_thermal")
# A low disk is over once free space is this much above the threshold (no flapping).
RECOVERY_MARGIN = 1.0  # percentage points
RECOVERY_FACTOR = 1.05  # of the byte threshold


def cpu_temperature() -> float | None:
    """The hottest reading of the CPU's sensor, or None where the kernel has none."""
    try:
        sensors = psutil.sensors_temperatures()
    except (AttributeError, OSError):
        return None
    for name in CPU_SENSORS:
        readings = [entry.current for entry in sensors.get(name, []) if entry.current]
        if readings:
            return float(max(readings))
    for entries in sensors.values():
        readings = [entry.current for entry in entries if entry.current]
        if readings:
            return float(max(readings))
    return None


def host_meta(disks: dict[str, Path], temperature: bool) -> DeviceMeta:
    properties: dict[str, PropertySpec] = {
        "cpu": PropertySpec(kind="number", unit="%", precision=1, deadband=2.0),
        "load_1": PropertySpec(kind="number", precision=2, deadband=0.05),
        "load_5": PropertySpec(kind="number", precision=2, deadband=0.05),
        "load_15": PropertySpec(kind="number", precision=2, deadband=0.05),
        "memory_used": PropertySpec(kind="number", unit="%", precision=1, deadband=1.0),
        "memory_available": PropertySpec(
            kind="number", unit="B", precision=0, device_class="data_size", deadband=50e6
        ),
        "swap_used": PropertySpec(kind="number", unit="%", precision=1, deadband=1.0),
        "uptime": PropertySpec(
            kind="number",
            unit="s",
            precision=0,
            device_class="duration",
            deadband=600,
            entity_category="diagnostic",
        ),
    }
    if temperature:
        properties["temperature"] = PropertySpec(
            kind="number", unit="°C", precision=1, device_class="temperature", deadband=0.5
        )
    for name in disks:
        properties[f"disk_{name}_free"] = PropertySpec(
            kind="number", unit="B", precision=0, device_class="data_size", deadband=50e6
        )
        properties[f"disk_{name}_used"] = PropertySpec(
            kind="number", unit="%", precision=1, deadband=0.5
        )
        properties[f"disk_{name}_low"] = PropertySpec(kind="switch")
    properties["alert"] = PropertySpec(kind="event", options=["disk_low"])
    return DeviceMeta(
        name=f"Host {socket.gethostname()}",
        model=f"{platform.system()} {platform.machine()}",
        manufacturer="roost supervisor",
        properties=properties,
    )


def uptime() -> float:
    """Seconds since the machine booted, by the kernel's own count: a wall clock that was
    set back or forward since the boot (NTP, a wrong clock at boot) does not change it."""
    try:
        with open("/proc/uptime", encoding="ascii") as handle:
            return float(handle.read().split()[0])
    except (OSError, ValueError, IndexError):  # not Linux
        return max(0.0, time.time() - psutil.boot_time())


@dataclass
class DiskWatch:
    name: str
    path: Path
    low: bool = False
    event_id: str | None = None
    failing: bool = field(default=False)


class HostMonitor:
    """Samples the host every `interval` seconds and publishes what moved."""

    def __init__(self, node: Node, section: HostSection, data_dir: Path) -> None:
        self.section = section
        disks = section.disks or {"data": data_dir, "root": Path("/")}
        self.disks = [DiskWatch(name, path) for name, path in disks.items()]
        self.has_temperature = cpu_temperature() is not None
        self.device: Device = node.add_device(
            "host", host_meta(disks, self.has_temperature), heartbeat=3600
        )
        psutil.cpu_percent(None)  # the first call only starts the measurement
        self._cpu_since = time.monotonic()

    def sample(self) -> dict[str, JsonValue]:
        """One reading of everything (blocking: psutil reads /proc and statfs)."""
        memory = psutil.virtual_memory()
        swap = psutil.swap_memory()
        load = psutil.getloadavg()
        # Over a very short interval the figure means nothing: say unknown instead.
        cpu = psutil.cpu_percent(None) if time.monotonic() - self._cpu_since > 0.5 else None
        values: dict[str, JsonValue] = {
            "cpu": cpu,
            "load_1": load[0],
            "load_5": load[1],
            "load_15": load[2],
            "memory_used": memory.percent,
            "memory_available": memory.available,
            "swap_used": swap.percent if swap.total else 0.0,
            "uptime": uptime(),
        }
        if self.has_temperature:
            values["temperature"] = cpu_temperature()
        for disk in self.disks:
            try:
                usage = psutil.disk_usage(str(disk.path))
            except OSError as exc:
                if not disk.failing:
                    log.warning("disk %s (%s): %s", disk.name, disk.path, exc.strerror or exc)
                disk.failing = True
                values[f"disk_{disk.name}_free"] = None
                values[f"disk_{disk.name}_used"] = None
                continue
            disk.failing = False
            values[f"disk_{disk.name}_free"] = usage.free
            values[f"disk_{disk.name}_used"] = usage.percent
        return values

    def apply(self, values: dict[str, JsonValue]) -> None:
        """Publish a sample and raise or end `disk_low` events."""
        for disk in self.disks:
            free = values.get(f"disk_{disk.name}_free")
            used = values.get(f"disk_{disk.name}_used")
            if isinstance(free, int) and isinstance(used, int | float):
                self._watch(disk, free, 100.0 - float(used))
            values[f"disk_{disk.name}_low"] = disk.low
        self.device.update(values)

    def _watch(self, disk: DiskWatch, free: int, free_percent: float) -> None:
        percent = self.section.disk_low_percent
        floor = self.section.disk_low_bytes
        below = free_percent < percent or (floor is not None and free < floor)
        recovered = free_percent >= percent + RECOVERY_MARGIN and (
            floor is None or free >= floor * RECOVERY_FACTOR
        )
        data = {
            "disk": disk.name,
            "path": str(disk.path),
            "free": free,
            "free_percent": round(free_percent, 1),
            "threshold_percent": percent,
            "threshold_bytes": floor,
        }
        if below and not disk.low:
            disk.low = True
            log.warning(
                "disk %s (%s) is low: %.1f %% free (%d bytes)",
                disk.name,
                disk.path,
                free_percent,
                free,
            )
            disk.event_id = self.device.emit("disk_low", data, phase="start")
        elif disk.low and recovered:
            disk.low = False
            log.info("disk %s has room again: %.1f %% free", disk.name, free_percent)
            self.device.emit("disk_low", data, phase="end", event_id=disk.event_id)
            disk.event_id = None

    async def run(self) -> None:
        while True:
            try:
                self.apply(await asyncio.to_thread(self.sample))
            except Exception:  # a reading that fails once must not end the monitoring
                log.exception("sampling the host failed")
            await asyncio.sleep(self.section.interval)
