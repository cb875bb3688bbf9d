"""From MQTT messages to rows: a state gives samples and changes, an event an event row.

A state's numbers are samples (every one, as the owner published it); its other values
(switches, text, enum options, objects) are stored only when they differ from the last
stored value of that property. What is wrong with a message becomes a `Problem`; the
good parts of it are still recorded.
"""

from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass

from pydantic import ValidationError
from pydantic_core import from_json, to_json

from roost.errors import ErrorCode
from roost.message import Message
from roost.models.messages import EventPayload
from roost.models.timestamps import unix_millis
from roost.topics import RESERVED_NODE_IDS, Topics
from roost_recorder.budget import SeriesBudget
from roost_recorder.settings import RecorderSection
from roost_recorder.store import Batch, DeviceKey, SeriesKey


@dataclass(frozen=True, slots=True)
class Problem:
    code: ErrorCode
    message: str
    topic: str


class Parser:
    """Turns state, event and meta messages into a `Batch`; knows each device's meta so
    that a property the meta does not name is reported."""

    def __init__(
        self,
        topics: Topics,
        section: RecorderSection,
        last_change: dict[SeriesKey, str],
        budget: SeriesBudget | None = None,
    ) -> None:
        self._base = len(topics.prefix.split("/"))
        self._max_payload = section.max_payload
        self._patterns = list(section.exclude)
        self._events = section.events
        self._last = last_change
        self._excluded: dict[SeriesKey, bool] = {}
        self._known: dict[DeviceKey, frozenset[str]] = {}
        self.budget = budget or SeriesBudget(section.max_series_per_node, ())

    # topics ----------------------------------------------------------------------------
    def _device(self, topic: str) -> tuple[str, str, str] | None:
        """(node, device, leaf) of a device topic, None for anything else."""
        levels = topic.split("/")
        base = self._base
        if len(levels) != base + 3:
            return None
        node, device, leaf = levels[base], levels[base + 1], levels[base + 2]
        if not node or not device or node in RESERVED_NODE_IDS:
            return None
        return node, device, leaf

    def excluded(self, key: SeriesKey) -> bool:
        found = self._excluded.get(key)
        if found is None:
            name = "/".join(key)
            found = any(fnmatch.fnmatchcase(name, pattern) for pattern in self._patterns)
            self._excluded[key] = found
        return found

    # meta ------------------------------------------------------------------------------
    def on_meta(self, message: Message) -> None:
        where = self._device(message.topic)
        if where is None:
            return
        device = (where[0], where[1])
        if not message.payload:
            self._known.pop(device, None)
            return
        try:
            meta = from_json(message.payload)
            properties = meta["properties"]
            self._known[device] = frozenset(str(p) for p in properties)
        except (ValueError, KeyError, TypeError):
            self._known.pop(device, None)  # no usable meta: do not judge its states

    # states and events -----------------------------------------------------------------
    def parse(self, message: Message, received: float, batch: Batch) -> list[Problem]:
        where = self._device(message.topic)
        if where is None:
            return []
        node, device, leaf = where
        if not message.payload:
            return []  # a retained topic being cleared: the device was removed
        if len(message.payload) > self._max_payload:
            return [
                Problem(
                    ErrorCode.PAYLOAD_TOO_LARGE,
                    f"{len(message.payload)} bytes, over the {self._max_payload} byte limit",
                    message.topic,
                )
            ]
        if leaf == "state":
            return self._state(message, node, device, received, batch)
        if leaf == "event" and self._events:
            return self._event(message, node, device, received, batch)
        return []

    def _state(
        self, message: Message, node: str, device: str, received: float, batch: Batch
    ) -> list[Problem]:
        topic = message.topic
        try:
            state = from_json(message.payload, allow_inf_nan=False)
        except ValueError as exc:
            return [Problem(ErrorCode.INVALID_JSON, f"state is not JSON: {exc}", topic)]
        if not isinstance(state, dict):
            return [Problem(ErrorCode.INVALID_VALUE, "state is not a JSON object", topic)]
        problems: list[Problem] = []
        ts, problem = _millis(state.pop("ts", None), received, topic)
        if problem is not None:
            problems.append(problem)
        known = self._known.get((node, device))
        samples = batch.samples
        for prop, value in state.items():
            if value is None:
                continue
            key = (node, device, prop)
            if not self.budget.admit(key):
                problems.append(self._over_budget(node, prop, topic))
                continue
            if self._patterns and self.excluded(key):
                continue
            if known is not None and prop not in known:
                problems.append(
                    Problem(
                        ErrorCode.UNKNOWN_PROPERTY,
                        f"property {prop!r} is not in the device's meta (recorded anyway)",
                        topic,
                    )
                )
            if isinstance(value, int | float) and not isinstance(value, bool):
                number = _finite(value)
                if number is None:
                    problems.append(
                        Problem(ErrorCode.INVALID_VALUE, f"{prop} is not a finite number", topic)
                    )
                    continue
                samples.append((key, ts, number))
                continue
            encoded = to_json(value).decode()
            if self._last.get(key) != encoded:
                self._last[key] = encoded
                batch.changes.append((key, ts, encoded))
        return problems

    def _event(
        self, message: Message, node: str, device: str, received: float, batch: Batch
    ) -> list[Problem]:
        topic = message.topic
        if not self.budget.admit((node, device, "event")):
            return [self._over_budget(node, "event", topic)]
        if self._patterns and self.excluded((node, device, "event")):
            return []
        try:
            event = EventPayload.model_validate_json(message.payload)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "payload"
            return [Problem(ErrorCode.INVALID_VALUE, f"event {where}: {first['msg']}", topic)]
        ts, problem = _millis(event.ts, received, topic)
        batch.events.append(
            (
                (node, device),
                ts,
                event.id,
                event.phase.value if event.phase else "",
                event.event_type,
                to_json(event.data).decode(),
            )
        )
        return [problem] if problem is not None else []

    def _over_budget(self, node: str, prop: str, topic: str) -> Problem:
        limit = self.budget.per_node
        return Problem(
            ErrorCode.LIMIT_REACHED,
            f"{node} already has {limit} recorded series ([recorder] max_series_per_node): "
            f"{prop!r} of this device is not recorded",
            topic,
        )


def _finite(value: int | float) -> float | None:
    """The value as a float, None when it has none (an integer of hundreds of digits)."""
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _millis(raw: object, received: float, topic: str) -> tuple[int, Problem | None]:
    """The message's own time in Unix ms (ISO-8601 or Unix seconds); else when it came."""
    if raw is None:
        return round(received * 1000), None
    try:
        return unix_millis(raw), None
    except ValueError as exc:
        problem = Problem(ErrorCode.INVALID_VALUE, f"ts: {exc}; used the time it arrived", topic)
        return round(received * 1000), problem
