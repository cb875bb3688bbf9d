"""`home.publish(topic, payload, {retain, qos})`: a raw MQTT message, for things outside
roost (a Zigbee2MQTT lamp, a Tasmota plug). Inside roost's prefix only commands and
requests may be sent, never retained: state belongs to its owner."""

from __future__ import annotations

from typing import Any

from roost.bus import encode
from roost.errors import TopicError
from roost.topics import TopicKind
from roost_event_engine.plugins.base import Plugin, PluginError

MAX_TOPIC = 1024


class PublishPlugin(Plugin):
    name = "publish"

    async def call(self, script: str, args: list[Any]) -> None:
        topic = self.arg(args, 0)
        payload = self.arg(args, 1, "")
        options = self.arg(args, 2, {})
        if not isinstance(topic, str) or not topic or len(topic) > MAX_TOPIC:
            raise PluginError("publish(topic, payload): topic must be a non-empty string")
        if any(c in topic for c in "+#\0") or topic.startswith("$"):
            raise PluginError(f"publish: {topic!r} is not a topic one may publish to")
        if not isinstance(options, dict):
            raise PluginError("publish: options must be an object like {retain: true}")
        retain = bool(options.get("retain", False))
        qos = options.get("qos", 1)
        if qos not in (0, 1, 2):
            raise PluginError("publish: qos must be 0, 1 or 2")
        topics = self.host.node.topics
        if topic == topics.prefix or topic.startswith(topics.prefix + "/"):
            try:
                kind = topics.parse(topic).kind
            except TopicError as exc:
                raise PluginError(f"publish: {exc}") from None
            if kind not in (TopicKind.SET, TopicKind.SET_PROP, TopicKind.REQUEST) or retain:
                raise PluginError(
                    f"publish: inside {topics.prefix}/ only commands and requests may be "
                    "sent, not retained (use home.set for devices)"
                )
        data = payload.encode() if isinstance(payload, str) else encode(payload)
        await self.host.node.bus.publish(topic, data, qos=qos, retain=retain, timeout=15)
