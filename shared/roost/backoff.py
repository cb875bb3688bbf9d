"""Exponential backoff with full jitter, for reconnects and retried I/O."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

# A lost broker is retried at least this often, however long it was away: a broker that
# returns after a minute has every node back within a few seconds, not after a 30 s
# sleep. A refused connection costs the broker next to nothing, so a short cap is cheap.
RECONNECT_INITIAL = 0.25
RECONNECT_CAP = 3.0


@dataclass
class Backoff:
    initial: float = 0.5
    maximum: float = 30.0
    factor: float = 2.0
    attempts: int = 0
    _rng: random.Random = field(default_factory=random.Random, repr=False)

    def next(self) -> float:
        """The next delay: uniform in [ceiling/2, ceiling], the ceiling doubling to `maximum`."""
        ceiling = min(self.maximum, self.initial * self.factor**self.attempts)
        self.attempts += 1
        return self._rng.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self.attempts = 0


def reconnect_backoff() -> Backoff:
    """The broker reconnect schedule: 0.25 s doubling to a 3 s cap, jittered so that many
    nodes do not knock at the same instant when the broker returns."""
    return Backoff(initial=RECONNECT_INITIAL, maximum=RECONNECT_CAP)
