"""The pool of worker processes that hold the JavaScript VMs.

Each worker is a child process speaking newline-delimited JSON on its stdin/stdout (see
`worker.py`). The engine writes mirror updates to every worker without waiting (they are
applied in order, before the next run), and requests (`load`, `run`) get one reply each,
in order. A worker that overruns, dies or stops answering is killed and its slot refilled
with a fresh process, bootstrapped from the engine's current mirror and scripts.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from pydantic_core import to_json

log = logging.getLogger("roost.event_engine.pool")

READ_LIMIT = 64 * 1024 * 1024
START_TIMEOUT = 30.0
DEFER_LIMIT = 2000  # mirror updates held for an idle worker before they are pushed anyway
DEFER_INTERVAL = 0.5

Message = dict[str, Any]
Bootstrap = Callable[[], list[Message]]


class WorkerLost(Exception):
    """The worker died or was killed before it answered."""


class WorkerProcess:
    """One child process and the replies it owes."""

    def __init__(self, slot: int, generation: int) -> None:
        self.slot = slot
        self.name = f"worker {slot}.{generation}"
        self.process: asyncio.subprocess.Process | None = None
        self._replies: dict[int, asyncio.Future[Message]] = {}
        self._numbers = itertools.count(1)
        self._reader: asyncio.Task[None] | None = None
        self._ready: asyncio.Future[None] | None = None
        self._outgoing: list[bytes] = []
        self._deferred: list[bytes] = []
        self.dead = False

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    async def start(self, time_limit: float, memory_mb: int) -> None:
        env = {
            **os.environ,
            "ROOST_WORKER_TIME_LIMIT": str(time_limit),
            "ROOST_WORKER_MEMORY_MB": str(memory_mb),
        }
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "roost_event_engine.worker",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=env,
            limit=READ_LIMIT,
        )
        self._ready = asyncio.get_running_loop().create_future()
        self._reader = asyncio.create_task(self._read(), name=f"{self.name} reader")
        try:
            await asyncio.wait_for(asyncio.shield(self._ready), START_TIMEOUT)
        except BaseException:
            self.kill()
            raise

    def send(self, message: Message) -> None:
        """Queue a message for the worker; never blocks the event loop. Messages sent in
        one turn of the loop go out in one write (one wake-up of the worker), after any
        deferred mirror updates."""
        if self.dead or self.process is None or self.process.stdin is None:
            return
        if not self._outgoing:
            asyncio.get_running_loop().call_soon(self._flush)
        self._outgoing.extend(self._deferred)
        self._deferred.clear()
        self._outgoing.append(_line(message))

    def defer(self, line: bytes) -> None:
        """Queue an encoded mirror update to travel with the next request (or the next
        periodic flush): a worker need not wake for every change, only before it runs a
        script."""
        if self.dead:
            return
        self._deferred.append(line)
        if len(self._deferred) >= DEFER_LIMIT:
            self.push_deferred()

    def push_deferred(self) -> None:
        if self._deferred and not self.dead:
            if not self._outgoing:
                asyncio.get_running_loop().call_soon(self._flush)
            self._outgoing.extend(self._deferred)
            self._deferred.clear()

    def _flush(self) -> None:
        data, self._outgoing = b"".join(self._outgoing), []
        if self.dead or self.process is None or self.process.stdin is None or not data:
            return
        try:
            self.process.stdin.write(data)
        except (ConnectionError, RuntimeError):
            self.dead = True

    async def request(self, message: Message, timeout: float) -> Message:
        """Send and wait for the reply; WorkerLost if the worker dies or does not answer."""
        if self.dead:
            raise WorkerLost(f"{self.name} is gone")
        number = next(self._numbers)
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._replies[number] = future
        self.send({**message, "n": number})
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            log.error("%s did not answer within %.1f s: killing it", self.name, timeout)
            self.kill()
            raise WorkerLost(f"{self.name} did not answer within {timeout:g} s") from None
        finally:
            self._replies.pop(number, None)

    async def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        stdout = self.process.stdout
        try:
            while True:
                line = await stdout.readline()
                if not line:
                    break
                try:
                    reply = json.loads(line)
                except ValueError:
                    log.error("%s wrote something that is not JSON: %.200r", self.name, line)
                    continue
                if reply.get("op") == "ready":
                    if self._ready is not None and not self._ready.done():
                        self._ready.set_result(None)
                    continue
                future = self._replies.get(reply.get("n"))
                if future is not None and not future.done():
                    future.set_result(reply)
        except (ValueError, ConnectionError) as exc:  # an oversized line or a broken pipe
            log.error("%s: reading its replies failed: %s", self.name, exc)
        finally:
            self._lost()

    def _lost(self) -> None:
        self.dead = True
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(WorkerLost(f"{self.name} exited while starting"))
        for future in self._replies.values():
            if not future.done():
                future.set_exception(WorkerLost(f"{self.name} exited"))
        if self.process is not None and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()

    def kill(self) -> None:
        self.dead = True
        if self.process is not None and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
        self._lost()

    async def close(self) -> None:
        self.kill()
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                await self.process.wait()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader


def _line(message: Message) -> bytes:
    """One message for a worker as JSON its VM can parse: a non-finite number (a peer's
    `1e999` reads as infinity) is written `null`, never `Infinity`, which JSON.parse
    refuses and which used to kill the worker on every update."""
    return to_json(message, inf_nan_mode="null") + b"\n"


class WorkerPool:
    """`size` slots, each holding a live worker or being refilled."""

    def __init__(
        self, size: int, *, time_limit: float, memory_mb: int, bootstrap: Bootstrap
    ) -> None:
        self.size = size
        self.time_limit = time_limit
        self.memory_mb = memory_mb
        self._bootstrap = bootstrap
        self._slots: list[WorkerProcess | None] = [None] * size
        self._ready = [asyncio.Event() for _ in range(size)]
        self._refills: dict[int, asyncio.Task[None]] = {}
        self._generations = itertools.count(1)
        self.restarts = 0
        self._closing = False

    async def start(self) -> None:
        await asyncio.gather(*(self._fill(slot) for slot in range(self.size)))

    async def _fill(self, slot: int) -> None:
        delay = 0.1
        while not self._closing:
            worker = WorkerProcess(slot, next(self._generations))
            started = time.monotonic()
            try:
                await worker.start(self.time_limit, self.memory_mb)
            except (OSError, WorkerLost, TimeoutError) as exc:
                log.error("starting %s failed: %s; retrying in %.1f s", worker.name, exc, delay)
                await worker.close()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            # Bootstrap and join the broadcast list in one step, so no update falls between.
            for message in self._bootstrap():
                worker.send(message)
            self._slots[slot] = worker
            self._ready[slot].set()
            log.info(
                "%s started (pid %s) in %.0f ms",
                worker.name,
                worker.pid,
                (time.monotonic() - started) * 1000,
            )
            return

    def live(self) -> list[WorkerProcess]:
        return [w for w in self._slots if w is not None and not w.dead]

    @property
    def alive(self) -> int:
        return len(self.live())

    def broadcast(self, message: Message) -> None:
        """A mirror update for every worker, delivered before its next request."""
        line = _line(message)
        for worker in self.live():
            worker.defer(line)

    def broadcast_now(self, message: Message) -> None:
        for worker in self.live():
            worker.send(message)

    async def push_deferred(self) -> None:
        """Keep idle workers' mirrors close behind, so a request carries little."""
        while True:
            await asyncio.sleep(DEFER_INTERVAL)
            for worker in self.live():
                worker.push_deferred()

    async def worker(self, slot: int) -> WorkerProcess:
        """The slot's live worker, waiting while it is refilled."""
        while True:
            worker = self._slots[slot]
            if worker is not None and not worker.dead:
                return worker
            if worker is not None:
                self.replace(worker)
            await self._ready[slot].wait()

    def replace(self, worker: WorkerProcess) -> None:
        """Kill `worker` (if it is not dead already) and refill its slot."""
        worker.kill()
        slot = worker.slot
        if self._slots[slot] is not worker or self._closing:
            return
        self._slots[slot] = None
        self._ready[slot].clear()
        self.restarts += 1
        task = asyncio.create_task(self._refill(worker), name=f"refill slot {slot}")
        self._refills[slot] = task

    async def _refill(self, old: WorkerProcess) -> None:
        await old.close()
        await self._fill(old.slot)
        self._refills.pop(old.slot, None)

    async def close(self) -> None:
        self._closing = True
        for task in self._refills.values():
            task.cancel()
        await asyncio.gather(*self._refills.values(), return_exceptions=True)
        await asyncio.gather(*(w.close() for w in self._slots if w is not None))
        self._slots = [None] * self.size
