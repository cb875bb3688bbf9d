"""Virtual devices: declared in config, owned by the engine, changed only through the
scripts. A command to one runs the three steps before the new state is published."""

from __future__ import annotations

from typing import Any

from roost.coerce import coerce_command
from roost.errors import CommandError
from roost.models.meta import DeviceMeta, PropertySpec
from roost_event_engine.settings import VirtualDevice, VirtualProperty


def property_spec(prop: VirtualProperty) -> PropertySpec:
    common: dict[str, Any] = {"name": prop.name, "device_class": prop.device_class}
    if prop.kind == "switch":
        return PropertySpec(kind="switch", settable=True, **common)
    if prop.kind == "dial":
        return PropertySpec(
            kind="number",
            settable=True,
            min=prop.min,
            max=prop.max,
            step=prop.step,
            unit=prop.unit,
            **common,
        )
    if prop.kind == "button":
        return PropertySpec(kind="button", **common)
    return PropertySpec(kind="text", settable=True, max_length=prop.max_length, **common)


def device_meta(device_id: str, config: VirtualDevice) -> DeviceMeta:
    return DeviceMeta(
        name=config.name or device_id,
        model="virtual device",
        manufacturer="roost event engine",
        properties={prop: property_spec(p) for prop, p in config.properties.items()},
    )


def initial_values(meta: DeviceMeta, config: VirtualDevice) -> dict[str, Any]:
    """Config `initial` values, validated like a command (a bad one is a config error)."""
    out: dict[str, Any] = {}
    for prop, p in config.properties.items():
        if p.initial is None or p.kind == "button":
            continue
        try:
            out[prop] = coerce_command(prop, meta.properties[prop], p.initial)
        except CommandError as exc:
            raise ValueError(f"initial value of {prop}: {exc.message}") from None
    return out
