"""`POST /api/event/<token>`: an event for clients that cannot speak MQTT (an HTTP
entry point). Each registration is a device of the web UI's node with an `event` property,
so the event lands on `roost/webui/<hook>/event` where scripts, the recorder and Home
Assistant see it like any other device's event.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from roost.device import Device
from roost.models import DeviceMeta, PropertySpec
from roost.node import Node
from roost.topics import NAME
from roost_webui.auth import same
from roost_webui.errors import ApiError
from roost_webui.settings import WebhookSection

# Events a webhook takes per second, so a runaway client cannot flood the broker and
# every script behind it.
WEBHOOK_RATE = 20


@dataclass(frozen=True)
class Webhook:
    id: str
    token: str
    events: list[str]
    device: Device
    recent: deque[float] = field(default_factory=deque, compare=False)


def webhook_meta(hook_id: str, spec: WebhookSection) -> DeviceMeta:
    return DeviceMeta(
        name=spec.name or f"Webhook {hook_id}",
        model="webhook",
        manufacturer="roost",
        properties={"received": PropertySpec(kind="event", options=spec.events)},
        events=spec.events,
    )


class Webhooks:
    def __init__(self, node: Node, config: dict[str, WebhookSection]) -> None:
        self.hooks: list[Webhook] = []
        for hook_id, spec in config.items():
            device = node.add_device(hook_id, webhook_meta(hook_id, spec))
            self.hooks.append(
                Webhook(hook_id, spec.token.get_secret_value(), list(spec.events), device)
            )

    def find(self, token: str) -> Webhook | None:
        found = None
        for hook in self.hooks:  # compare with every one, so timing tells nothing
            if same(token, hook.token):
                found = hook
        return found

    def allow(self, hook: Webhook) -> bool:
        now = time.monotonic()
        while hook.recent and hook.recent[0] <= now - 1.0:
            hook.recent.popleft()
        if len(hook.recent) >= WEBHOOK_RATE:
            return False
        hook.recent.append(now)
        return True

    def parse(self, hook: Webhook, body: Any, type_param: str | None) -> tuple[str, dict[str, Any]]:
        """The event type and data of a posted body: `{"event_type": "ring", "data": {...}}`,
        any other JSON object (taken as the data), or nothing at all."""
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise ApiError(400, "invalid_event", "the body must be a JSON object")
        event_type = body.get("event_type", type_param)
        if "data" in body and "event_type" in body:
            data = body["data"]
            if not isinstance(data, dict):
                raise ApiError(400, "invalid_event", "data must be a JSON object")
        else:
            data = {k: v for k, v in body.items() if k != "event_type"}
        if event_type is None:
            event_type = hook.events[0]
        if not isinstance(event_type, str) or not NAME.match(event_type):
            raise ApiError(400, "invalid_event", "event_type must match [a-z][a-z0-9_]*")
        if event_type not in hook.events:
            raise ApiError(
                422,
                "invalid_option",
                f"webhook {hook.id} takes events {', '.join(hook.events)}, got {event_type!r}",
            )
        return event_type, data

    def emit(self, hook: Webhook, event_type: str, data: dict[str, Any]) -> str:
        return hook.device.emit(event_type, data)
