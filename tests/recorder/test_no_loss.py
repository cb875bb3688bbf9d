"""Nothing is lost: not while the recorder is dead (SIGKILL), nor across a broker restart."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

from roost.bus import Bus
from roost.clock import iso
from roost.settings import RoostSettings
from roost.testing import Watcher
from roost.testing.broker import MosquittoBroker
from roost.testing.plugin import settings_for

from .conftest import RecorderWatch, probes_stored, recorder_settings, running

DEVICES = 10


def _env(settings: RoostSettings) -> dict[str, str]:
    mqtt = settings.mqtt
    return {
        **os.environ,
        "ROOST_MQTT__HOST": mqtt.host,
        "ROOST_MQTT__PORT": str(mqtt.port),
        "ROOST_MQTT__PREFIX": mqtt.prefix,
        "ROOST_MQTT__DISCOVERY_PREFIX": mqtt.discovery_prefix,
        "ROOST_NODE__DATA_DIR": str(settings.node.data_dir),
        "ROOST_RECORDER__STATUS_INTERVAL": "0.05",
        "ROOST_RECORDER__BATCH_INTERVAL": "0.05",
    }


@asynccontextmanager
async def recorder_process(
    settings: RoostSettings, bus: Bus, workdir: Path
) -> AsyncIterator[asyncio.subprocess.Process]:
    """`python -m roost_recorder` as its own process, yielded once it is recording."""
    state = bus.topics.state("recorder", "database")
    status = Watcher(bus, state)
    await status.start()
    started = iso()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "roost_recorder",
        env=_env(settings),
        cwd=workdir,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=(workdir / "recorder.log").open("ab"),
    )
    try:
        # Its own state, published after it started, says its ingest session is up.
        await status.wait_json(state, lambda s: s["recording"] and s["ts"] > started, timeout=15)
        yield process
    finally:
        await status.stop()
        if process.returncode is None:
            process.terminate()
            await process.wait()


def _states(base: datetime, first: int, last: int) -> list[tuple[str, dict[str, object]]]:
    """State n of device n % DEVICES, each with its own value and millisecond."""
    base_ms = round(base.timestamp() * 1000)
    out = []
    for n in range(first, last):
        ts = datetime.fromtimestamp((base_ms + n) / 1000, UTC)
        out.append((f"probe-{n % DEVICES}", {"count": n, "ts": iso(ts)}))
    return out


async def test_sigkill_loses_nothing(
    roost_settings: RoostSettings, bus: Bus, tmp_path: Path
) -> None:
    db = roost_settings.node.data_dir / "recorder" / "history.db"
    base = datetime.now(UTC)
    async with Bus(roost_settings.mqtt, reconnect=False, outbox_limit=50_000) as publisher:
        topics = publisher.topics
        async with RecorderWatch(bus) as watch:
            async with recorder_process(roost_settings, bus, tmp_path) as process:
                for device, state in _states(base, 0, 100):
                    publisher.publish_nowait(topics.state("sim", device), state)
                await publisher.flush(10)
                await watch.until_stored(lambda: probes_stored(db) == 100)
                gone = Watcher(bus, topics.node_availability("recorder"))
                await gone.start()
                process.send_signal(signal.SIGKILL)
                await process.wait()
                # The broker publishes the will once it sees the connection die.
                await gone.wait_for(lambda m: m.payload == b"offline", timeout=60)
                await gone.stop()

            # While it is dead: 10,000 updates, queued by the broker for its session.
            for device, state in _states(base, 100, 10_100):
                publisher.publish_nowait(topics.state("sim", device), state)
            await publisher.flush(30)
            assert probes_stored(db) == 100

            async with recorder_process(roost_settings, bus, tmp_path):
                await watch.until_stored(lambda: probes_stored(db) >= 10_100, timeout=60)
    assert probes_stored(db) == 10_100


async def test_broker_restart_mid_stream(tmp_path: Path) -> None:
    broker = MosquittoBroker(tmp_path / "broker", persistence=True)
    broker.start()
    try:
        base_settings = settings_for(broker, tmp_path)
        settings = recorder_settings(base_settings)
        async with (
            Bus(base_settings.mqtt, outbox_limit=50_000) as publisher,
            Bus(base_settings.mqtt) as observer,
            running(settings),
            RecorderWatch(observer) as watch,
        ):
            await publisher.wait_connected(5)
            await observer.wait_connected(5)
            topics = publisher.topics
            base = datetime.now(UTC)
            for device, state in _states(base, 0, 1000):
                publisher.publish_nowait(topics.state("sim", device), state)
            await publisher.flush(10)
            await watch.until_stored(lambda: probes_stored(settings) == 1000)
            # The next 2,000 are on their way (in the publisher's outbox, in flight, queued
            # for the recorder) when the broker goes down and comes back.
            for device, state in _states(base, 1000, 3000):
                publisher.publish_nowait(topics.state("sim", device), state)
            await asyncio.to_thread(broker.restart)
            await publisher.wait_connected(15)
            await publisher.flush(30)
            await watch.until_stored(
                lambda: probes_stored(settings) >= 3000,
                timeout=30,
            )
        assert probes_stored(settings) == 3000
    finally:
        broker.stop()
