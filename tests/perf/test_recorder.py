"""Recorder ingest, measured against a bare subscriber on the same broker in the same run.

    .venv/bin/pytest --perf tests/perf/test_recorder.py -s

Prints JSON: sustained state updates per second from publish to committed in SQLite
(`roost-recorder` as its own process) and a bare aiomqtt QoS 1 subscriber's receive rate
for the same burst, their ratio (target ≥ 0.9, no loss; also against a bare subscriber
with the recorder's garbage-collector settings), publish-to-commit latency at a
steady rate, and database bytes per sample.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from roost.bus import Bus
from roost.clock import iso, parse_iso
from roost.session import session_client_id
from roost.settings import MqttSettings
from roost.testing.broker import MosquittoBroker
from roost.testing.plugin import settings_for

pytestmark = [pytest.mark.perf, pytest.mark.timeout(900)]

MESSAGES = 30_000
DEVICES = 10
ROUNDS = 5
LATENCY_MESSAGES = 1500
LATENCY_RATE = 300.0  # messages per second, well below saturation

BARE = """
import asyncio, gc, json, sys, time
import aiomqtt

async def main(port, topic, n):
    if sys.argv[4] == "tuned":  # the recorder's own garbage-collector settings
        gc.freeze()
        gc.set_threshold(100_000, 50, 1000)
    async with aiomqtt.Client("127.0.0.1", port, protocol=aiomqtt.ProtocolVersion.V5) as c:
        await c.subscribe(topic, qos=1)
        print("ready", flush=True)
        count, first = 0, None
        async for message in c.messages:
            if first is None:
                first = time.time()
            count += 1
            if count >= n:
                break
        print(json.dumps({"first": first, "last": time.time(), "count": count}), flush=True)

asyncio.run(main(int(sys.argv[1]), sys.argv[2], int(sys.argv[3])))
"""


def _lines(device: int, count: int, base: float) -> bytes:
    out = []
    for i in range(count):
        ts = iso(datetime.fromtimestamp(base + i / 1000, UTC))
        t, h, p = 20 + (i % 500) / 100, 40 + (i % 300) / 10, 1000 + (i % 200) / 10
        out.append(json.dumps({"temperature": t, "humidity": h, "pressure": p, "ts": ts}).encode())
    return b"\n".join(out) + b"\n"


async def _publish_burst(broker: MosquittoBroker, prefix: str, base: float) -> float:
    """Every device's states through mosquitto_pub -l (C, QoS 1): far faster than any
    Python subscriber, so the subscriber's pace is what is measured. Returns start."""
    per = MESSAGES // DEVICES
    started = time.time()
    procs = []
    for d in range(DEVICES):
        proc = await asyncio.create_subprocess_exec(
            "mosquitto_pub", "-h", broker.host, "-p", str(broker.port), "-q", "1", "-l",
            "-t", f"{prefix}/bench/probe-{d}/state",
            stdin=asyncio.subprocess.PIPE,
        )  # fmt: skip
        procs.append((proc, _lines(d, per, base)))
    await asyncio.gather(*(proc.communicate(data) for proc, data in procs))
    return started


async def _bare_round(
    broker: MosquittoBroker, prefix: str, base: float, gc_mode: str = "default"
) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", BARE, str(broker.port), f"{prefix}/+/+/state", str(MESSAGES),
        gc_mode, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    assert (await proc.stdout.readline()).strip() == b"ready"
    started = await _publish_burst(broker, prefix, base)
    result = json.loads(await asyncio.wait_for(proc.stdout.readline(), 120))
    await proc.wait()
    return {"rate": MESSAGES / (result["last"] - started), "received": result["count"]}


def _last_ones_stored(db: Path, base: float) -> bool:
    """Whether each device's last state is committed: an index lookup per device, cheap
    enough to ask often (a count over the table would slow the recorder down). A device's
    states arrive in order and commit in order, so its last one means all of them."""
    last = MESSAGES // DEVICES - 1
    ts = round(parse_iso(iso(datetime.fromtimestamp(base + last / 1000, UTC))).timestamp() * 1000)
    try:
        with sqlite3.connect(db) as conn:
            for d in range(DEVICES):
                row = conn.execute(
                    "SELECT 1 FROM samples AS s JOIN series AS r ON r.id = s.series_id "
                    "JOIN devices AS d ON d.id = r.device_id WHERE d.node = 'bench' "
                    "AND d.device = ? AND r.prop = 'temperature' AND s.ts = ?",
                    (f"probe-{d}", ts),
                ).fetchone()
                if row is None:
                    return False
    except sqlite3.OperationalError:
        return False
    return True


def _stored(db: Path) -> int:
    try:
        with sqlite3.connect(db) as conn:
            row = conn.execute(
                "SELECT count(*) FROM samples AS s JOIN series AS r ON r.id = s.series_id "
                "JOIN devices AS d ON d.id = r.device_id "
                "WHERE d.node = 'bench' AND r.prop = 'temperature'"
            ).fetchone()
    except sqlite3.OperationalError:
        return 0
    return int(row[0])


class RecorderProcess:
    def __init__(self, broker: MosquittoBroker, prefix: str, data: Path, node: str) -> None:
        # A node id per round: the session of an earlier round would otherwise still be
        # queueing the bare subscriber's burst for it.
        self.node = node
        self.data = data
        self.env = {
            "ROOST_NODE__ID": node,
            **os.environ,
            "ROOST_MQTT__PORT": str(broker.port),
            "ROOST_MQTT__PREFIX": prefix,
            "ROOST_NODE__DATA_DIR": str(data),
            "ROOST_RECORDER__STATUS_INTERVAL": "0.05",
            "ROOST_RECORDER__EXCLUDE": f'["{node}/*"]',
            "ROOST_LOG__LEVEL": "WARNING",
        }
        self.db = data / "recorder" / "history.db"
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self, bus: Bus) -> None:
        state = bus.topics.state(self.node, "database")
        seen: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        sub = await bus.subscribe(state, lambda m: seen.put_nowait(m.json()) if m.payload else None)
        started = iso()
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "roost_recorder", env=self.env,
        )  # fmt: skip
        while True:
            status = await asyncio.wait_for(seen.get(), 30)
            if status.get("recording") and status["ts"] > started:
                break
        await sub.remove()

    async def until_stored(self, bus: Bus, base: float) -> float:
        """The time at which the burst was committed (checked on every state the recorder
        publishes, every 50 ms while it works)."""
        arrived = asyncio.Event()
        sub = await bus.subscribe(bus.topics.state(self.node, "database"), lambda _: arrived.set())
        try:
            while not _last_ones_stored(self.db, base):
                arrived.clear()
                await asyncio.wait_for(arrived.wait(), 60)
            return time.time()
        finally:
            await sub.remove()

    async def stop(self, settings: MqttSettings) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            await self.proc.wait()
        # End its persistent session, or the broker keeps queueing later bursts for it.
        client_id = session_client_id(self.data, self.node)
        async with Bus(settings, client_id=client_id, reconnect=False):
            pass


async def _latency(bus: Bus, db: Path) -> dict[str, float]:
    """Publish at a steady rate with ts = now; a reader watches the database every 5 ms
    and notes when each row became visible."""
    topic = bus.topics.state("bench", "latency")
    seen: dict[float, tuple[int, float]] = {}  # value → (ts, when it was visible)
    done = asyncio.Event()

    async def watch() -> None:
        conn = sqlite3.connect(db)
        last = 0
        try:
            while not done.is_set() or len(seen) < LATENCY_MESSAGES:
                rows = conn.execute(
                    "SELECT s.ts, s.value FROM samples AS s JOIN series AS r "
                    "ON r.id = s.series_id JOIN devices AS d ON d.id = r.device_id "
                    "WHERE d.device = 'latency' AND s.ts >= ?",
                    (last,),
                ).fetchall()
                now = time.time()
                for ts, value in rows:
                    seen.setdefault(value, (ts, now))
                    last = max(last, ts)
                await asyncio.sleep(0.005)
        finally:
            conn.close()

    watcher = asyncio.create_task(watch())
    interval = 1 / LATENCY_RATE
    start = time.perf_counter()
    for n in range(LATENCY_MESSAGES):
        await asyncio.sleep(max(0.0, start + n * interval - time.perf_counter()))
        bus.publish_nowait(topic, {"value": n, "ts": iso()})
    done.set()
    await asyncio.wait_for(watcher, 60)
    latencies = sorted((when - ts / 1000) * 1000 for ts, when in seen.values())
    return {
        "rate_msg_s": LATENCY_RATE,
        "samples": len(latencies),
        "p50_ms": round(statistics.median(latencies), 1),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 1),
        "max_ms": round(latencies[-1], 1),
        "resolution_ms": 5,
    }


async def test_recorder_keeps_up_with_a_bare_subscriber(tmp_path: Path) -> None:
    broker = MosquittoBroker(tmp_path / "broker")
    broker.start()
    try:
        settings = settings_for(broker, tmp_path)
        prefix = settings.mqtt.prefix
        bare_rates: list[float] = []
        tuned_rates: list[float] = []
        recorder_rates: list[float] = []
        lost: list[int] = []
        async with Bus(settings.mqtt, reconnect=False) as bus:
            for round_ in range(ROUNDS):
                base = time.time() - 3600 + round_ * 60
                bare = await _bare_round(broker, prefix, base)
                bare_rates.append(bare["rate"])
                assert bare["received"] == MESSAGES
                tuned = await _bare_round(broker, prefix, base, "tuned")
                tuned_rates.append(tuned["rate"])

                recorder = RecorderProcess(
                    broker, prefix, tmp_path / f"data{round_}", f"rec{round_}"
                )
                await recorder.start(bus)
                try:
                    started = await _publish_burst(broker, prefix, base)
                    finished = await recorder.until_stored(bus, base)
                    recorder_rates.append(MESSAGES / (finished - started))
                    lost.append(MESSAGES - _stored(recorder.db))
                    if round_ == ROUNDS - 1:
                        latency = await _latency(bus, recorder.db)
                finally:
                    await recorder.stop(settings.mqtt)
                with sqlite3.connect(recorder.db) as conn:
                    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                    samples = conn.execute("SELECT count(*) FROM samples").fetchone()[0]
                size = recorder.db.stat().st_size
        bare_rate = statistics.median(bare_rates)
        recorder_rate = statistics.median(recorder_rates)
        figures = {
            "benchmark": "recorder ingest",
            "messages_per_round": MESSAGES,
            "values_per_message": 3,
            "bare_subscriber_msg_s": [round(r) for r in bare_rates],
            "bare_subscriber_gc_tuned_msg_s": [round(r) for r in tuned_rates],
            "recorder_msg_s": [round(r) for r in recorder_rates],
            "recorder_samples_s": round(recorder_rate * 3),
            "ratio": round(recorder_rate / bare_rate, 3),
            "ratio_vs_gc_tuned_bare": round(recorder_rate / statistics.median(tuned_rates), 3),
            "target_ratio": 0.9,
            "lost": lost,
            "latency": latency,
            "db_bytes_per_sample": round(size / samples, 1),
            "db_bytes_per_message": round(size / (samples / 3), 1),
        }
        print(json.dumps(figures, indent=2))
        assert lost == [0] * ROUNDS
    finally:
        broker.stop()
