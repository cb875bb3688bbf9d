"""The engine's own device: how busy it is, what it dropped, what failed."""

from __future__ import annotations

import time

from roost.models.meta import DeviceMeta, PropertySpec

ENGINE_DEVICE = "engine"
SCRIPT_ERROR = "script_error"
NOTIFICATION = "notification"

ENGINE_META = DeviceMeta(
    name="Event engine",
    model="roost event engine",
    manufacturer="roost",
    properties={
        "events_per_s": PropertySpec(
            kind="number",
            name="Events per second",
            unit="ev/s",
            precision=1,
            state_class="measurement",
            entity_category="diagnostic",
            deadband=0.1,
        ),
        "queue": PropertySpec(
            kind="number",
            name="Queued events",
            precision=0,
            state_class="measurement",
            entity_category="diagnostic",
        ),
        "dropped": PropertySpec(
            kind="number",
            name="Dropped events",
            precision=0,
            state_class="total_increasing",
            entity_category="diagnostic",
        ),
        "errors": PropertySpec(
            kind="number",
            name="Script errors",
            precision=0,
            state_class="total_increasing",
            entity_category="diagnostic",
        ),
        "workers": PropertySpec(
            kind="number", name="Workers", precision=0, entity_category="diagnostic"
        ),
        "restarts": PropertySpec(
            kind="number",
            name="Worker restarts",
            precision=0,
            state_class="total_increasing",
            entity_category="diagnostic",
        ),
        "scripts": PropertySpec(
            kind="number", name="Scripts loaded", precision=0, entity_category="diagnostic"
        ),
        "broken_scripts": PropertySpec(
            kind="number",
            name="Scripts that failed to load",
            precision=0,
            entity_category="diagnostic",
        ),
        "reload": PropertySpec(kind="button", name="Reload scripts", entity_category="config"),
        "alerts": PropertySpec(
            kind="event", name="Script alerts", options=[SCRIPT_ERROR, NOTIFICATION]
        ),
    },
)


class Rate:
    """Events per second between two readings."""

    def __init__(self) -> None:
        self.count = 0
        self._last_count = 0
        self._last_time = time.monotonic()

    def tick(self, n: int = 1) -> None:
        self.count += n

    def read(self) -> float:
        now = time.monotonic()
        elapsed = now - self._last_time
        rate = (self.count - self._last_count) / elapsed if elapsed > 0 else 0.0
        self._last_count = self.count
        self._last_time = now
        return rate
