"""A device a node owns: its state, its publishing policy and the actor that runs its commands.

`update()` records readings and publishes the whole state object when a property moved
past its deadband, no sooner than its `min_interval` after its last publish (a change held
back by the interval goes out when the interval ends). Commands and device methods queue
to one worker task per device, so one task owns the device's I/O; a newer command for a
property supersedes a queued older one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, JsonValue

from roost.clock import iso
from roost.errors import CommandError, ErrorCode
from roost.models.messages import EventPayload, EventPhase
from roost.models.meta import DeviceMeta, MethodSpec, PropertyKind, PropertySpec

if TYPE_CHECKING:
    from roost.node import Node

log = logging.getLogger("roost.device")

Values = dict[str, JsonValue]
SetHandler = Callable[["Device", Values], Awaitable[Mapping[str, JsonValue] | None]]
DeviceMethod = Callable[["Device", Any], Awaitable[JsonValue]]
_MISSING = object()


@dataclass(eq=False)
class _Command:
    values: Values
    request_id: str | int | None


@dataclass(eq=False)
class _Call:
    method: str
    params: Any
    future: asyncio.Future[JsonValue] = field(repr=False)


@dataclass(frozen=True)
class DeviceMethodEntry:
    handler: DeviceMethod
    params: type[BaseModel] | None
    spec: MethodSpec


class Device:
    def __init__(
        self,
        node: Node,
        device_id: str,
        meta: DeviceMeta,
        *,
        on_set: SetHandler | None = None,
        heartbeat: float | None = None,
        available: bool = True,
        restore: bool = False,
    ) -> None:
        self.node = node
        self.id = device_id
        self.meta = meta
        self.on_set = on_set
        self.heartbeat = heartbeat
        self.available = available
        self.restore = restore
        self.values: Values = {p: None for p, s in meta.properties.items() if s.in_state}
        self.ts = iso()
        self.blobs: dict[str, bytes] = {}
        self.methods: dict[str, DeviceMethodEntry] = {}
        self._published: dict[str, JsonValue] = {}
        self._published_at: dict[str, float] = {}
        self._due: asyncio.TimerHandle | None = None
        self._beat: asyncio.TimerHandle | None = None
        self._jobs: deque[_Command | _Call] = deque()
        self._wake = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self._loop = asyncio.get_running_loop()

    def __repr__(self) -> str:
        return f"Device({self.node.id}/{self.id})"

    @property
    def topics(self) -> Any:
        return self.node.topics

    def spec(self, prop: str) -> PropertySpec:
        return self.meta.properties[prop]

    # state ---------------------------------------------------------------------------
    def update(
        self, values: Mapping[str, JsonValue] | None = None, /, *, force: bool = False, **more: Any
    ) -> bool:
        """Record new values; publish the state if they matter now. True if published."""
        changes: dict[str, Any] = {**(values or {}), **more}
        now = self._loop.time()
        publish = force
        due: float | None = None
        for prop, raw in changes.items():
            spec = self.meta.properties.get(prop)
            if spec is None or not spec.in_state:
                raise KeyError(f"{self} has no state property {prop!r}")
            value = _normalise(spec, raw)
            self.values[prop] = value
            if not _significant(spec, self._published.get(prop, _MISSING), value):
                continue
            wait = spec.min_interval - (now - self._published_at.get(prop, -math.inf))
            if wait <= 0:
                publish = True
            else:
                due = now + wait if due is None else min(due, now + wait)
        self.ts = iso()
        if publish:
            self.publish_state()
            return True
        if due is not None and (self._due is None or self._due.when() > due):
            if self._due is not None:
                self._due.cancel()
            self._due = self._loop.call_at(due, self.publish_state)
        return False

    def publish_state(self) -> None:
        """Publish the whole state object now."""
        now = self._loop.time()
        for prop, value in self.values.items():
            if self._published.get(prop, _MISSING) != value:
                self._published_at[prop] = now
        self._published = dict(self.values)
        if self._due is not None:
            self._due.cancel()
            self._due = None
        self.node.publish_retained(self.topics.state(self.node.id, self.id), self.state_payload())
        self._arm_heartbeat()

    def state_payload(self) -> dict[str, JsonValue]:
        return {**self.values, "ts": self.ts}

    def _arm_heartbeat(self) -> None:
        if self._beat is not None:
            self._beat.cancel()
        if self.heartbeat:
            self._beat = self._loop.call_later(self.heartbeat, self.publish_state)

    def set_available(self, available: bool) -> None:
        if available == self.available:
            return
        self.available = available
        log.info("%s is %s", self, "online" if available else "offline")
        self.node.publish_retained(
            self.topics.availability(self.node.id, self.id), "online" if available else "offline"
        )

    def adopt(self, state: Mapping[str, Any]) -> None:
        """Take values from a retained state read back at start (restore=True devices)."""
        for prop, value in state.items():
            spec = self.meta.properties.get(prop)
            if spec is not None and spec.in_state and self.values.get(prop) is None:
                self.values[prop] = value

    # transient messages --------------------------------------------------------------
    def emit(
        self,
        event_type: str,
        data: Mapping[str, Any] | None = None,
        *,
        phase: EventPhase | str | None = None,
        event_id: str | None = None,
    ) -> str:
        """Publish an event; returns its id (pass it again for `update`/`end` phases)."""
        event_id = event_id or uuid.uuid4().hex[:16]
        payload = EventPayload(
            event_type=event_type,
            id=event_id,
            phase=EventPhase(phase) if phase is not None else None,
            ts=iso(),
            data=dict(data or {}),
        )
        self.node.bus.publish_nowait(
            self.topics.event(self.node.id, self.id),
            payload.model_dump_json(exclude_none=True),
        )
        return event_id

    def publish_blob(self, prop: str, data: bytes) -> None:
        spec = self.meta.properties.get(prop)
        if spec is None or spec.kind is not PropertyKind.IMAGE:
            raise KeyError(f"{self} has no image property {prop!r}")
        self.blobs[prop] = data
        self.node.publish_retained(self.topics.blob(self.node.id, self.id, prop), data, qos=0)

    def error(
        self,
        code: ErrorCode | str,
        message: str,
        *,
        prop: str | None = None,
        request_id: str | int | None = None,
    ) -> None:
        self.node.publish_error(self.id, code, message, prop=prop, request_id=request_id)

    # methods ---------------------------------------------------------------------------
    def add_method(
        self,
        name: str,
        handler: DeviceMethod,
        *,
        params: type[BaseModel] | None = None,
        title: str | None = None,
        description: str | None = None,
    ) -> None:
        """A request method run by this device's actor: `roost/request/<node>/<name>`
        with `{"params": {"device": "<id>", ...}}`."""
        spec = MethodSpec(
            name=title,
            description=description,
            params=params.model_json_schema() if params else None,
            device=True,
        )
        self.methods[name] = DeviceMethodEntry(handler, params, spec)
        self.meta = self.meta.model_copy(update={"methods": {**self.meta.methods, name: spec}})
        self.node.register_device_method(name)

    # the actor -------------------------------------------------------------------------
    def start(self) -> None:
        if self._worker is None:
            self._worker = asyncio.create_task(self._work(), name=f"actor {self.node.id}/{self.id}")

    async def stop(self) -> None:
        for handle in (self._due, self._beat):
            if handle is not None:
                handle.cancel()
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
        for job in self._jobs:
            if isinstance(job, _Call) and not job.future.done():
                job.future.cancel()
        self._jobs.clear()

    def submit_command(self, values: Values, request_id: str | int | None) -> None:
        """Queue validated values; queued older values of the same properties are dropped."""
        for job in list(self._jobs):
            if not isinstance(job, _Command):
                continue
            overlap = [prop for prop in job.values if prop in values]
            for prop in overlap:
                del job.values[prop]
            if overlap and not job.values:
                self._jobs.remove(job)
                self.error(
                    ErrorCode.SUPERSEDED,
                    f"superseded by a newer command for {', '.join(overlap)}",
                    prop=overlap[0],
                    request_id=job.request_id,
                )
        self._jobs.append(_Command(dict(values), request_id))
        self._wake.set()

    def submit_call(self, method: str, params: Any) -> asyncio.Future[JsonValue]:
        future: asyncio.Future[JsonValue] = self._loop.create_future()
        self._jobs.append(_Call(method, params, future))
        self._wake.set()
        return future

    @property
    def queued(self) -> int:
        return len(self._jobs)

    async def _work(self) -> None:
        while True:
            while not self._jobs:
                self._wake.clear()
                await self._wake.wait()
            job = self._jobs.popleft()
            if isinstance(job, _Command):
                await self._apply(job)
            else:
                await self._call(job)

    async def _apply(self, job: _Command) -> None:
        try:
            result = (
                await self.on_set(self, dict(job.values)) if self.on_set is not None else job.values
            )
        except CommandError as exc:
            self.error(exc.code, exc.message, prop=exc.prop, request_id=job.request_id)
            return
        except Exception as exc:
            log.exception("%s: command %s failed", self, job.values)
            self.node.count_error()
            self.error(ErrorCode.FAILED, f"{type(exc).__name__}: {exc}", request_id=job.request_id)
            return
        in_state = {
            prop: value
            for prop, value in (result or {}).items()
            if prop in self.meta.properties and self.meta.properties[prop].in_state
        }
        self.update(in_state, force=True)
        for prop in job.values:
            if self.meta.properties[prop].kind is PropertyKind.BUTTON:
                self.emit("press", {"prop": prop})
        if job.request_id is not None:
            # What the device holds now for each property the command named: the
            # hardware's answer (a prescaler's nearest frequency), not what was asked.
            applied = {prop: self.values[prop] for prop in job.values if prop in self.values}
            self.node.publish_ack(self.id, job.request_id, applied)

    async def _call(self, job: _Call) -> None:
        entry = self.methods[job.method]
        try:
            result = await entry.handler(self, job.params)
        except Exception as exc:
            if not job.future.done():
                job.future.set_exception(exc)
            return
        if not job.future.done():
            job.future.set_result(result)


def _normalise(spec: PropertySpec, value: Any) -> JsonValue:
    if spec.precision is not None and isinstance(value, float) and math.isfinite(value):
        value = round(value, spec.precision)
        if spec.precision == 0:
            value = int(value)
    elif isinstance(value, float) and not math.isfinite(value):
        value = None  # JSON has no NaN; a reading that is not a number is unknown
    return value  # type: ignore[no-any-return]


def _significant(spec: PropertySpec, old: object, new: JsonValue) -> bool:
    if old is _MISSING:
        return True
    if (
        spec.deadband > 0
        and isinstance(old, int | float)
        and isinstance(new, int | float)
        and not isinstance(old, bool)
        and not isinstance(new, bool)
    ):
        return abs(new - old) >= spec.deadband - 1e-9
    return old != new
