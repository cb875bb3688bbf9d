"""Transient payloads: errors, events, requests and responses."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue


class ErrorPayload(BaseModel):
    """Published on a device's `error` topic when a command is rejected."""

    model_config = ConfigDict(extra="ignore")

    code: str
    message: str
    prop: str | None = None
    id: str | int | None = None
    ts: str


class AckPayload(BaseModel):
    """Published on a device's `ack` topic once a command that carried an id is applied,
    after the state that shows it: what the owner applied, which may differ from what was
    asked (a prescaler's nearest frequency, a 12-bit duty)."""

    model_config = ConfigDict(extra="ignore")

    id: str | int
    applied: dict[str, JsonValue] = Field(default_factory=dict)
    ts: str


class EventPhase(StrEnum):
    START = "start"
    UPDATE = "update"
    END = "end"


class EventPayload(BaseModel):
    model_config = ConfigDict(extra="ignore")

    event_type: str
    id: str
    phase: EventPhase | None = None
    ts: str
    data: dict[str, Any] = Field(default_factory=dict)


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str | int | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    reply_to: str | None = None


class ErrorBody(BaseModel):
    code: str
    message: str


class Response(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str | int | None = None
    status: Literal["ok", "error"]
    data: JsonValue = None
    error: ErrorBody | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"
