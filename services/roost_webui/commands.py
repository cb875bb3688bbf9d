"""Commands from the page and the API: publish a `/set`, then wait for the owner's verdict.

The owner answers a command by publishing its state (what is, not what was asked) or an
error carrying the command's id; a button press answers with a `press` event. The tracker
watches the mirror for whichever comes first, as `roost set` does.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from roost.bus import Bus
from roost.coerce import coerce_command
from roost.errors import BusError, CommandError
from roost.mirror import Change, ChangeKind, DeviceView, StateView
from roost.models import PropertyKind

Outcome = Literal["ok", "rejected", "timeout", "unreachable"]


@dataclass
class Verdict:
    status: Outcome
    state: dict[str, Any] = field(default_factory=dict)
    code: str | None = None
    message: str | None = None
    prop: str | None = None
    id: str | None = None

    def json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"status": self.status, "id": self.id}
        if self.status == "ok":
            body["state"] = self.state
        else:
            body["error"] = {"code": self.code, "message": self.message, "prop": self.prop}
        return body


@dataclass(eq=False)
class _Pending:
    ref: str
    expected: dict[str, Any]
    tolerance: dict[str, float]
    buttons: list[str]
    future: asyncio.Future[Verdict]


class CommandTracker:
    def __init__(self, bus: Bus, view: Callable[[], StateView], timeout: float) -> None:
        self.bus = bus
        self._view = view
        self.timeout = timeout
        self._pending: dict[str, _Pending] = {}

    async def set(self, device: DeviceView, values: dict[str, Any]) -> Verdict:
        request_id = uuid.uuid4().hex[:16]
        props = device.meta.properties if device.meta else {}
        expected: dict[str, Any] = {}
        tolerance: dict[str, float] = {}
        for prop, value in values.items():
            spec = props.get(prop)
            if spec is None or not spec.in_state:
                continue
            # A value we cannot coerce goes out as given: the owner says why it refuses.
            with contextlib.suppress(CommandError):
                expected[prop] = coerce_command(prop, spec, value)
            # Hardware reports what it could do (a 12-bit duty is not exactly 40 %): half
            # a step or half the last shown digit is the same setting.
            steps = [spec.step / 2] if spec.step else []
            if spec.precision is not None:
                steps.append(0.5 * 10**-spec.precision)
            tolerance[prop] = max(steps, default=0.0)
        buttons = [p for p in values if p in props and props[p].kind is PropertyKind.BUTTON]
        future: asyncio.Future[Verdict] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = _Pending(device.ref, expected, tolerance, buttons, future)
        try:
            topic = self.bus.topics.set(device.node, device.id)
            try:
                await self.bus.publish(topic, {**values, "id": request_id}, timeout=self.timeout)
            except BusError as exc:
                return Verdict("unreachable", code="unreachable", message=str(exc), id=request_id)
            try:
                verdict = await asyncio.wait_for(future, self.timeout)
            except TimeoutError:
                return Verdict(
                    "timeout", code="timeout", message=self._silence(device, values), id=request_id
                )
            verdict.id = request_id
            return verdict
        finally:
            self._pending.pop(request_id, None)

    def _silence(self, device: DeviceView, values: dict[str, Any]) -> str:
        view = self._view()
        try:
            state = view.device(device.ref).state
        except KeyError:
            state = {}
        waited = f"within {self.timeout:g} s"
        if not view.online(device):
            return f"no answer from {device.ref} {waited} (it is offline)"
        shown = ", ".join(f"{p}={state.get(p)!r}" for p in values if p in state)
        if shown:
            return f"{device.ref} did not take the change {waited}: it reports {shown}"
        return f"no answer from {device.ref} {waited}"

    def on_change(self, change: Change) -> None:
        if not self._pending or change.device is None:
            return
        if change.kind is ChangeKind.ERROR and change.error is not None:
            pending = self._pending.get(str(change.error.id))
            if pending is not None and pending.ref == change.ref:
                error = change.error
                _settle(
                    pending,
                    Verdict("rejected", code=error.code, message=error.message, prop=error.prop),
                )
        elif change.kind is ChangeKind.STATE and not change.retained:
            try:
                device = self._view().device(change.ref)
            except KeyError:
                return
            for pending in list(self._pending.values()):
                if pending.ref != change.ref or not pending.expected:
                    continue
                if all(
                    _same(device.state.get(p), v, pending.tolerance.get(p, 0.0))
                    for p, v in pending.expected.items()
                ):
                    _settle(pending, Verdict("ok", state=dict(device.state)))
        elif change.kind is ChangeKind.EVENT and change.event is not None:
            event = change.event
            pressed = event.data.get("prop") if event.event_type == "press" else None
            for pending in list(self._pending.values()):
                if (
                    pending.ref == change.ref
                    and not pending.expected
                    and pressed in pending.buttons
                ):
                    device_state = self._state_of(change.ref)
                    _settle(pending, Verdict("ok", state=device_state))

    def _state_of(self, ref: str) -> dict[str, Any]:
        try:
            return dict(self._view().device(ref).state)
        except KeyError:
            return {}


def _settle(pending: _Pending, verdict: Verdict) -> None:
    if not pending.future.done():
        pending.future.set_result(verdict)


def _same(actual: Any, wanted: Any, tolerance: float = 0.0) -> bool:
    numbers = (int, float)
    if (
        isinstance(actual, numbers)
        and isinstance(wanted, numbers)
        and not isinstance(actual, bool)
        and not isinstance(wanted, bool)
    ):
        return math.isclose(actual, wanted, rel_tol=1e-6, abs_tol=max(tolerance, 1e-9))
    return bool(actual == wanted)
