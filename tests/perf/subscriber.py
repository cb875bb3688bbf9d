"""A bare paho subscriber in its own process, for benchmarks: counts messages on a filter
until `<filter root>/done` arrives, then prints one JSON line with count and seconds."""

from __future__ import annotations

import json
import sys
import time

import paho.mqtt.client as paho


def main(host: str, port: int, topic_filter: str, done_topic: str) -> None:
    seen = {"count": 0, "first": 0.0, "last": 0.0}

    def on_connect(client: paho.Client, *_: object) -> None:
        client.subscribe([(topic_filter, 1), (done_topic, 1)])

    def on_subscribe(*_: object) -> None:
        print("ready", flush=True)

    def on_message(client: paho.Client, _u: object, message: paho.MQTTMessage) -> None:
        now = time.perf_counter()
        if message.topic == done_topic:
            elapsed = seen["last"] - seen["first"]
            print(json.dumps({"count": seen["count"], "seconds": elapsed}), flush=True)
            client.disconnect()
            return
        if not seen["count"]:
            seen["first"] = now
        seen["count"] += 1
        seen["last"] = now

    client = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    client.connect(host, port)
    client.loop_forever()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4])
