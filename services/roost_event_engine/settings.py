"""The `[event_engine]` section: pool, limits, scripts folder, groups, virtual devices."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from roost.settings import RoostSettings, Section
from roost.topics import DeviceId, PropName

DEFAULT_NODE_ID = "event-engine"


class VirtualProperty(Section):
    """One property of a virtual device, of one of four kinds."""

    kind: Literal["switch", "dial", "button", "text"]
    name: str | None = None
    unit: str | None = None
    min: float | None = None
    max: float | None = None
    step: float | None = Field(default=None, gt=0)
    initial: bool | float | str | None = None
    max_length: int | None = Field(default=None, gt=0)
    device_class: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.kind != "dial" and (
            self.min is not None or self.max is not None or self.step is not None
        ):
            raise ValueError("min, max and step belong to dial properties")
        if self.kind == "dial" and (self.min is None or self.max is None):
            raise ValueError("a dial needs min and max")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        if self.kind != "text" and self.max_length is not None:
            raise ValueError("max_length belongs to text properties")
        return self


class VirtualDevice(Section):
    """A device the engine owns: commands to it run the scripts before its state changes."""

    name: str | None = None
    properties: dict[PropName, VirtualProperty]

    @field_validator("properties")
    @classmethod
    def _names(cls, value: dict[str, VirtualProperty]) -> dict[str, VirtualProperty]:
        if not value:
            raise ValueError("a virtual device needs at least one property")
        return value


class Group(Section):
    """Devices (`node/device`, or a device id on any node) and the group above them."""

    name: str | None = None
    members: list[str] = Field(default_factory=list)
    parent: str | None = None


def demo_devices() -> dict[str, VirtualDevice]:
    """The virtual device the example scripts use, when the config declares none."""
    return {
        "climate": VirtualDevice(
            name="Greenhouse climate",
            properties={
                "auto": VirtualProperty(kind="switch", name="Automatic fan", initial=True),
                "fan_start": VirtualProperty(
                    kind="dial",
                    name="Fan starts at",
                    unit="°C",
                    min=10,
                    max=40,
                    step=0.5,
                    initial=24,
                ),
                "fan_full": VirtualProperty(
                    kind="dial",
                    name="Fan at full speed at",
                    unit="°C",
                    min=10,
                    max=45,
                    step=0.5,
                    initial=30,
                ),
            },
        )
    }


class EngineSection(Section):
    workers: int = Field(default=2, ge=1, le=64)
    time_limit: float = Field(default=1.0, gt=0, le=300)
    queue_size: int = Field(default=1000, ge=1, le=1_000_000)
    scripts_dir: Path | None = None
    reload_interval: float = Field(default=1.0, gt=0)
    repeat_window: float = Field(default=0.0, ge=0)
    repeat_windows: dict[str, float] = Field(default_factory=dict)
    history_size: int = Field(default=20, ge=1, le=10_000)
    history_sizes: dict[str, int] = Field(default_factory=dict)
    log_size: int = Field(default=500, ge=1, le=100_000)
    worker_memory_mb: int = Field(default=512, ge=64)
    max_actions: int = Field(default=1000, ge=1)
    # A trigger caused by this many scripts' own actions in a row is a loop: stopped.
    max_chain: int = Field(default=10, ge=2, le=1000)
    timezone: str | None = None
    http_allow: list[str] = Field(default_factory=list)
    http_timeout: float = Field(default=10.0, gt=0)
    http_max_bytes: int = Field(default=1_000_000, ge=1)
    notify_urls: list[str] = Field(default_factory=list)
    groups: dict[str, Group] = Field(default_factory=dict)
    devices: dict[DeviceId, VirtualDevice] = Field(default_factory=demo_devices)

    @field_validator("devices")
    @classmethod
    def _device_ids(cls, value: dict[str, VirtualDevice]) -> dict[str, VirtualDevice]:
        for device_id in value:
            if device_id == "engine":
                raise ValueError("device id 'engine' is the engine's own device")
        return value

    @field_validator("http_allow", "notify_urls")
    @classmethod
    def _urls(cls, value: list[str]) -> list[str]:
        for url in value:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"{url!r} is not an http(s) URL")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"{value!r} is not a known time zone") from None
        return value

    @field_validator("repeat_windows", "history_sizes")
    @classmethod
    def _positive(cls, value: dict[str, float]) -> dict[str, float]:
        for key, number in value.items():
            if number < 0:
                raise ValueError(f"{key}: must not be negative")
        return value

    @model_validator(mode="after")
    def _group_tree(self) -> Self:
        for name, group in self.groups.items():
            if group.parent is not None and group.parent not in self.groups:
                raise ValueError(f"group {name!r}: parent {group.parent!r} is not a group")
            seen = {name}
            parent = group.parent
            while parent is not None:
                if parent in seen:
                    raise ValueError(f"group {name!r}: its parents form a cycle through {parent!r}")
                seen.add(parent)
                parent = self.groups[parent].parent
        return self


class Settings(RoostSettings):
    event_engine: EngineSection = Field(default_factory=EngineSection)
