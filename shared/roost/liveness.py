"""Is a node with this id already live on the broker? Asked before a node connects as
itself, so that a second process with the same id refuses to start instead of fighting
the first over its retained topics (and, with a persistent session, over its session).

The question is asked over a connection of its own that cannot collide with the live
node: a fresh random client id, a clean session, no will. It reads the node's retained
availability and info, and only when that says `online` does it ping the node (a request
to its `ping` method; any answer, even "no such method", proves a process serves that
id): a retained `online` can be stale, e.g. after a broker restart with persistence, or
while the broker has not yet noticed a dead connection and sent its will. Nothing the
live node owns is written: the probe publishes only its request and its own reply-inbox
marker.
"""

from __future__ import annotations

import logging
import uuid

from pydantic import ValidationError

from roost.bus import Bus
from roost.errors import ConfigError, RequestTimeout
from roost.message import Message
from roost.models.node import NodeInfo
from roost.settings import MqttSettings

log = logging.getLogger("roost.liveness")

PING_METHOD = "ping"
PING_TIMEOUT = 3.0


class DuplicateNode(ConfigError):
    """A live node already serves this id on the broker; the message says which."""


async def live_node(
    settings: MqttSettings, node_id: str, *, timeout: float = PING_TIMEOUT
) -> NodeInfo | None:
    """The retained info of a node with this id that answers now; None when there is no
    such node, or its `online` is stale (it does not answer within `timeout`). Raises
    BusError when the broker cannot be reached."""
    topics = settings.topics()
    availability, info_topic = topics.node_availability(node_id), topics.node_info(node_id)
    retained: dict[str, bytes] = {}

    def keep(message: Message) -> None:
        if message.retain:
            retained[message.topic] = message.payload

    # `<node>-probe-<random>`: never the client id of the live node's (persistent) session.
    client_id = f"{node_id}-probe-{uuid.uuid4().hex}"
    async with Bus(settings, client_id=client_id, reconnect=False, connect_timeout=timeout) as bus:
        await bus.subscribe(availability, keep)
        await bus.subscribe(info_topic, keep)
        await bus.sync(timeout)
        if retained.get(availability, b"").strip() != b"online":
            return None
        try:
            await bus.request(node_id, PING_METHOD, timeout=timeout)
        except RequestTimeout:
            log.info("%s: a retained `online` but no answer in %g s: stale", node_id, timeout)
            return None
    try:
        return NodeInfo.model_validate_json(retained.get(info_topic, b""))
    except ValidationError:
        return NodeInfo(service="?", version="?", host="?", pid=0, started="?", state="running")


def duplicate_message(node_id: str, info: NodeInfo, settings: MqttSettings) -> str:
    where = f"{settings.host}:{settings.port}"
    who = f"host {info.host}, pid {info.pid}" if info.pid else "host and pid unknown"
    return (
        f"node id {node_id!r} is already live on the broker at {where} ({who}, service "
        f"{info.service}, started {info.started}): refusing to start a second node with "
        f"that id. Stop that one, or give this one another id with ROOST_NODE__ID=<id> "
        f'or `[node] id = "<id>"` in its config'
    )
