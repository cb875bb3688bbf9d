"""Benchmark: the node runtime against bare paho on the same broker in the same run.

- state updates/s from `device.update()` through the node runtime to a subscriber in
  another process, as a ratio to paho publishing the same payloads (QoS 1) to it;
- round trip of a `roost set`-style command → state (p50, p99), beside the broker's own
  echo round trip for one client.

Run: .venv/bin/pytest --perf tests/perf/test_node_throughput.py -s
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import MQTTErrorCode

from roost.bus import Bus
from roost.models import DeviceMeta, PropertySpec
from roost.node import Node
from roost.settings import RoostSettings

N = 20_000
DEVICES = 500
ROUND_TRIPS = 400
META = DeviceMeta(name="Bench", properties={"v": PropertySpec(kind="number", settable=True)})
HERE = Path(__file__).parent


async def start_subscriber(
    settings: RoostSettings, topic_filter: str, done: str
) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(HERE / "subscriber.py"), settings.mqtt.host, str(settings.mqtt.port),
        topic_filter, done, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None
    assert (await process.stdout.readline()).strip() == b"ready"
    return process


async def finish(process: asyncio.subprocess.Process) -> dict[str, float]:
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), 120)
    await process.wait()
    result: dict[str, float] = json.loads(line)
    return result


def paho_publish(
    settings: RoostSettings, topics: list[str], payloads: list[bytes], done: str
) -> float:
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    client.max_inflight_messages_set(settings.mqtt.max_inflight)
    client.connect(settings.mqtt.host, settings.mqtt.port)
    client.loop_start()
    started = time.perf_counter()
    info = None
    for topic, payload in zip(topics, payloads, strict=True):
        info = client.publish(topic, payload, qos=1, retain=True)
        assert info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS
    assert info is not None
    info.wait_for_publish(120)
    elapsed = time.perf_counter() - started
    client.publish(done, b"1", qos=1).wait_for_publish(10)
    client.loop_stop()
    client.disconnect()
    return elapsed


async def test_state_updates_through_the_node_vs_paho(roost_settings: RoostSettings) -> None:
    t = roost_settings.mqtt.topics()
    done = f"{t.prefix}/bench-done"
    # The node's own payloads, so both sides send the same bytes.
    node = Node(roost_settings, service="bench", node_id="bench")
    devices = [node.add_device(f"d{i}", META) for i in range(DEVICES)]
    topics = [t.state("bench", f"d{i % DEVICES}") for i in range(N)]
    payloads = [json.dumps({"v": i, "ts": "2026-11-23T00:00:00.000Z"}).encode() for i in range(N)]

    sub = await start_subscriber(roost_settings, f"{t.prefix}/bench/+/state", done)
    paho_seconds = await asyncio.to_thread(paho_publish, roost_settings, topics, payloads, done)
    paho_result = await finish(sub)

    async with node:
        await node.wait_online(10)
        await node.bus.flush(30)
        sub = await start_subscriber(roost_settings, f"{t.prefix}/bench/+/state", done)
        # Sustained: each round updates every device once and waits for the outbox to
        # drain, so no update is coalesced away and every one reaches the subscriber.
        started = time.perf_counter()
        for i in range(N):
            devices[i % DEVICES].update(v=i)
            if i % DEVICES == DEVICES - 1:
                await node.bus.flush(120)
        node_seconds = time.perf_counter() - started
        # Overload: 10 updates per device at once; the outbox keeps only the newest.
        burst_started = time.perf_counter()
        for i in range(N // 2):
            devices[i % DEVICES].update(v=N + i)
        await node.bus.flush(120)
        burst_seconds = time.perf_counter() - burst_started
        async with Bus(roost_settings.mqtt, reconnect=False) as closer:
            await closer.publish(done, b"1")
        node_result = await finish(sub)

    paho_rate = N / paho_seconds
    node_rate = N / node_seconds
    delivered_in_burst = node_result["count"] - N
    figures = {
        "benchmark": "state updates through the node runtime",
        "updates": N,
        "devices": DEVICES,
        "paho_qos1_publish_per_s": round(paho_rate),
        "paho_received": paho_result["count"],
        "node_sustained_per_s": round(node_rate),
        "node_received": N if node_result["count"] >= N else node_result["count"],
        "ratio_node_to_paho": round(node_rate / paho_rate, 3),
        "overload_updates": N // 2,
        "overload_updates_per_s": round((N // 2) / burst_seconds),
        "overload_published": delivered_in_burst,
    }
    print(json.dumps(figures))


async def test_command_to_state_round_trip(roost_settings: RoostSettings) -> None:
    t = roost_settings.mqtt.topics()
    node = Node(roost_settings, service="bench", node_id="bench")
    node.add_device("dial", META)
    loop = asyncio.get_running_loop()
    async with node, Bus(roost_settings.mqtt, reconnect=False) as client:
        await node.wait_online(10)
        waiting: dict[int, asyncio.Future[None]] = {}

        def on_state(message: object) -> None:
            value = message.json().get("v")  # type: ignore[attr-defined]
            future = waiting.pop(value, None)
            if future is not None and not future.done():
                future.set_result(None)

        await client.subscribe(t.state("bench", "dial"), on_state)
        echo_topic = t.reply(client.reply_user, "echo")
        echo_waiting: list[asyncio.Future[None]] = []
        await client.subscribe(
            echo_topic, lambda _m: echo_waiting.pop().set_result(None) if echo_waiting else None
        )
        await client.sync()

        echo: list[float] = []
        for _ in range(ROUND_TRIPS):
            future: asyncio.Future[None] = loop.create_future()
            echo_waiting.append(future)
            started = time.perf_counter()
            client.publish_nowait(echo_topic, b"x")
            await asyncio.wait_for(future, 5)
            echo.append(time.perf_counter() - started)

        command: list[float] = []
        for i in range(ROUND_TRIPS):
            future = loop.create_future()
            waiting[i] = future
            started = time.perf_counter()
            client.publish_nowait(t.set("bench", "dial"), {"v": i})
            await asyncio.wait_for(future, 5)
            command.append(time.perf_counter() - started)

    def pct(values: list[float], q: float) -> float:
        ordered = sorted(values)
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 3)

    print(
        json.dumps(
            {
                "benchmark": "command → state round trip",
                "round_trips": ROUND_TRIPS,
                "broker_echo_ms": {"p50": pct(echo, 0.5), "p99": pct(echo, 0.99)},
                "set_to_state_ms": {"p50": pct(command, 0.5), "p99": pct(command, 0.99)},
                "ratio_p50": round(statistics.median(command) / statistics.median(echo), 2),
            }
        )
    )
