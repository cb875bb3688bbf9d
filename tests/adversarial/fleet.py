"""Every roost service in a process of its own, as `roost up` would run them, on one
broker of the test's own and one config file: the fuzzer's targets."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from roost.testing.broker import MosquittoBroker, free_port

BIN = Path(sys.executable).parent
SERVICES = [
    "i2c-bridge",
    "camera",
    "detector",
    "event-engine",
    "supervisor",
    "recorder",
    "webui",
]
APP_NODE = "fz-app"  # the node whose availability the supervisor's app is judged by


def config(broker: MosquittoBroker, data: Path, web_port: int) -> str:
    return f"""
[mqtt]
host = "{broker.host}"
port = {broker.port}
ha_birth_delay = [0.0, 0.2]

[node]
data_dir = "{data}"

[camera.cameras.demo]
fps = 5
jpeg_interval = 0
recording = false
snapshot_interval = 2.0
source = {{ type = "synthetic", width = 160, height = 120 }}

[detector]
detect_fps = 2.0

[supervisor]
services = []

[supervisor.apps.pause]
command = ["{sys.executable}", "-c", "import time; time.sleep(3600)"]
health = {{ kind = "availability", node = "{APP_NODE}", start_timeout = 3600 }}

[webui]
port = {web_port}
"""


@dataclass
class Service:
    name: str
    process: asyncio.subprocess.Process
    log: Path

    @property
    def node(self) -> str:
        return self.name

    def alive(self) -> bool:
        return self.process.returncode is None

    def rss(self) -> int:
        return int(psutil.Process(self.process.pid).memory_info().rss)

    def tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class Fleet:
    workdir: Path
    web_port: int
    env: dict[str, str]
    services: dict[str, Service] = field(default_factory=dict)

    @property
    def data(self) -> Path:
        return self.workdir / "data"

    async def start(self, name: str) -> Service:
        log = self.workdir / f"{name}.log"
        with log.open("ab") as out:
            process = await asyncio.create_subprocess_exec(
                str(BIN / f"roost-{name}"),
                cwd=self.workdir,
                env=self.env,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        service = self.services[name] = Service(name, process, log)
        return service

    async def stop(self, name: str) -> int:
        """SIGTERM, as a user's `roost stop` would; its exit code."""
        process = self.services[name].process
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(15):
            return await process.wait()


@contextlib.asynccontextmanager
async def fleet(broker: MosquittoBroker, workdir: Path) -> AsyncIterator[Fleet]:
    """Start every service; stop them all (SIGTERM, then kill) when the block ends."""
    web_port = free_port()
    conf = workdir / "roost.toml"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROOST_")}
    env["ROOST_CONFIG"] = str(conf)
    running = Fleet(workdir, web_port, env)
    conf.write_text(config(broker, running.data, web_port))
    try:
        for name in SERVICES:
            await running.start(name)
        yield running
    finally:
        for service in running.services.values():
            if service.alive():
                with contextlib.suppress(ProcessLookupError):
                    service.process.send_signal(signal.SIGTERM)
        for service in running.services.values():
            try:
                async with asyncio.timeout(15):
                    await service.process.wait()
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(service.process.pid, signal.SIGKILL)
                await service.process.wait()
