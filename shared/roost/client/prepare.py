"""A command checked against the device's declared properties before it is sent.

The owner is the authority, but it decides by the device's meta and the same coercion
rules (roost.coerce), so a client refuses locally, with the owner's own error codes, what
the owner would refuse, and knows what state to expect from what it would apply.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import JsonValue

from roost.coerce import coerce_command
from roost.errors import CommandError, ErrorCode
from roost.mirror import DeviceView
from roost.models.meta import PropertyKind, PropertySpec
from roost.topics import NAME


@dataclass(frozen=True)
class PreparedCommand:
    values: dict[str, JsonValue]  # what goes on `/set` (coerced as the owner would)
    expected: dict[str, JsonValue] = field(default_factory=dict)  # state properties
    tolerance: dict[str, float] = field(default_factory=dict)  # per expected number
    buttons: list[str] = field(default_factory=list)
    # properties whose asked value coercion changed (clamped to min/max, snapped to step)
    changed: frozenset[str] = frozenset()

    def shows(self, state: Mapping[str, Any]) -> bool:
        """True when `state` shows every expected value (within the property's tolerance)."""
        return bool(self.expected) and all(
            same_value(state.get(prop), value, self.tolerance.get(prop, 0.0))
            for prop, value in self.expected.items()
        )

    def adjusted(self, applied: Mapping[str, Any]) -> dict[str, JsonValue]:
        """The applied values that differ from what was asked: clamped or snapped on the
        way, or what the hardware could do instead (a prescaler's nearest frequency)."""
        return {
            prop: value
            for prop, value in applied.items()
            if prop in self.expected
            and (
                prop in self.changed
                or not same_value(value, self.expected[prop], self.tolerance.get(prop, 0.0))
            )
        }


def prepare_command(device: DeviceView, values: Mapping[str, Any]) -> PreparedCommand:
    """Coerce `values` for `device`; raises CommandError with the code the owner would
    answer (unknown_property, not_settable, invalid_value, out_of_range, …). A device
    whose meta is not known yet is sent what was given: its owner decides."""
    if not values:
        raise CommandError(ErrorCode.INVALID_COMMAND, "command names no property")
    if device.meta is None:
        return PreparedCommand(dict(values))
    props = device.meta.properties
    coerced: dict[str, JsonValue] = {}
    expected: dict[str, JsonValue] = {}
    tolerance: dict[str, float] = {}
    buttons: list[str] = []
    changed: set[str] = set()
    for prop, raw in values.items():
        spec = props.get(prop)
        if spec is None:
            shown = prop if NAME.match(prop) else repr(prop)
            raise CommandError(
                ErrorCode.UNKNOWN_PROPERTY, f"{device.ref} has no property {shown}", prop=prop
            )
        value = coerce_command(prop, spec, raw)
        coerced[prop] = value
        if spec.kind is PropertyKind.BUTTON:
            buttons.append(prop)
        elif spec.in_state:
            expected[prop] = value
            tolerance[prop] = _tolerance(spec)
            asked = _asked_number(raw) if spec.kind is PropertyKind.NUMBER else None
            if asked is not None and not same_value(value, asked, tolerance[prop]):
                changed.add(prop)
    return PreparedCommand(coerced, expected, tolerance, buttons, frozenset(changed))


def _asked_number(raw: Any) -> float | None:
    """The number a command asked for, before any clamping (None when it is not one)."""
    if isinstance(raw, bool):
        return None
    try:
        return float(raw.strip() if isinstance(raw, str) else raw)
    except (TypeError, ValueError, OverflowError):
        return None


def _tolerance(spec: PropertySpec) -> float:
    """Hardware reports what it could do (a 12-bit duty is not exactly 40 %): within half
    a step or half the last shown digit it is the same setting."""
    steps = [spec.step / 2] if spec.step else []
    if spec.precision is not None:
        steps.append(0.5 * 10**-spec.precision)
    return max(steps, default=0.0)


def same_value(actual: Any, wanted: Any, tolerance: float = 0.0) -> bool:
    numbers = (int, float)
    if (
        isinstance(actual, numbers)
        and isinstance(wanted, numbers)
        and not isinstance(actual, bool)
        and not isinstance(wanted, bool)
    ):
        return math.isclose(actual, wanted, rel_tol=1e-6, abs_tol=max(tolerance, 1e-9))
    return bool(actual == wanted)
