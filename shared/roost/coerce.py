"""Command values coerced per property kind, as the owner of the property would take them.

A `/set` carries either JSON (`{"duty": 40}`) or a bare value on `/set/<prop>` (`40`,
`on`). Both end here; anything that cannot be taken raises CommandError with a code.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal

from pydantic import JsonValue

from roost.errors import CommandError, ErrorCode
from roost.models.meta import PropertyKind, PropertySpec

SWITCH_ON = frozenset({"on", "true", "yes", "up", "open", "1"})
SWITCH_OFF = frozenset({"off", "false", "no", "down", "closed", "close", "0"})


def coerce_command(prop: str, spec: PropertySpec, raw: object) -> JsonValue:
    """The value to apply for `raw` (a JSON value, or the text of a bare payload)."""
    if not spec.accepts_commands:
        raise CommandError(ErrorCode.NOT_SETTABLE, f"{prop} is read-only", prop=prop)
    match spec.kind:
        case PropertyKind.NUMBER:
            return _number(prop, spec, raw)
        case PropertyKind.SWITCH:
            return _switch(prop, raw)
        case PropertyKind.BUTTON:
            return True
        case PropertyKind.TEXT:
            return _text(prop, spec, raw)
        case PropertyKind.ENUM:
            return _enum(prop, spec, raw)
    raise CommandError(ErrorCode.NOT_SETTABLE, f"{prop} takes no commands", prop=prop)


def _invalid(prop: str, raw: object, wanted: str) -> CommandError:
    shown = repr(raw) if len(repr(raw)) <= 40 else repr(raw)[:37] + "..."
    return CommandError(ErrorCode.INVALID_VALUE, f"{prop} wants {wanted}, got {shown}", prop=prop)


DECIMAL = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)


def _number(prop: str, spec: PropertySpec, raw: object) -> int | float:
    if isinstance(raw, bool):
        raise _invalid(prop, raw, "a number")
    if isinstance(raw, int | float):
        try:
            value = float(raw)
        except OverflowError:  # an integer beyond any float
            raise _invalid(prop, raw, "a finite number") from None
    elif isinstance(raw, str):
        # Python's float() also takes '٤٠', '４０' and '1_0': a command is ASCII decimal.
        if not DECIMAL.fullmatch(raw.strip()):
            raise _invalid(prop, raw, "a number")
        value = float(raw.strip())
    else:
        raise _invalid(prop, raw, "a number")
    if not math.isfinite(value):
        raise _invalid(prop, raw, "a finite number")
    low, high = spec.min, spec.max
    if (low is not None and value < low) or (high is not None and value > high):
        if (spec.out_of_range or "clamp") == "reject":
            raise CommandError(
                ErrorCode.OUT_OF_RANGE,
                f"{prop} must be within {_fmt(low)}..{_fmt(high)}, got {_fmt(value)}",
                prop=prop,
            )
        if low is not None:
            value = max(value, low)
        if high is not None:
            value = min(value, high)
    return snap_number(spec, value)


def snap_number(spec: PropertySpec, value: float) -> int | float:
    """Round to the property's step (counted from min) and precision; ints stay ints."""
    value = float(value)
    step = spec.step
    if step is not None:
        base = spec.min if spec.min is not None else 0.0
        snapped = float(base + round((value - base) / step) * step)
        if spec.max is not None and snapped > spec.max + 1e-12:
            snapped -= step
        decimals = _decimals(step) + _decimals(base)
        value = round(snapped, decimals)
    if spec.precision is not None:
        value = round(value, spec.precision)
    integral_grid = (step is None or float(step).is_integer()) and (
        spec.min is None or float(spec.min).is_integer()
    )
    if value.is_integer() and integral_grid and (step is not None or spec.precision == 0):
        return int(value)
    return value


def _decimals(x: float) -> int:
    exponent = Decimal(repr(float(x))).normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _fmt(x: float | None) -> str:
    if x is None:
        return "…"
    return str(int(x)) if float(x).is_integer() else repr(x)


def _switch(prop: str, raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int) and raw in (0, 1):
        return bool(raw)
    if isinstance(raw, str):
        word = raw.strip().lower()
        if word in SWITCH_ON:
            return True
        if word in SWITCH_OFF:
            return False
    raise _invalid(prop, raw, "on/off, true/false, yes/no, up/down, open/closed or 1/0")


def _text(prop: str, spec: PropertySpec, raw: object) -> str:
    if not isinstance(raw, str):
        raise _invalid(prop, raw, "text")
    if len(raw) > spec.text_limit:
        raise CommandError(
            ErrorCode.TOO_LONG,
            f"{prop} takes at most {spec.text_limit} characters, got {len(raw)}",
            prop=prop,
        )
    return raw


def _enum(prop: str, spec: PropertySpec, raw: object) -> str:
    options = spec.options or []
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise _invalid(prop, raw, f"one of {', '.join(options)}")
    text = str(raw).strip()
    if text in options:
        return text
    folded = {option.lower(): option for option in options}
    if text.lower() in folded:
        return folded[text.lower()]
    raise CommandError(
        ErrorCode.INVALID_OPTION,
        f"{prop} must be one of {', '.join(options)}, got {text!r}",
        prop=prop,
    )
