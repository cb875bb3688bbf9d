"""Health checks, one class per kind: the process itself, a TCP port, an HTTP URL, or the
app's own roost availability topic. A check answers one question, `probe()`: is the app
healthy right now? The actor decides what a run of failures means."""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import httpx
import psutil

from roost_supervisor.availability import AvailabilityBoard
from roost_supervisor.process import AppProcess
from roost_supervisor.settings import (
    AvailabilityHealth,
    HealthSpec,
    HttpHealth,
    ProcessHealth,
    TcpHealth,
)

# While a new process starts, how often to look whether it is ready yet.
READY_POLL = 0.2


@dataclass(frozen=True)
class Verdict:
    ok: bool
    detail: str


class HealthCheck(ABC):
    kind: ClassVar[str]

    def __init__(self, spec: HealthSpec) -> None:
        self.spec = spec

    @abstractmethod
    async def probe(self, process: AppProcess) -> Verdict:
        """One check, bounded by the spec's timeout."""

    @abstractmethod
    def describe(self) -> str: ...

    async def wait_ready(self, process: AppProcess) -> Verdict:
        """Return at the first passing probe (the caller bounds the wait)."""
        while True:
            verdict = await self.probe(process)
            if verdict.ok:
                return verdict
            await asyncio.sleep(READY_POLL)

    def started(self) -> None:  # noqa: B027 - a hook; most checks keep nothing
        """A new process was started: forget what the check knew about the old one."""

    async def close(self) -> None:  # noqa: B027 - a hook; most checks hold nothing
        """Release what the check holds (connections)."""


class ProcessCheck(HealthCheck):
    kind = "process"

    def describe(self) -> str:
        return "process"

    async def probe(self, process: AppProcess) -> Verdict:
        if not process.alive:
            return Verdict(False, "process has exited")
        try:
            status = await asyncio.to_thread(lambda: psutil.Process(process.pid).status())
        except psutil.Error:
            return Verdict(False, "process is gone")
        if status in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD):
            return Verdict(False, f"process is {status}")
        if status in (psutil.STATUS_STOPPED, psutil.STATUS_TRACING_STOP):
            return Verdict(False, "process is stopped (SIGSTOP)")
        return Verdict(True, f"process is {status}")


class TcpCheck(HealthCheck):
    kind = "tcp"
    spec: TcpHealth

    def describe(self) -> str:
        return f"tcp {self.spec.host}:{self.spec.port}"

    async def probe(self, process: AppProcess) -> Verdict:
        where = f"{self.spec.host}:{self.spec.port}"
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(self.spec.host, self.spec.port), self.spec.timeout
            )
        except TimeoutError:
            return Verdict(False, f"tcp {where}: no answer in {self.spec.timeout:g} s")
        except OSError as exc:
            return Verdict(False, f"tcp {where}: {exc.strerror or exc}")
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return Verdict(True, f"tcp {where} accepts")


class HttpCheck(HealthCheck):
    kind = "http"
    spec: HttpHealth

    def __init__(self, spec: HealthSpec) -> None:
        super().__init__(spec)
        self._client = httpx.AsyncClient(timeout=self.spec.timeout, follow_redirects=False)

    def describe(self) -> str:
        return f"http {self.spec.url}"

    async def probe(self, process: AppProcess) -> Verdict:
        try:
            response = await self._client.get(self.spec.url)
        except httpx.TimeoutException:
            return Verdict(False, f"GET {self.spec.url}: no answer in {self.spec.timeout:g} s")
        except httpx.HTTPError as exc:
            return Verdict(False, f"GET {self.spec.url}: {exc or type(exc).__name__}")
        wanted = self.spec.status
        ok = response.status_code == wanted if wanted else 200 <= response.status_code < 400
        return Verdict(ok, f"GET {self.spec.url}: {response.status_code}")

    async def close(self) -> None:
        await self._client.aclose()


class AvailabilityCheck(HealthCheck):
    kind = "availability"
    spec: AvailabilityHealth

    def __init__(self, spec: HealthSpec, board: AvailabilityBoard, node: str) -> None:
        super().__init__(spec)
        self.board = board
        self.node = node

    def describe(self) -> str:
        return f"availability of {self.node}"

    async def probe(self, process: AppProcess) -> Verdict:
        online = self.board.is_online(self.node)
        return Verdict(online, f"node {self.node} is {'online' if online else 'offline'}")

    def started(self) -> None:
        # A retained `online` from the previous process must not count for the new one.
        self.board.forget(self.node)

    async def wait_ready(self, process: AppProcess) -> Verdict:
        await self.board.wait_online(self.node)
        return Verdict(True, f"node {self.node} is online")


def make_check(spec: HealthSpec, *, board: AvailabilityBoard, node: str | None) -> HealthCheck:
    if isinstance(spec, ProcessHealth):
        return ProcessCheck(spec)
    if isinstance(spec, TcpHealth):
        return TcpCheck(spec)
    if isinstance(spec, HttpHealth):
        return HttpCheck(spec)
    target = spec.node or node
    if target is None:  # the settings refuse this; kept for callers building specs by hand
        raise ValueError("an availability check needs the node id to watch")
    return AvailabilityCheck(spec, board, target)
