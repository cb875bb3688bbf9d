"""A received MQTT message, independent of the client library that read it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic_core import from_json


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False
    response_topic: str | None = None
    correlation_data: bytes | None = None
    subscription_ids: tuple[int, ...] = ()
    # For `Bus.ack` on subscriptions made with `manual_ack=True`: the packet id and the
    # connection that delivered it (a packet id means nothing on a later connection).
    mid: int = 0
    connection: int = 0

    def text(self) -> str:
        """The payload as UTF-8; raises UnicodeDecodeError for anything else."""
        return self.payload.decode("utf-8")

    def json(self) -> Any:
        """The payload parsed as JSON (NaN and Infinity refused); raises ValueError."""
        return from_json(self.payload, allow_inf_nan=False)
