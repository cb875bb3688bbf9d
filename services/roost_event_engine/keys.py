"""Settings keyed by device and property: `node/device.prop`, `device.prop`,
`node/device` or `device`, the most specific one winning over the default."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Generic, TypeVar

T = TypeVar("T", int, float)


class PropertyTable(Generic[T]):
    def __init__(self, default: T, overrides: Mapping[str, T]) -> None:
        self.default: T = default
        self.overrides: dict[str, T] = dict(overrides)

    def lookup(self, node: str, device: str, prop: str | None) -> T:
        keys = []
        if prop is not None:
            keys += [f"{node}/{device}.{prop}", f"{device}.{prop}"]
        keys += [f"{node}/{device}", device]
        for key in keys:
            if key in self.overrides:
                return self.overrides[key]
        return self.default
