"""A real VictoriaMetrics for the InfluxDB sink's tests: Debian's `victoria-metrics` on a
free port with a temporary storage dir, and its export API to read back what arrived."""

from __future__ import annotations

import asyncio
import json
import os
import selectors
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

from roost.testing.broker import free_port

READY = b"starting http server"


class VictoriaMetrics:
    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.workdir = workdir
        self.binary = shutil.which("victoria-metrics") or "/usr/bin/victoria-metrics"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                f"-httpListenAddr=127.0.0.1:{self.port}",
                f"-storageDataPath={self.workdir}",
                "-retentionPeriod=100y",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        assert self.process.stderr is not None
        seen = b""
        deadline = time.monotonic() + 20
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stderr, selectors.EVENT_READ)
            while READY not in seen:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not selector.select(remaining):
                    self.stop()
                    raise RuntimeError(f"victoria-metrics did not start: {seen[-2000:]!r}")
                chunk = os.read(self.process.stderr.fileno(), 65536)
                if not chunk:
                    raise RuntimeError(f"victoria-metrics exited: {seen[-2000:]!r}")
                seen += chunk
        # Keep draining its log so that it never blocks on a full pipe.
        stderr = self.process.stderr
        self._drain = asyncio.get_event_loop().run_in_executor(None, stderr.read)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    async def export(self, match: str = '{__name__=~"roost.*"}') -> list[dict[str, Any]]:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{self.url}/internal/force_flush") as response:
                response.raise_for_status()
            # A day either side of this process's clock: by default the export ends at
            # VictoriaMetrics' own now, and the points carry the writer's timestamps.
            now = int(time.time())
            window = {"start": str(now - 86400), "end": str(now + 86400)}
            async with session.post(
                f"{self.url}/api/v1/export", data={"match[]": match, **window}
            ) as response:
                response.raise_for_status()
                text = await response.text()
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    async def until(
        self, check: Callable[[list[dict[str, Any]]], bool], timeout: float = 20.0
    ) -> list[dict[str, Any]]:
        """Export until `check` holds. VictoriaMetrics makes newly written series
        searchable a moment after it accepted them and has no way to say when, so this
        asks again every 0.1 s up to `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            series = await self.export()
            if check(series):
                return series
            if time.monotonic() > deadline:
                found = {
                    ",".join(f"{k}={v}" for k, v in entry["metric"].items()): len(entry["values"])
                    for entry in series
                }
                raise TimeoutError(f"VictoriaMetrics never held what was expected: {found}")
            await asyncio.sleep(0.1)


def points(series: list[dict[str, Any]], name: str, **labels: str) -> dict[int, float]:
    """timestamp → value of the series named `name` with these labels."""
    out: dict[int, float] = {}
    for entry in series:
        metric = entry["metric"]
        if metric.get("__name__") != name:
            continue
        if any(metric.get(k) != v for k, v in labels.items()):
            continue
        out.update(zip(entry["timestamps"], entry["values"], strict=True))
    return out
