"""The one answer a command gets, whoever sent it and however it was settled."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, JsonValue

Status = Literal["ok", "rejected", "timeout", "unreachable"]
# What settled it: the owner's ack, a state that shows the change (owners that never ack),
# a button's press event, the owner's error, a local refusal before sending, silence, or a
# broker that would not take the command.
SettledBy = Literal["ack", "state", "press", "error", "local", "silence", "broker"]


class CommandFailure(BaseModel):
    code: str
    message: str
    prop: str | None = None


class Verdict(BaseModel):
    status: Status
    by: SettledBy
    ref: str
    id: str | None = None  # None when nothing was sent
    # What the owner applied (its ack) or its state shows, for the properties commanded.
    applied: dict[str, JsonValue] = {}
    # Those applied values that differ from what was asked (1000 Hz asked, 1017 applied).
    adjusted: dict[str, JsonValue] = {}
    pressed: list[str] = []
    state: dict[str, JsonValue] = {}  # the device's state when the command was settled
    error: CommandFailure | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"
