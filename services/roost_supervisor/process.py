"""One app process as the OS sees it: spawned in its own session (so its process group is
all of it), its exit seen through a pidfd the moment it happens, its output pumped into
the app's log file, and stopped with a signal to the whole group, then SIGKILL.

Nothing here keeps a flag saying whether the process runs: `exited` is resolved by the
kernel's pidfd, and group members are found in /proc when they matter.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import psutil

from roost_supervisor.logfile import OutputLog

log = logging.getLogger("roost_supervisor.process")

READ_BLOCK = 65536
SIGNALS: dict[str, signal.Signals] = {
    "TERM": signal.SIGTERM,
    "INT": signal.SIGINT,
    "HUP": signal.SIGHUP,
    "QUIT": signal.SIGQUIT,
    "USR1": signal.SIGUSR1,
    "USR2": signal.SIGUSR2,
    "KILL": signal.SIGKILL,
}


class SpawnError(Exception):
    """The program could not be started at all (not found, not executable, bad cwd)."""


@dataclass(frozen=True)
class Exit:
    """How a process ended: `returncode` as subprocess gives it (negative: a signal)."""

    returncode: int

    @property
    def code(self) -> int | None:
        return self.returncode if self.returncode >= 0 else None

    @property
    def signal(self) -> int | None:
        return -self.returncode if self.returncode < 0 else None

    @property
    def clean(self) -> bool:
        return self.returncode == 0

    def describe(self) -> str:
        if self.signal is not None:
            try:
                name = signal.Signals(self.signal).name
            except ValueError:
                name = f"signal {self.signal}"
            return f"killed by {name}"
        return f"exited with code {self.returncode}"


class AppProcess:
    """A started process; `exited` resolves when it ends."""

    def __init__(self, popen: subprocess.Popen[bytes], output: OutputLog) -> None:
        self._popen = popen
        self._output = output
        self.pid = popen.pid
        self.pgid = popen.pid  # start_new_session: the leader's pid is the group's id
        self.started = time.monotonic()
        self.create_time = _create_time(self.pid)
        self._loop = asyncio.get_running_loop()
        self.exited: asyncio.Future[Exit] = self._loop.create_future()
        self._pidfd = os.pidfd_open(self.pid)
        self._loop.add_reader(self._pidfd, self._on_exit)
        self._pump: asyncio.Task[None] | None = None

    @classmethod
    async def spawn(
        cls,
        argv: list[str],
        *,
        env: Mapping[str, str],
        cwd: Path | None,
        output: OutputLog,
    ) -> AppProcess:
        try:
            popen = await asyncio.to_thread(
                subprocess.Popen,
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                env=dict(env),
                start_new_session=True,
                close_fds=True,
            )
        except OSError as exc:
            raise SpawnError(f"cannot start {argv[0]}: {exc.strerror or exc}") from None
        process = cls(popen, output)
        await process._start_pump()
        return process

    def __repr__(self) -> str:
        return f"AppProcess(pid={self.pid})"

    @property
    def alive(self) -> bool:
        return not self.exited.done()

    def uptime(self) -> float:
        return time.monotonic() - self.started

    # exit --------------------------------------------------------------------------------
    def _on_exit(self) -> None:
        returncode = self._popen.poll()
        if returncode is None:  # pragma: no cover - a pidfd is readable only once it ended
            return
        self._loop.remove_reader(self._pidfd)
        os.close(self._pidfd)
        if not self.exited.done():
            self.exited.set_result(Exit(returncode))

    async def ended(self) -> Exit:
        """The exit, when it comes (shielded: a cancelled waiter leaves it intact)."""
        return await asyncio.shield(self.exited)

    async def wait(self, timeout: float | None = None) -> Exit | None:
        """The exit, or None if it is still running after `timeout` seconds."""
        try:
            return await asyncio.wait_for(asyncio.shield(self.exited), timeout)
        except TimeoutError:
            return None

    # output ------------------------------------------------------------------------------
    async def _start_pump(self) -> None:
        assert self._popen.stdout is not None
        reader = asyncio.StreamReader(limit=READ_BLOCK * 4, loop=self._loop)
        protocol = asyncio.StreamReaderProtocol(reader, loop=self._loop)
        await self._loop.connect_read_pipe(lambda: protocol, self._popen.stdout)
        self._pump = asyncio.create_task(self._copy(reader), name=f"output {self.pid}")

    async def _copy(self, reader: asyncio.StreamReader) -> None:
        try:
            while chunk := await reader.read(READ_BLOCK):
                await self._output.write(chunk)
        except OSError as exc:
            log.warning("output of pid %d: %s", self.pid, exc)

    async def output_done(self, timeout: float) -> None:
        """Wait (bounded) until everything the group wrote has reached the log file."""
        if self._pump is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._pump), timeout)

    # stopping ----------------------------------------------------------------------------
    def signal_group(self, sig: int) -> bool:
        """Send `sig` to every process in the app's group; False if none is left."""
        try:
            os.killpg(self.pgid, sig)
        except ProcessLookupError:
            return False
        except PermissionError as exc:  # pragma: no cover - a member changed its uid
            log.warning("cannot signal group %d: %s", self.pgid, exc)
            return False
        return True

    async def stop(self, sig: int, grace: float) -> Exit:
        """`sig` to the group, SIGKILL after `grace` seconds, then clear what is left of the
        group and of the process's descendants (those that left the group too)."""
        descendants = await asyncio.to_thread(_descendants, self.pid)
        if self.alive:
            self.signal_group(sig)
            if await self.wait(grace) is None:
                log.warning("pid %d ignored %s for %.1f s: SIGKILL", self.pid, _name(sig), grace)
                self.signal_group(signal.SIGKILL)
        exit_ = await self.ended()
        await clear_group(self.pgid, grace, also=descendants)
        return exit_

    async def kill(self) -> Exit:
        """SIGKILL the group at once (a forced shutdown)."""
        descendants = await asyncio.to_thread(_descendants, self.pid)
        self.signal_group(signal.SIGKILL)
        exit_ = await self.ended()
        await clear_group(self.pgid, 0.0, also=descendants)
        return exit_


async def clear_group(pgid: int, grace: float, *, also: Iterable[int] = ()) -> int:
    """SIGTERM what is left of process group `pgid` (and the pids in `also`), SIGKILL what
    is still there after `grace` seconds; the number of processes that were left."""
    pids = await asyncio.to_thread(_leftovers, pgid, set(also))
    if not pids:
        return 0
    log.info("process group %d: %d process(es) left behind: stopping them", pgid, len(pids))
    _signal_all(pids, signal.SIGTERM)
    remaining = await wait_gone(pids, grace)
    if remaining:
        _signal_all(remaining, signal.SIGKILL)
        await wait_gone(remaining, 5.0)
    return len(pids)


async def wait_gone(pids: Iterable[int], timeout: float) -> set[int]:
    """Wait until each process has ended (pidfds, no polling); those still running."""
    loop = asyncio.get_running_loop()
    waiting: dict[int, asyncio.Future[None]] = {}
    fds: dict[int, int] = {}
    for pid in pids:
        try:
            fd = os.pidfd_open(pid)
        except (ProcessLookupError, OSError):
            continue
        future: asyncio.Future[None] = loop.create_future()
        fds[pid] = fd
        waiting[pid] = future
        loop.add_reader(fd, _resolve, future)
    try:
        if waiting:
            await asyncio.wait(waiting.values(), timeout=timeout)
        return {pid for pid, future in waiting.items() if not future.done()}
    finally:
        for fd in fds.values():
            loop.remove_reader(fd)
            os.close(fd)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _signal_all(pids: Iterable[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def _descendants(pid: int) -> set[int]:
    try:
        return {child.pid for child in psutil.Process(pid).children(recursive=True)}
    except psutil.Error:
        return set()


def _leftovers(pgid: int, also: set[int]) -> set[int]:
    """Live (not zombie) processes in group `pgid`, plus those of `also` still alive."""
    found: set[int] = set()
    for process in psutil.process_iter(["status"]):
        pid = process.pid
        try:
            in_group = pid in also or os.getpgid(pid) == pgid
        except (ProcessLookupError, PermissionError):
            continue
        if in_group and process.info["status"] != psutil.STATUS_ZOMBIE and pid != os.getpid():
            found.add(pid)
    return found


def _create_time(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


def _name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"
