"""Devices used by the foundation's tests: one of every property kind."""

from __future__ import annotations

from roost.models import DeviceMeta, PropertySpec

FAN = DeviceMeta(
    name="Fan",
    model="test-fan",
    manufacturer="roost tests",
    properties={
        "duty": PropertySpec(kind="number", unit="%", min=0, max=100, step=1, settable=True),
        "power": PropertySpec(kind="switch", settable=True),
        "rpm": PropertySpec(kind="number", unit="rpm", precision=0, deadband=50),
        "running": PropertySpec(kind="switch"),
        "mode": PropertySpec(kind="enum", options=["auto", "manual"], settable=True),
        "label": PropertySpec(kind="text", settable=True, max_length=16),
        "note": PropertySpec(kind="text"),
        "reset": PropertySpec(kind="button"),
        "dose_ml": PropertySpec(
            kind="number", unit="mL", min=0, max=50, settable=True, out_of_range="reject"
        ),
        "snapshot": PropertySpec(kind="image"),
        "alarm": PropertySpec(kind="event", options=["stall", "overheat"]),
        "temperature": PropertySpec(
            kind="number",
            unit="°C",
            precision=1,
            device_class="temperature",
            deadband=0.5,
            min_interval=0.3,
        ),
    },
)
