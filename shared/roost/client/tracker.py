"""Sending commands and matching the owner's answers to them.

A command goes out with an id; the first of these settles it:
- the owner's ack with that id: applied, with the values the device holds now;
- the owner's error with that id: rejected;
- a live state that shows every expected value (within half a step): applied — the only
  answer an owner that never acks gives (a Node-RED flow, an ESP32);
- the press event of the button it pressed;
- nothing within the timeout.

The tracker reads the mirror's changes (`on_change`), so a client that already follows
the broker with a `StateView` needs no subscription per command.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from roost.bus import Bus
from roost.client.prepare import PreparedCommand, prepare_command
from roost.client.verdict import CommandFailure, SettledBy, Status, Verdict
from roost.errors import BusError, CommandError
from roost.mirror import Change, ChangeKind, DeviceView, StateView

# Judges a live state after the owner took the command (its ack or press): ok or rejected
# settles it, None waits on — for commands whose effect takes time (starting an app).
Settle = Callable[[Mapping[str, Any]], Literal["ok", "rejected"] | None]


@dataclass(eq=False)
class _Pending:
    id: str
    ref: str
    prepared: PreparedCommand
    future: asyncio.Future[Verdict]
    settle: Settle | None
    accepted: bool = False
    live_state: bool = False


class CommandTracker:
    def __init__(self, bus: Bus, view: Callable[[], StateView], timeout: float) -> None:
        self.bus = bus
        self._view = view
        self.timeout = timeout
        self._pending: dict[str, _Pending] = {}

    async def send(
        self,
        device: DeviceView,
        values: Mapping[str, Any],
        *,
        timeout: float | None = None,
        settle: Settle | None = None,
    ) -> Verdict:
        """Prepare, send and wait for the verdict of one command to `device`."""
        wait = self.timeout if timeout is None else timeout
        try:
            prepared = prepare_command(device, values)
        except CommandError as exc:
            failure = CommandFailure(code=str(exc.code), message=exc.message, prop=exc.prop)
            return Verdict(status="rejected", by="local", ref=device.ref, error=failure)
        request_id = uuid.uuid4().hex[:16]
        future: asyncio.Future[Verdict] = asyncio.get_running_loop().create_future()
        pending = _Pending(request_id, device.ref, prepared, future, settle)
        self._pending[request_id] = pending
        try:
            topic = self.bus.topics.set(device.node, device.id)
            try:
                await self.bus.publish(topic, {**prepared.values, "id": request_id}, timeout=wait)
            except BusError as exc:
                return self._failed(pending, "unreachable", "broker", "unreachable", str(exc))
            try:
                async with asyncio.timeout(wait):
                    return await future
            except TimeoutError:
                message = self._silence(pending, device, wait)
                return self._failed(pending, "timeout", "silence", "timeout", message)
        finally:
            self._pending.pop(request_id, None)

    # the owner's answers -------------------------------------------------------------------
    def on_change(self, change: Change) -> None:
        """Feed every change of the mirror here."""
        if not self._pending or change.device is None:
            return
        if change.kind is ChangeKind.ACK and change.ack is not None:
            pending = self._pending.get(str(change.ack.id))
            if pending is not None and pending.ref == change.ref:
                self._on_ack(pending, change.ack.applied)
        elif change.kind is ChangeKind.ERROR and change.error is not None:
            pending = self._pending.get(str(change.error.id))
            if pending is not None and pending.ref == change.ref:
                error = change.error
                failure = CommandFailure(code=error.code, message=error.message, prop=error.prop)
                self._settle(pending, "rejected", "error", error=failure)
        elif change.kind is ChangeKind.STATE and not change.retained:
            for pending in self._matching(change.ref):
                self._on_state(pending)
        elif change.kind is ChangeKind.EVENT and change.event is not None:
            event = change.event
            pressed = event.data.get("prop") if event.event_type == "press" else None
            for pending in self._matching(change.ref):
                if pressed in pending.prepared.buttons:
                    self._on_press(pending)

    def _matching(self, ref: str) -> list[_Pending]:
        return [p for p in self._pending.values() if p.ref == ref]

    def _on_ack(self, pending: _Pending, applied: Mapping[str, Any]) -> None:
        if pending.settle is not None:
            pending.accepted = True
            return
        self._settle(pending, "ok", "ack", applied=applied)

    def _on_press(self, pending: _Pending) -> None:
        if pending.settle is not None:
            pending.accepted = True
        elif not pending.prepared.expected:
            self._settle(pending, "ok", "press")

    def _on_state(self, pending: _Pending) -> None:
        pending.live_state = True
        state = self._state_of(pending.ref)
        if pending.settle is not None:
            outcome = pending.settle(state) if pending.accepted else None
            if outcome is not None:
                self._settle(pending, outcome, "state")
        elif pending.prepared.shows(state):
            shown = {prop: state.get(prop) for prop in pending.prepared.expected}
            self._settle(pending, "ok", "state", applied=shown)

    # verdicts --------------------------------------------------------------------------
    def _settle(
        self,
        pending: _Pending,
        status: Status,
        by: SettledBy,
        *,
        applied: Mapping[str, Any] | None = None,
        error: CommandFailure | None = None,
    ) -> None:
        if pending.future.done():
            return
        applied = dict(applied or {})
        verdict = Verdict(
            status=status,
            by=by,
            ref=pending.ref,
            id=pending.id,
            applied=applied,
            adjusted=pending.prepared.adjusted(applied),
            pressed=list(pending.prepared.buttons) if status == "ok" else [],
            state=self._state_of(pending.ref),
            error=error,
        )
        pending.future.set_result(verdict)

    def _failed(
        self, pending: _Pending, status: Status, by: SettledBy, code: str, message: str
    ) -> Verdict:
        return Verdict(
            status=status,
            by=by,
            ref=pending.ref,
            id=pending.id,
            state=self._state_of(pending.ref),
            error=CommandFailure(code=code, message=message),
        )

    def _state_of(self, ref: str) -> dict[str, Any]:
        try:
            return dict(self._view().device(ref).state)
        except KeyError:
            return {}

    def _silence(self, pending: _Pending, device: DeviceView, wait: float) -> str:
        view = self._view()
        waited = f"within {wait:g} s"
        if not view.online(device):
            return f"no answer from {device.ref} {waited} (it is offline)"
        state = self._state_of(device.ref)
        asked = [*pending.prepared.values]
        if pending.live_state or any(state.get(p) is not None for p in asked):
            shown = ", ".join(f"{p}={state.get(p)!r}" for p in asked if p in state)
            if shown:
                return f"{device.ref} did not take the change {waited}: it reports {shown}"
        return f"no answer from {device.ref} {waited}"
