"""Running `roost` commands as a user would: separate processes, through the broker."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOST = str(Path(sys.executable).parent / "roost")


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without any ROOST_ variable of the caller, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROOST_")}
    env.update(extra)
    return env


@dataclass
class Result:
    code: int
    out: str
    err: str


async def roost(*args: str, cwd: Path, env: dict[str, str], timeout: float = 60) -> Result:
    process = await asyncio.create_subprocess_exec(
        ROOST,
        *args,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode is not None
    return Result(process.returncode, out.decode(), err.decode())


async def communicate(process: asyncio.subprocess.Process, timeout: float) -> tuple[str, str]:
    """Its output once it has ended; if it does not end in time, Ctrl-C (then SIGKILL) so
    that a failing test leaves nothing running, and a TimeoutError."""
    try:
        async with asyncio.timeout(timeout):
            out, err = await process.communicate()
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
            try:
                async with asyncio.timeout(30):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()
    return out.decode(), err.decode()


@dataclass
class Up:
    """A running `roost up` and what it has printed so far."""

    process: asyncio.subprocess.Process
    lines: list[str] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def line(self, pattern: str, timeout: float = 30) -> re.Match[str]:
        """The first printed line matching `pattern` (waits for it)."""

        async def scan() -> re.Match[str]:
            seen = 0
            while True:
                for text in self.lines[seen:]:
                    match = re.search(pattern, text)
                    if match:
                        return match
                seen = len(self.lines)
                self.arrived.clear()
                if self.process.returncode is not None and seen == len(self.lines):
                    raise AssertionError(f"roost up exited; it printed: {self.lines}")
                await self.arrived.wait()

        try:
            return await asyncio.wait_for(scan(), timeout)
        except TimeoutError:
            raise AssertionError(
                f"no line like {pattern!r}; roost up printed: {self.lines}"
            ) from None

    def family(self) -> list[int]:
        try:
            return [p.pid for p in psutil.Process(self.process.pid).children(recursive=True)]
        except psutil.Error:
            return []

    async def interrupt(self, timeout: float = 60) -> int:
        self.process.send_signal(signal.SIGINT)
        return await asyncio.wait_for(self.process.wait(), timeout)


@contextlib.asynccontextmanager
async def roost_up(cwd: Path, env: dict[str, str]) -> AsyncIterator[Up]:
    stderr = (cwd / "roost-up.stderr").open("wb")
    process = await asyncio.create_subprocess_exec(
        ROOST,
        "up",
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=stderr,
        start_new_session=True,
    )
    up = Up(process)

    async def read() -> None:
        assert process.stdout is not None
        async for raw in process.stdout:
            up.lines.append(raw.decode().rstrip("\n"))
            up.arrived.set()
        up.arrived.set()

    reader = asyncio.create_task(read())
    try:
        yield up
    finally:
        if process.returncode is None:
            # As a user would: Ctrl-C, and only if that does not end it, kill it all.
            process.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                family = up.family()
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                for pid in family:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                await process.wait()
        await reader
        stderr.close()


def write_one_app_config(folder: Path, app: str, code: str, extra: str = "") -> None:
    """A roost.toml with roost's own broker on a free port, no scheduled backups, and one
    app running `code` with this Python; `extra` adds lines to the app's table."""
    (folder / "roost.toml").write_text(
        f"""
[up]
broker = "own"
port = 0

[supervisor.backup]
interval = 0

[supervisor.apps.{app}]
command = [{json.dumps(sys.executable)}, "-c", {json.dumps(code)}]
start_secs = 0.3
{extra}"""
    )
