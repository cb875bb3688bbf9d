"""A repeat window: the first change of a property is processed, repeats that
arrive before its window expires are skipped."""

from __future__ import annotations

from roost_event_engine.keys import PropertyTable


class RepeatWindow:
    def __init__(self, windows: PropertyTable[float]) -> None:
        self._windows = windows
        self._expires: dict[tuple[str, str, str], float] = {}

    def admit(self, node: str, device: str, props: list[str], now: float) -> list[str]:
        """The properties of a change to process at `now`; each starts its window."""
        out = []
        for prop in props:
            window = self._windows.lookup(node, device, prop)
            if window <= 0:
                out.append(prop)
                continue
            key = (node, device, prop)
            if self._expires.get(key, 0.0) > now:
                continue
            self._expires[key] = now + window
            out.append(prop)
        return out
