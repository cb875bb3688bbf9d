"""The size of an MQTT 5 PUBLISH on the wire and the topics MQTT forbids, checked before
a message is queued or sent.

A broker closes the connection of a client that sends a packet above its maximum packet
size (Mosquitto's `max_packet_size`, announced in the CONNACK). A client that queued such
a message would send it again after every reconnect and never get past it, so the bus
measures each message before it queues or sends it.
"""

from __future__ import annotations

from paho.mqtt.properties import Properties

MQTT_MAX_PACKET = 268_435_455 + 5  # the largest remaining length plus its header


def _varint_size(value: int) -> int:
    size = 1
    while value >= 128:
        value //= 128
        size += 1
    return size


def publish_size(
    topic: str, payload_size: int, qos: int, properties: Properties | None = None
) -> int:
    """Bytes of the whole PUBLISH packet: fixed header, topic, packet id, properties, payload."""
    props = properties.pack() if properties is not None else b"\x00"  # type: ignore[no-untyped-call]
    remaining = 2 + len(topic.encode()) + (2 if qos else 0) + len(props) + payload_size
    return 1 + _varint_size(remaining) + remaining


def topic_problem(topic: str) -> str | None:
    """Why MQTT forbids publishing to `topic` (the broker closes the connection), or None."""
    if not topic:
        return "an empty topic"
    if "\x00" in topic:
        return "U+0000 in the topic"
    if "+" in topic or "#" in topic:
        return "a wildcard in a topic to publish to"
    try:
        size = len(topic.encode())
    except UnicodeEncodeError:
        return "a topic that is not UTF-8"
    if size > 65535:
        return f"a topic of {size} bytes (at most 65535)"
    return None
