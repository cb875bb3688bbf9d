"""How many series one node may make: a node that publishes ever new property names or
device ids must not grow the series table, and the recorder's memory, without end."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from roost_recorder.store import SeriesKey


class SeriesBudget:
    """At most `per_node` series (a device's property, or a device's events) per node.

    Counts what the store holds and what was admitted since; a key past the limit is
    refused, and the refusal reported, until old series are removed."""

    def __init__(self, per_node: int, existing: Iterable[SeriesKey]) -> None:
        self.per_node = per_node
        self._known: set[SeriesKey] = set(existing)
        self._count: Counter[str] = Counter(key[0] for key in self._known)
        self.refused = 0

    def admit(self, key: SeriesKey) -> bool:
        """True when `key` is known or fits its node's budget (then it is known)."""
        if key in self._known:
            return True
        node = key[0]
        if self._count[node] >= self.per_node:
            self.refused += 1
            return False
        self._known.add(key)
        self._count[node] += 1
        return True

    def used(self, node: str) -> int:
        return self._count[node]
