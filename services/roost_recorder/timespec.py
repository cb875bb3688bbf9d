"""Times as `history` takes them: ISO-8601, Unix seconds, or seconds relative to now.

`from` may be negative (seconds before now) or a duration with a minus sign (`-1h`);
durations are `90`, `30s`, `10m`, `1h`, `2d`, `1w` or combinations (`1h30m`).
"""

from __future__ import annotations

import math
import re

from roost.clock import parse_iso
from roost.models.timestamps import MAX_SECONDS, MIN_SECONDS

TimeSpec = int | float | str

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)([smhdw]))+$")
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")


def parse_duration(text: str) -> float:
    """`1h30m` → 5400.0; a bare number is seconds. Raises ValueError."""
    text = text.strip().lower()
    try:
        seconds = float(text)
    except ValueError:
        if not _DURATION.match(text):
            raise ValueError(f"{text!r} is not a duration like 90s, 10m, 1h, 2d or 1w") from None
        seconds = sum(float(n) * _UNITS[unit] for n, unit in _PART.findall(text))
    if not math.isfinite(seconds) or not 0 <= seconds <= MAX_SECONDS - MIN_SECONDS:
        raise ValueError(f"{text!r} is not a duration (or out of range)")
    return seconds


def resolve(spec: TimeSpec, now: float) -> float:
    """Unix seconds for `spec`: negative numbers and `-<duration>` count back from `now`;
    within years 1 to 9999, so that every time fits a datetime and an SQLite integer."""
    seconds = _resolve(spec, now)
    if not MIN_SECONDS <= seconds <= MAX_SECONDS:
        shown = spec if not isinstance(spec, int) or abs(spec) < 10**20 else "a huge number"
        raise ValueError(f"time {shown!r} is out of range (years 1 to 9999)")
    return seconds


def _resolve(spec: TimeSpec, now: float) -> float:
    if isinstance(spec, bool):
        raise ValueError("a time is a number or a string, not a boolean")
    if isinstance(spec, int | float):
        try:
            value = float(spec)
        except OverflowError:  # an integer of hundreds of digits
            return math.inf
    else:
        text = spec.strip()
        if not text:
            raise ValueError("empty time")
        try:
            value = float(text)
        except ValueError:
            if text.startswith("-"):
                return now - parse_duration(text[1:])
            try:
                return parse_iso(text).timestamp()
            except (ValueError, OverflowError):
                raise ValueError(
                    f"{text!r} is not ISO-8601, Unix seconds or a relative time like -3600 or -1h"
                ) from None
    if not math.isfinite(value):
        return value  # out of range, said by resolve
    return now + value if value < 0 else value
