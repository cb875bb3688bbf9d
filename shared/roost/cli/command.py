"""Sending a command and waiting for its owner's verdict — what every CLI command that
changes a device does (`roost set`, `roost start|stop|restart`)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any, Literal

from roost.bus import Bus
from roost.cli.context import Exit
from roost.message import Message
from roost.mirror import DeviceView

Verdict = tuple[Exit, str]
# Looks at a live state or event of the device and settles the command, or returns None.
Judge = Callable[[Literal["state", "event"], dict[str, Any]], Verdict | None]


async def send_command(
    bus: Bus, device: DeviceView, values: dict[str, Any], judge: Judge, *, timeout: float
) -> Verdict | None:
    """Publish `values` with a request id to the device's `/set`, then wait until the owner
    refuses it (its error with that id: REJECTED) or `judge` settles it on a live state or
    event. None when nothing settled it within `timeout`."""
    topics = bus.topics
    kinds: dict[str, Literal["state", "event", "error"]] = {
        topics.state(device.node, device.id): "state",
        topics.event(device.node, device.id): "event",
        topics.error(device.node, device.id): "error",
    }
    request_id = uuid.uuid4().hex[:12]
    answer: asyncio.Future[Verdict] = asyncio.get_running_loop().create_future()

    def on_message(message: Message) -> None:
        try:
            body = message.json()
        except ValueError:
            return
        if not isinstance(body, dict) or message.retain or answer.done():
            return
        kind = kinds[message.topic]
        if kind == "error":
            if body.get("id") == request_id:
                reason = f"{device.ref}: {body.get('code')}: {body.get('message')}"
                answer.set_result((Exit.REJECTED, reason))
            return
        verdict = judge(kind, body)
        if verdict is not None:
            answer.set_result(verdict)

    subs = [await bus.subscribe(topic, on_message) for topic in kinds]
    try:
        await bus.publish(topics.set(device.node, device.id), {**values, "id": request_id})
        async with asyncio.timeout(timeout):
            return await answer
    except TimeoutError:
        return None
    finally:
        for sub in subs:
            await sub.remove()
