"""The size of an MQTT 5 PUBLISH on the wire, to check it against the broker's limit.

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
