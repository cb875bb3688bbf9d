"""Event engine benchmark: from a state change on the broker to the script's command
arriving at a subscriber.

    .venv/bin/pytest --perf tests/perf/test_event_engine.py -s

The engine runs as its own process (`roost-event-engine`), as deployed, on a broker of
this test's own. A trivial script answers every change of 32 sensors with a command.
Measured, in one run:
- throughput (events/s) for 1, 2 and 4 workers: a burst of changes, first publish to last
  command received;
- latency p50/p99 at a steady 200 events/s, for the same worker counts (ratios: 2);
- the baseline: the broker's own round trip (publish → subscriber, same clients, same
  rate) and its burst throughput, so the engine's figures read as ratios.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import psutil
import pytest

from roost.bus import Bus
from roost.message import Message
from roost.settings import MqttSettings
from roost.testing.broker import MosquittoBroker

pytestmark = [pytest.mark.perf, pytest.mark.timeout(900)]

SENSORS = 32
BURST = int(os.environ.get("ROOST_BENCH_BURST", "3000"))
RATE = 200.0
STEADY_SECONDS = float(os.environ.get("ROOST_BENCH_SECONDS", "5"))
ENGINE = str(Path(sys.executable).parent / "roost-event-engine")
SCRIPT = "function value_onchange(ev) { home.set('bench/sink', {value: ev.value}); }\n"
SENSOR_META = {"name": "Bench sensor", "properties": {"value": {"kind": "number"}}}
SINK_META = {"name": "Bench sink", "properties": {"value": {"kind": "number", "settable": True}}}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Arrivals:
    """Arrival times of messages whose JSON `value` is a sequence number."""

    def __init__(self) -> None:
        self.times: dict[int, float] = {}
        self.changed = asyncio.Event()

    def __call__(self, message: Message) -> None:
        try:
            value = json.loads(message.payload)["value"]
        except (ValueError, KeyError, TypeError):
            return
        self.times.setdefault(int(value), time.perf_counter())
        self.changed.set()

    def count(self, start: int, n: int) -> int:
        return sum(1 for k in self.times if start <= k < start + n)

    async def wait_range(self, start: int, n: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.count(start, n) < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), remaining)
            except TimeoutError:
                return


async def burst(bus: Bus, topic_of: Any, arrivals: Arrivals, start: int, n: int) -> float:
    """Publish n changes as fast as the client pipelines them; events/s until all arrived."""
    began = time.perf_counter()
    for i in range(start, start + n):
        bus.publish_nowait(topic_of(i), {"value": i})
    await arrivals.wait_range(start, n, timeout=120)
    got = sum(1 for k in arrivals.times if start <= k < start + n)
    last = max(arrivals.times[k] for k in arrivals.times if start <= k < start + n)
    assert got == n, f"only {got} of {n} arrived"
    return n / (last - began)


async def steady(
    bus: Bus, topic_of: Any, arrivals: Arrivals, start: int, rate: float, seconds: float
) -> dict[str, float]:
    """Publish at a fixed rate; latency of each from its publish to its arrival."""
    n = int(rate * seconds)
    sent: dict[int, float] = {}
    began = time.perf_counter()
    for k, i in enumerate(range(start, start + n)):
        due = began + k / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        sent[i] = time.perf_counter()
        bus.publish_nowait(topic_of(i), {"value": i})
    await arrivals.wait_range(start, n, timeout=60)
    latencies = [(arrivals.times[i] - sent[i]) * 1000 for i in sent if i in arrivals.times]
    assert len(latencies) == n, f"only {len(latencies)} of {n} arrived"
    return {
        "p50_ms": round(percentile(latencies, 0.50), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
        "mean_ms": round(statistics.fmean(latencies), 2),
        "events": n,
    }


def cpu_seconds(pid: int) -> float:
    """CPU time of a process and its children (the engine and its workers)."""
    engine, workers = cpu_split(pid)
    return engine + workers


def cpu_split(pid: int) -> tuple[float, float]:
    """CPU time of the engine process, and of its worker processes together."""
    process = psutil.Process(pid)
    workers = 0.0
    for child in process.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            workers += sum(child.cpu_times()[:2])
    return sum(process.cpu_times()[:2]), workers


@asynccontextmanager
async def engine_process(
    broker: MosquittoBroker, tmp: Path, workers: int, mqtt: MqttSettings
) -> AsyncIterator[int]:
    scripts = tmp / f"scripts-{workers}"
    (scripts / "devices").mkdir(parents=True, exist_ok=True)
    for n in range(SENSORS):
        (scripts / "devices" / f"s{n}.js").write_text(SCRIPT)
    env = {
        **os.environ,
        "ROOST_CONFIG": "",
        "ROOST_MQTT__HOST": broker.host,
        "ROOST_MQTT__PORT": str(broker.port),
        "ROOST_MQTT__PREFIX": mqtt.prefix,
        "ROOST_MQTT__DISCOVERY": "false",
        "ROOST_NODE__ID": f"engine-{workers}",
        "ROOST_NODE__DATA_DIR": str(tmp / f"data-{workers}"),
        "ROOST_EVENT_ENGINE__WORKERS": str(workers),
        "ROOST_EVENT_ENGINE__SCRIPTS_DIR": str(scripts),
        "ROOST_EVENT_ENGINE__QUEUE_SIZE": "100000",
        "ROOST_EVENT_ENGINE__DEVICES": "{}",
        "ROOST_LOG__LEVEL": "WARNING",
    }
    command = [ENGINE]
    profile = os.environ.get("ROOST_BENCH_PROFILE")  # a file: profile the engine into it
    if profile:
        command = [sys.executable, "-m", "cProfile", "-o", f"{profile}.{workers}", ENGINE]
    process = await asyncio.create_subprocess_exec(*command, env=env)
    try:
        async with Bus(mqtt, reconnect=False) as bus:
            ready = asyncio.get_running_loop().create_future()

            def on_state(message: Message) -> None:
                state = json.loads(message.payload or b"{}")
                if (
                    state.get("scripts") == SENSORS
                    and state.get("workers") == workers
                    and not ready.done()
                ):
                    ready.set_result(None)

            topic = mqtt.topics().state(f"engine-{workers}", "engine")
            await bus.subscribe(topic, on_state)
            await asyncio.wait_for(ready, 60)
        yield process.pid
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 10)


async def test_event_engine_throughput_and_latency(tmp_path: Path) -> None:
    broker = MosquittoBroker(tmp_path / "broker")
    broker.start()
    try:
        await _measure(broker, tmp_path)
    finally:
        broker.stop()


async def _measure(broker: MosquittoBroker, tmp: Path) -> None:
    mqtt = MqttSettings(host=broker.host, port=broker.port, prefix="bench", discovery=False)
    topics = mqtt.topics()
    results: dict[str, Any] = {"sensors": SENSORS, "burst": BURST, "rate": RATE}
    async with Bus(mqtt, reconnect=False) as source, Bus(mqtt, reconnect=False) as sink:
        # Baseline: the same two clients, straight through the broker.
        echo = Arrivals()
        await sink.subscribe("bench/echo/+", echo)
        await sink.sync()
        await source.sync()
        echo_topic = lambda i: f"bench/echo/{i % SENSORS}"  # noqa: E731
        await burst(source, echo_topic, echo, 0, 200)  # warm-up
        print("broker baseline…", file=sys.stderr)
        results["broker_events_per_s"] = round(await burst(source, echo_topic, echo, 1000, BURST))
        results["broker_round_trip"] = await steady(
            source, echo_topic, echo, 10_000, RATE, STEADY_SECONDS
        )

        # The devices the engine sees: retained meta and state, no live owner.
        for n in range(SENSORS):
            source.publish_nowait(topics.meta("bench", f"s{n}"), SENSOR_META, retain=True)
            source.publish_nowait(topics.state("bench", f"s{n}"), {"value": -1}, retain=True)
        source.publish_nowait(topics.meta("bench", "sink"), SINK_META, retain=True)
        source.publish_nowait(topics.state("bench", "sink"), {"value": None}, retain=True)
        source.publish_nowait(topics.node_availability("bench"), "online", retain=True)
        await source.flush(10)
        commands = Arrivals()
        await sink.subscribe(topics.set("bench", "sink"), commands)
        await sink.sync()

        def state_topic(i: int) -> str:
            return topics.state("bench", f"s{i % SENSORS}")

        start = 100_000
        throughput: dict[str, float] = {}
        cpu_ms: dict[str, float] = {}
        latency: dict[str, dict[str, float]] = {}
        for workers in (1, 2, 4):
            print(f"engine with {workers} workers…", file=sys.stderr)
            async with engine_process(broker, tmp, workers, mqtt) as pid:
                print("  ready", file=sys.stderr)
                await burst(source, state_topic, commands, start, 200)  # warm-up
                start += 1000
                cpu = cpu_seconds(pid)
                throughput[str(workers)] = round(
                    await burst(source, state_topic, commands, start, BURST)
                )
                cpu_ms[str(workers)] = round((cpu_seconds(pid) - cpu) * 1000 / BURST, 3)
                start += 10_000
                engine_cpu, workers_cpu = cpu_split(pid)
                latency[str(workers)] = await steady(
                    source, state_topic, commands, start, RATE, STEADY_SECONDS
                )
                engine_after, workers_after = cpu_split(pid)
                per_event = 1000 / (RATE * STEADY_SECONDS)
                latency[str(workers)]["engine_cpu_ms_per_event"] = round(
                    (engine_after - engine_cpu) * per_event, 3
                )
                latency[str(workers)]["workers_cpu_ms_per_event"] = round(
                    (workers_after - workers_cpu) * per_event, 3
                )
                start += 10_000
        results["engine_events_per_s"] = throughput
        results["engine_latency"] = latency
        results["engine_cpu_ms_per_event_in_burst"] = cpu_ms
        results["load_average"] = os.getloadavg()[0]

    base = results["broker_round_trip"]
    engine = results["engine_latency"]["2"]
    results["ratios"] = {
        "throughput_vs_broker": {
            w: round(v / results["broker_events_per_s"], 3) for w, v in throughput.items()
        },
        "p50_vs_broker": round(engine["p50_ms"] / base["p50_ms"], 1),
        "p99_vs_broker": round(engine["p99_ms"] / base["p99_ms"], 1),
        "throughput_4_vs_1_workers": round(throughput["4"] / throughput["1"], 2),
    }
    print(json.dumps({"event_engine": results}, indent=2))
