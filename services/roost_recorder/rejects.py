"""Bad input, counted always and told sparingly: a log line and an error message on the
recorder's own device the first time for a topic and code, then at most once a minute."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable

from roost_recorder.records import Problem

log = logging.getLogger("roost.recorder.input")

Publish = Callable[[Problem, int], None]


class RejectReporter:
    def __init__(self, publish: Publish, *, interval: float = 60.0, max_keys: int = 1000) -> None:
        self.count = 0
        self.last: Problem | None = None
        self._publish = publish
        self._interval = interval
        self._max_keys = max_keys
        # (topic, code) -> (when last told, how many since)
        self._told: OrderedDict[tuple[str, str], tuple[float, int]] = OrderedDict()

    def report(self, problem: Problem) -> None:
        self.count += 1
        self.last = problem
        key = (problem.topic, problem.code.value)
        now = time.monotonic()
        told = self._told.get(key)
        if told is not None and now - told[0] < self._interval:
            self._told[key] = (told[0], told[1] + 1)
            return
        suppressed = told[1] if told is not None else 0
        self._told[key] = (now, 0)
        self._told.move_to_end(key)
        while len(self._told) > self._max_keys:
            self._told.popitem(last=False)
        more = f" ({suppressed} more like it since)" if suppressed else ""
        log.warning("%s: %s: %s%s", problem.topic, problem.code.value, problem.message, more)
        self._publish(problem, suppressed)
