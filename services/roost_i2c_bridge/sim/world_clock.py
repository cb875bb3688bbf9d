"""The simulated world's own clock: where its day stands, and how fast its time runs.

By default the world starts at a fixed time of day and runs at real speed, whatever the
host's clock and time zone say, so the demo greenhouse behaves the same at any hour. A
shorter `day_length` runs the whole world as a time-lapse (600 s: a day in ten minutes);
`time_of_day = "local"` follows the host's local clock instead.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

DAY = 86400.0  # s
LOCAL = "local"


def parse_time_of_day(text: str) -> float:
    """`"HH:MM"` or `"HH:MM:SS"` → seconds after midnight; ValueError otherwise."""
    parts = text.strip().split(":")
    if len(parts) in (2, 3) and all(p.isdigit() and len(p) == 2 for p in parts):
        hour, minute, second = (int(p) for p in (*parts, "00")[:3])
        if hour < 24 and minute < 60 and second < 60:
            return hour * 3600.0 + minute * 60.0 + second
    raise ValueError(f'not a time of day: use "HH:MM" (e.g. "09:00"), or "{LOCAL}"')


def format_time_of_day(seconds: float) -> str:
    """Seconds after midnight → `"HH:MM:SS"`."""
    whole = int(seconds) % int(DAY)
    return f"{whole // 3600:02d}:{whole // 60 % 60:02d}:{whole % 60:02d}"


@dataclass(frozen=True)
class WorldClock:
    """Maps the world's elapsed (simulated) seconds to its time of day.

    `start` is the time of day the world starts at, in seconds after midnight, or None to
    follow the host's local clock (then the day is the host's: 24 hours).
    """

    start: float | None = 9 * 3600.0
    day_length: float = DAY

    def __post_init__(self) -> None:
        if self.day_length <= 0:
            raise ValueError(f"day_length must be positive, not {self.day_length}")
        if self.start is None and self.day_length != DAY:
            raise ValueError("a world on the host's local clock has a day of 86400 s")
        if self.start is not None and not 0 <= self.start < DAY:
            raise ValueError(f"start must be within a day (0 <= start < {DAY:.0f})")

    @property
    def speed(self) -> float:
        """Simulated seconds per real second."""
        return DAY / self.day_length

    def seconds(self, started: float, elapsed: float) -> float:
        """The world's time of day, seconds after midnight, `elapsed` simulated seconds
        after it started at the host's time `started` (epoch seconds)."""
        if self.start is None:
            local = time.localtime(started + elapsed)
            fraction = (started + elapsed) % 1.0
            return local.tm_hour * 3600.0 + local.tm_min * 60.0 + local.tm_sec + fraction
        return (self.start + elapsed) % DAY

    def hour(self, started: float, elapsed: float) -> float:
        """The same as an hour, 0 ≤ hour < 24."""
        return self.seconds(started, elapsed) / 3600.0
