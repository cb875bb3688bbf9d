"""`roost history` and `roost export` as a person runs them, against a running recorder."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from roost.bus import Bus
from roost.clock import iso, parse_iso
from roost.settings import RoostSettings

from .conftest import RecorderWatch, recorder_settings, running, samples_of

BASE = time.time() - 1800


async def roost(settings: RoostSettings, *args: str, cwd: Path) -> tuple[int, str, str]:
    mqtt = settings.mqtt
    env = {
        **os.environ,
        "ROOST_MQTT__HOST": mqtt.host,
        "ROOST_MQTT__PORT": str(mqtt.port),
        "ROOST_MQTT__PREFIX": mqtt.prefix,
        "ROOST_MQTT__DISCOVERY_PREFIX": mqtt.discovery_prefix,
        "ROOST_CLI__TIMEOUT": "5",
        "COLUMNS": "120",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "roost.cli",
        *args,
        env=env,
        cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, out.decode(), err.decode()


def _first_ts() -> float:
    """The first state's ts as published (ISO-8601, so whole milliseconds)."""
    stamp = parse_iso(iso(datetime.fromtimestamp(BASE, UTC))).timestamp()
    return round(stamp * 1000) / 1000


async def _record(bus: Bus, count: int) -> None:
    topics = bus.topics
    await bus.publish(
        topics.meta("greenhouse", "bme280"),
        {
            "name": "BME280",
            "properties": {
                "temperature": {"kind": "number", "unit": "°C"},
                "fan": {"kind": "switch"},
            },
        },
        retain=True,
    )
    for n in range(count):
        ts = iso(datetime.fromtimestamp(BASE + n, UTC))
        bus.publish_nowait(
            topics.state("greenhouse", "bme280"),
            {"temperature": 20 + n / 100, "fan": n >= count // 2, "ts": ts},
        )
    await bus.flush(10)


async def test_history_and_export(roost_settings: RoostSettings, bus: Bus, tmp_path: Path) -> None:
    settings = recorder_settings(roost_settings, max_points=100)
    async with running(settings), RecorderWatch(bus) as watch:
        await _record(bus, 250)
        await watch.until_stored(
            lambda: samples_of(settings, "greenhouse/bme280", "temperature") == 250
        )

        # A table, with the unit from the device's meta; a bare device id is enough.
        code, out, err = await roost(
            roost_settings, "history", "bme280", "temperature", "--since", "1h", cwd=tmp_path
        )
        assert code == 0, err
        assert "greenhouse/bme280 temperature (°C)" in out
        assert "22.49" in out and out.count("Z   ") == 250  # 3 pages of at most 100

        code, out, err = await roost(
            roost_settings,
            "history",
            "greenhouse/bme280",
            "temperature",
            "--since",
            "1h",
            "--csv",
            "--epoch",
            cwd=tmp_path,
        )
        assert code == 0, err
        rows = list(csv.reader(io.StringIO(out)))
        assert rows[0] == ["time", "value"] and len(rows) == 251
        assert float(rows[1][0]) == _first_ts() and float(rows[1][1]) == 20.0

        code, out, err = await roost(
            roost_settings,
            "history",
            "bme280",
            "temperature",
            "--since",
            "1h",
            "--step",
            "600",
            "--csv",
            cwd=tmp_path,
        )
        assert code == 0, err
        rows = list(csv.reader(io.StringIO(out)))
        assert rows[0] == ["time", "min", "max", "mean", "last", "count"]
        assert sum(int(r[5]) for r in rows[1:]) == 250

        # Export: every recorded property of the device, streamed page by page.
        target = tmp_path / "out.csv"
        code, out, err = await roost(
            roost_settings,
            "export",
            "greenhouse/bme280",
            "--from",
            iso(datetime.fromtimestamp(BASE - 1, UTC)),
            "-o",
            str(target),
            cwd=tmp_path,
        )
        assert code == 0, err
        rows = list(csv.DictReader(target.open()))
        temps = [r for r in rows if r["property"] == "temperature"]
        fans = [r for r in rows if r["property"] == "fan"]
        assert len(temps) == 250 and [r["value"] for r in fans] == ["false", "true"]
        assert all(r["device"] == "greenhouse/bme280" for r in rows)
        assert f"wrote {len(rows)} rows" in out

        code, _, err = await roost(roost_settings, "history", "bme280", "pressure", cwd=tmp_path)
        assert code == 1 and "unknown_property" in err and "temperature" in err
        code, _, err = await roost(
            roost_settings, "history", "bme280", "temperature", "--since", "soon", cwd=tmp_path
        )
        assert code == 2 and "duration" in err

    code, _, err = await roost(
        roost_settings, "history", "greenhouse/bme280", "temperature", cwd=tmp_path
    )
    assert code == 3 and "recorder" in err
