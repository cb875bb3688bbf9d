"""Command values per kind, without a broker: the rules the node applies."""

from __future__ import annotations

from typing import Any

import pytest

from roost.coerce import coerce_command
from roost.errors import CommandError
from roost.models import PropertySpec

DIAL = PropertySpec(kind="number", min=0, max=100, step=0.5, settable=True)
FINE = PropertySpec(kind="number", min=-1, max=1, step=0.1, settable=True)
FREE = PropertySpec(kind="number", settable=True)
SWITCH = PropertySpec(kind="switch", settable=True)


@pytest.mark.parametrize(
    ("spec", "raw", "value"),
    [
        (DIAL, 40, 40.0),  # a half-step grid gives floats
        (DIAL, "40.3", 40.5),
        (DIAL, 40.2, 40.0),
        (DIAL, 120, 100.0),
        (DIAL, -5, 0.0),
        (PropertySpec(kind="number", min=0, max=100, step=1, settable=True), "41.6", 42),
        (FINE, 0.3, 0.3),
        (FINE, "0.25", 0.2),
        (FINE, -0.35, -0.4),
        (FREE, "1e3", 1000.0),
        (FREE, 2.5, 2.5),
        (SWITCH, "ON", True),
        (SWITCH, "closed", False),
        (SWITCH, 1, True),
        (SWITCH, False, False),
    ],
)
def test_values_taken(spec: PropertySpec, raw: Any, value: Any) -> None:
    result = coerce_command("p", spec, raw)
    assert result == value
    assert type(result) is type(value)


@pytest.mark.parametrize(
    ("spec", "raw", "code"),
    [
        (DIAL, "nan", "invalid_value"),
        (DIAL, "inf", "invalid_value"),
        (DIAL, "٤٠", "invalid_value"),  # Arabic-Indic digits: float() takes them
        (DIAL, "４０", "invalid_value"),  # full-width digits
        (DIAL, "1_0", "invalid_value"),  # a Python literal, not a number on the wire
        (DIAL, "0x10", "invalid_value"),
        (DIAL, 10**400, "invalid_value"),  # beyond any float: OverflowError before
        (DIAL, None, "invalid_value"),
        (DIAL, {"v": 1}, "invalid_value"),
        (SWITCH, 2, "invalid_value"),
        (SWITCH, "toggle", "invalid_value"),
        (PropertySpec(kind="number"), 1, "not_settable"),
        (
            PropertySpec(kind="number", min=0, max=5, settable=True, out_of_range="reject"),
            6,
            "out_of_range",
        ),
        (PropertySpec(kind="enum", options=["a", "b"], settable=True), "c", "invalid_option"),
        (PropertySpec(kind="enum", options=["a", "b"], settable=True), True, "invalid_value"),
        (PropertySpec(kind="text", settable=True, max_length=3), "abcd", "too_long"),
        (PropertySpec(kind="text", settable=True), ["x"], "invalid_value"),
    ],
)
def test_values_refused(spec: PropertySpec, raw: Any, code: str) -> None:
    with pytest.raises(CommandError) as caught:
        coerce_command("p", spec, raw)
    assert caught.value.code == code
    assert caught.value.prop == "p"


@pytest.mark.parametrize(
    "bad",
    [
        {"kind": "number", "min": 5, "max": 1},
        {"kind": "number", "step": 0},
        {"kind": "enum"},
        {"kind": "event"},
        {"kind": "image", "settable": True},
        {"kind": "switch", "min": 0},
    ],
)
def test_inconsistent_specs_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"."):
        PropertySpec.model_validate(bad)
