"""The loop breaker: how many scripts' own actions led to a trigger.

A script that emits an event from `onevent`, or two scripts that set each other's
devices, would run forever through the broker. Every trigger carries its chain: the
functions whose actions caused it (empty for a change nobody's script caused). An event a
run emits is remembered by its id; a command a run sends is remembered for the device's
next state change or event within `window` seconds. A trigger whose chain reaches
`max_depth` is not run: the engine reports the chain instead.

Timers and schedules do not carry chains: re-arming oneself is what they are for.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TypeVar

Chain = tuple[str, ...]

MAX_REMEMBERED = 10_000  # bounded memory whatever the scripts do
V = TypeVar("V")


class ChainTracker:
    def __init__(
        self, max_depth: int, window: float = 5.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_depth = max_depth
        self.window = window
        self._clock = clock
        self._events: OrderedDict[str, Chain] = OrderedDict()
        self._devices: OrderedDict[str, tuple[Chain, float]] = OrderedDict()

    def emitted(self, event_id: str, chain: Chain) -> None:
        """A run with `chain` emitted the event `event_id`."""
        self._events[event_id] = chain
        _bound(self._events)

    def commanded(self, ref: str, chain: Chain) -> None:
        """A run with `chain` sent a command to the device `ref`."""
        self._devices.pop(ref, None)
        self._devices[ref] = (chain, self._clock() + self.window)
        _bound(self._devices)

    def of_event(self, event_id: str | None, ref: str) -> Chain:
        """The chain behind an event: the run that emitted it, else a recent command."""
        if event_id is not None and event_id in self._events:
            return self._events.pop(event_id)
        return self.of_device(ref)

    def of_device(self, ref: str) -> Chain:
        """The chain behind a device's state change or command: a recent command to it."""
        entry = self._devices.pop(ref, None)
        if entry is None or entry[1] < self._clock():
            return ()
        return entry[0]

    def too_long(self, chain: Chain) -> bool:
        return len(chain) >= self.max_depth


def describe(chain: Chain) -> str:
    """`a.js:onevent → a.js:onevent (×9)`: the chain, repeats folded."""
    parts: list[str] = []
    for link in chain:
        if parts and parts[-1].split(" (×")[0] == link:
            base, _, count = parts[-1].partition(" (×")
            times = int(count.rstrip(")")) + 1 if count else 2
            parts[-1] = f"{base} (×{times})"
        else:
            parts.append(link)
    return " → ".join(parts)


def _bound(table: OrderedDict[str, V]) -> None:
    while len(table) > MAX_REMEMBERED:
        table.popitem(last=False)
