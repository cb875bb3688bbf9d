"""Times read from the wire: ISO-8601 text or Unix seconds, bounded to what a datetime holds.

Anything a peer publishes as a time is checked here before it reaches `datetime`, SQLite
or a formatter: an unbounded number (`1e300`, `-1e17`, a 400-digit integer) overflows all
three, and one such message must be a rejected value, not a stopped service.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated

from pydantic import PlainValidator

from roost.clock import parse_iso

EARLIEST = datetime(1, 1, 2, tzinfo=UTC)  # a day's margin: any UTC offset still fits
LATEST = datetime(9999, 12, 30, tzinfo=UTC)
MIN_SECONDS = EARLIEST.timestamp()
MAX_SECONDS = LATEST.timestamp()
MAX_TEXT = 64


def to_datetime(value: object) -> datetime:
    """An aware UTC datetime from ISO-8601 text or Unix seconds; ValueError says why not."""
    if isinstance(value, bool):
        raise ValueError("a time is ISO-8601 text or Unix seconds, not true/false")
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{value} is not a time")
        if not MIN_SECONDS <= value <= MAX_SECONDS:
            shown = f"{value:.6g}" if isinstance(value, float) else _short(str(value))
            raise ValueError(
                f"{shown} is out of range (Unix seconds from {MIN_SECONDS:.0f} "
                f"to {MAX_SECONDS:.0f}, years 1 to 9999)"
            )
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        if len(value) > MAX_TEXT:
            raise ValueError(f"a time of {len(value)} characters is not ISO-8601")
        try:
            moment = parse_iso(value).astimezone(UTC)
        except (ValueError, OverflowError):
            raise ValueError(f"{value!r} is not an ISO-8601 time") from None
        if not EARLIEST <= moment <= LATEST:
            raise ValueError(f"{value!r} is out of range (years 1 to 9999)")
        return moment
    raise ValueError(f"a time is ISO-8601 text or Unix seconds, not {type(value).__name__}")


def _short(text: str) -> str:
    return text if len(text) <= 24 else f"{text[:10]}…({len(text)} digits)"


WireTime = Annotated[datetime, PlainValidator(to_datetime)]
"""A pydantic field type for a time a peer sent (ISO-8601 or Unix seconds, bounded)."""


def unix_millis(value: object) -> int:
    """Unix milliseconds of a wire time (always within SQLite's 64-bit integers)."""
    return round(to_datetime(value).timestamp() * 1000)
