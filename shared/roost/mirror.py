"""A read-only mirror of what the broker holds: every node, device, meta, state and
availability, kept current from retained and live messages, with change notifications.

Only a retained meta makes a device: a state, availability, event, ack or error on a
device id without one (a command to a device that does not exist, a half-written foreign
node) is no device, online or offline.

The CLI, the web UI and the event engine all use it. It never claims to be truer than the
broker: it only ever holds the last message it saw on each topic.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import ValidationError
from pydantic_core import from_json

from roost.bus import Bus, Subscription
from roost.errors import TopicError
from roost.message import Message
from roost.models import (
    AckPayload,
    DeviceMeta,
    ErrorPayload,
    EventPayload,
    NodeInfo,
    NodeStats,
)
from roost.topics import TopicKind, Topics

log = logging.getLogger("roost.mirror")


@dataclass
class DeviceView:
    node: str
    id: str
    meta: DeviceMeta | None = None
    state: dict[str, Any] = field(default_factory=dict)
    available: bool | None = None
    last_error: ErrorPayload | None = None

    @property
    def ref(self) -> str:
        return f"{self.node}/{self.id}"


@dataclass
class NodeView:
    id: str
    info: NodeInfo | None = None
    online: bool | None = None
    stats: NodeStats | None = None
    devices: dict[str, DeviceView] = field(default_factory=dict)


class ChangeKind(StrEnum):
    INFO = "info"
    NODE_AVAILABILITY = "node_availability"
    STATS = "stats"
    META = "meta"
    STATE = "state"
    AVAILABILITY = "availability"
    EVENT = "event"
    ACK = "ack"
    ERROR = "error"
    REMOVED = "removed"


@dataclass(frozen=True)
class Change:
    kind: ChangeKind
    node: str
    device: str | None = None
    changed: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    event: EventPayload | None = None
    ack: AckPayload | None = None
    error: ErrorPayload | None = None
    retained: bool = False

    @property
    def ref(self) -> str:
        return f"{self.node}/{self.device}" if self.device else self.node


Listener = Callable[[Change], None]


MAX_PAYLOAD = 256 * 1024  # states, metas, events: a few kB each; JPEGs go to blob topics


class StateView:
    def __init__(
        self,
        topics: Topics,
        *,
        events: bool = True,
        errors: bool = True,
        acks: bool = True,
        stats: bool = True,
        max_payload: int = MAX_PAYLOAD,
    ) -> None:
        self.topics = topics
        self.nodes: dict[str, NodeView] = {}
        self.invalid = 0
        self.max_payload = max_payload
        self._events = events
        self._errors = errors
        self._acks = acks
        self._stats = stats
        self._listeners: list[Listener] = []
        self._subs: list[Subscription] = []

    # wiring ----------------------------------------------------------------------------
    def filters(self) -> list[str]:
        t = self.topics
        out = [t.any_node("info"), t.any_node("availability")]
        if self._stats:
            out.append(t.any_node("stats"))
        out += [t.any_device("meta"), t.any_device("state"), t.any_device("availability")]
        if self._events:
            out.append(t.any_device("event"))
        if self._acks:
            out.append(t.any_device("ack"))
        if self._errors:
            out.append(t.any_device("error"))
        return out

    async def attach(self, bus: Bus) -> None:
        """Subscribe on `bus`; the mirror fills as retained messages arrive."""
        for topic_filter in self.filters():
            self._subs.append(await bus.subscribe(topic_filter, self._on_message))

    async def detach(self) -> None:
        for sub in self._subs:
            await sub.remove()
        self._subs.clear()

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """Call `listener(change)` for every change; returns a function that removes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    @contextlib.asynccontextmanager
    async def changes(self, maxsize: int = 10_000) -> AsyncIterator[asyncio.Queue[Change]]:
        """A queue that receives every change while the context is open (oldest dropped
        when a slow reader lets it fill)."""
        queue: asyncio.Queue[Change] = asyncio.Queue(maxsize)

        def put(change: Change) -> None:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(change)

        remove = self.add_listener(put)
        try:
            yield queue
        finally:
            remove()

    def _on_message(self, message: Message) -> None:
        change = self.apply(message)
        if change is None:
            return
        for listener in list(self._listeners):
            try:
                listener(change)
            except Exception:
                log.exception("mirror listener failed on %s", message.topic)

    # lookups ---------------------------------------------------------------------------
    def devices(self) -> Iterator[DeviceView]:
        for node in self.nodes.values():
            yield from node.devices.values()

    def device(self, ref: str) -> DeviceView:
        """`node/device`, or a device id that only one node has."""
        if "/" in ref:
            node_id, _, device_id = ref.partition("/")
            node = self.nodes.get(node_id)
            if node is None or device_id not in node.devices:
                raise KeyError(f"no device {ref}")
            return node.devices[device_id]
        found = [d for d in self.devices() if d.id == ref]
        if not found:
            raise KeyError(f"no device {ref}")
        if len(found) > 1:
            names = ", ".join(d.ref for d in found)
            raise KeyError(f"device id {ref} is ambiguous: {names}")
        return found[0]

    def online(self, device: DeviceView) -> bool:
        node = self.nodes.get(device.node)
        return bool(node and node.online and device.available)

    # applying messages -----------------------------------------------------------------
    def _node(self, node_id: str) -> NodeView:
        node = self.nodes.get(node_id)
        if node is None:
            node = self.nodes[node_id] = NodeView(node_id)
        return node

    def _device(self, node_id: str, device_id: str) -> DeviceView:
        node = self._node(node_id)
        device = node.devices.get(device_id)
        if device is None:
            device = node.devices[device_id] = DeviceView(node_id, device_id)
        return device

    def apply(self, message: Message) -> Change | None:
        """Fold one message into the mirror; the change it made, if any."""
        try:
            parsed = self.topics.parse(message.topic)
        except TopicError:
            return None
        node_id, device_id = parsed.node, parsed.device
        if node_id is None:
            return None
        if len(message.payload) > self.max_payload:
            # Held in memory by every consumer and sent to every page: refused, so a peer
            # publishing megabytes of state cannot grow them without bound.
            self.invalid += 1
            log.debug("ignoring %s: %d bytes", message.topic, len(message.payload))
            return None
        try:
            return self._apply(parsed.kind, node_id, device_id, message)
        except (ValueError, ValidationError) as exc:
            self.invalid += 1
            log.debug("ignoring malformed %s: %s", message.topic, exc)
            return None

    def _apply(
        self, kind: TopicKind, node_id: str, device_id: str | None, message: Message
    ) -> Change | None:
        payload = message.payload
        retained = message.retain
        if device_id is None:
            node = self._node(node_id)
            if kind is TopicKind.NODE_INFO:
                node.info = NodeInfo.model_validate_json(payload) if payload else None
                return Change(ChangeKind.INFO, node_id, retained=retained)
            if kind is TopicKind.NODE_AVAILABILITY:
                node.online = payload == b"online" if payload else None
                return Change(ChangeKind.NODE_AVAILABILITY, node_id, retained=retained)
            if kind is TopicKind.NODE_STATS:
                node.stats = NodeStats.model_validate_json(payload) if payload else None
                return Change(ChangeKind.STATS, node_id, retained=retained)
            return None
        if kind is TopicKind.META:
            if not payload:
                return self._remove(node_id, device_id, retained)
            self._device(node_id, device_id).meta = DeviceMeta.model_validate_json(payload)
            return Change(ChangeKind.META, node_id, device_id, retained=retained)
        known = self.nodes.get(node_id)
        device = known.devices.get(device_id) if known is not None else None
        if device is None:
            return None  # no meta, no device (and clearing one we no longer have)
        if kind is TopicKind.STATE:
            new = from_json(payload, allow_inf_nan=False) if payload else {}
            if not isinstance(new, dict):
                raise ValueError("state is not a JSON object")
            changed = {
                prop: (device.state.get(prop), value)
                for prop, value in new.items()
                if prop != "ts" and device.state.get(prop) != value
            }
            device.state = new
            return Change(ChangeKind.STATE, node_id, device_id, changed, retained=retained)
        if kind is TopicKind.AVAILABILITY:
            device.available = payload == b"online" if payload else None
            return Change(ChangeKind.AVAILABILITY, node_id, device_id, retained=retained)
        if kind is TopicKind.EVENT and payload:
            event = EventPayload.model_validate_json(payload)
            return Change(ChangeKind.EVENT, node_id, device_id, event=event, retained=retained)
        if kind is TopicKind.ACK and payload:
            ack = AckPayload.model_validate_json(payload)
            return Change(ChangeKind.ACK, node_id, device_id, ack=ack, retained=retained)
        if kind is TopicKind.ERROR and payload:
            error = ErrorPayload.model_validate_json(payload)
            device.last_error = error
            return Change(ChangeKind.ERROR, node_id, device_id, error=error, retained=retained)
        return None

    def _remove(self, node_id: str, device_id: str, retained: bool) -> Change | None:
        node = self.nodes.get(node_id)
        if node is None or node.devices.pop(device_id, None) is None:
            return None
        return Change(ChangeKind.REMOVED, node_id, device_id, retained=retained)
