"""The supervisor node: an actor and a device per app, the host device, scheduled
database backups, and the `logs` and `shutdown` methods.

    roost/<supervisor>/<app>/…      state, pid, uptime, restarts, exit_code, cpu, rss,
                                    healthy, reason; buttons start, stop, restart
    roost/<supervisor>/host/…       disk, memory, load, temperature; disk_low events
    roost/<supervisor>/backups/…    the last scheduled backup; button run
    roost/request/<supervisor>/logs       {"app", "lines", "cursor"?} → {"lines", "cursor"}
    roost/request/<supervisor>/shutdown   {"confirm": true}: stop every app, then exit
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import logging.handlers
from collections.abc import Awaitable, Iterator, Mapping
from functools import partial
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from roost.device import Device
from roost.errors import CommandError, ErrorCode
from roost.node import Node
from roost_supervisor.actor import AppActor, app_meta
from roost_supervisor.availability import AvailabilityBoard
from roost_supervisor.dbbackup import DatabaseBackups
from roost_supervisor.health import make_check
from roost_supervisor.host import HostMonitor
from roost_supervisor.launch import Launcher
from roost_supervisor.logfile import Chunk, OutputLog, after, tail
from roost_supervisor.runrecords import RunRecords
from roost_supervisor.settings import AppSpec, LogFiles, Settings
from roost_supervisor.states import AppState, Command
from roost_supervisor.usage import UsageMeter

log = logging.getLogger("roost_supervisor")

# A `logs` answer stays well under any broker's packet limit.
MAX_LOG_RESPONSE = 512 * 1024
# How long apps wait for the check that no live supervisor has this node id; a broker
# that cannot be reached yet (it may be one of the apps) does not hold them longer.
UNIQUE_WAIT = 5.0


class LogsParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    app: str
    lines: int = Field(default=100, ge=1, le=5000)
    cursor: str | None = Field(default=None, max_length=64)


class ShutdownParams(BaseModel):
    """`confirm` is required, so nobody stops a whole machine by accident (and Home
    Assistant gets no button for it)."""

    model_config = ConfigDict(extra="forbid")

    confirm: Literal[True]


def logs_dir(data_dir: Path) -> Path:
    return data_dir / "supervisor" / "logs"


def own_log_path(data_dir: Path) -> Path:
    return logs_dir(data_dir) / "supervisor.log"


@contextlib.contextmanager
def keep_own_log(data_dir: Path, files: LogFiles) -> Iterator[None]:
    """Copy the supervisor's own log lines into `supervisor.log` (`roost logs supervisor`)."""
    path = own_log_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=files.max_bytes, backupCount=files.backups
    )
    root = logging.getLogger()
    if root.handlers:
        handler.setFormatter(root.handlers[0].formatter)
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
        handler.close()


class Supervisor:
    def __init__(self, settings: Settings, apps: Mapping[str, AppSpec], launcher: Launcher) -> None:
        self.settings = settings
        self.data_dir = settings.node.data_dir.resolve()
        self.node = Node(settings, service="supervisor")
        self.board = AvailabilityBoard(self.node.topics)
        self.records = RunRecords(self.data_dir / "supervisor" / "run")
        self.launcher = launcher
        self.actors: dict[str, AppActor] = {}
        self.shutdown_requested = asyncio.Event()
        section = settings.supervisor
        for name, spec in apps.items():
            self.actors[name] = self._actor(name, spec)
        self.host = HostMonitor(self.node, section.host, self.data_dir)
        databases = [*section.backup.databases]
        for spec in apps.values():
            databases += [db for db in spec.databases if db not in databases]
        self.backups = DatabaseBackups(
            self.node,
            databases=[self._in_data(db) for db in databases],
            data_dir=self.data_dir,
            directory=self._in_data(section.backup.dir or Path("backups")),
            interval=section.backup.interval,
            keep=section.backup.keep,
            first_delay=section.backup.first_delay,
        )
        self.node.add_method(
            "logs",
            self._logs,
            params=LogsParams,
            description="The last lines an app wrote (and a cursor to ask for what follows)",
        )
        self.node.add_method(
            "shutdown",
            self._shutdown,
            params=ShutdownParams,
            description="Stop every app, then the supervisor (`roost down`)",
        )
        self._tasks: list[asyncio.Task[None]] = []

    def _in_data(self, path: Path) -> Path:
        return path if path.is_absolute() else self.data_dir / path

    def _actor(self, name: str, spec: AppSpec) -> AppActor:
        section = self.settings.supervisor
        device = self.node.add_device(
            name, app_meta(name, spec, self.launcher.argv(spec)), on_set=self._on_set
        )
        check = (
            make_check(spec.health, board=self.board, node=spec.node_id)
            if spec.health is not None
            else None
        )
        output = OutputLog(
            logs_dir(self.data_dir) / f"{name}.log",
            max_bytes=section.logs.max_bytes,
            backups=section.logs.backups,
        )

        def dependencies(deps: list[str] = spec.depends_on) -> list[AppActor]:
            return [self.actors[dep] for dep in deps]

        return AppActor(
            name,
            spec,
            device=device,
            prepare=partial(self.launcher.launch, spec),
            output=output,
            records=self.records,
            check=check,
            dependencies=dependencies,
        )

    # running ---------------------------------------------------------------------------
    async def serve(self, until: Awaitable[object] | None = None) -> None:
        """Run every app until `until` completes or a `shutdown` request comes, then stop
        them all (dependents before what they depend on) and go offline."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cleared = await self.records.clear_leftovers()
        if cleared:
            log.warning("stopped processes left by a previous supervisor: %s", ", ".join(cleared))
        waiters: list[asyncio.Future[object]] = [
            asyncio.ensure_future(self.shutdown_requested.wait())
        ]
        if until is not None:
            waiters.append(asyncio.ensure_future(until))
        async with self.node:
            # A supervisor with this id already live on the broker (a second system on
            # it): the node refuses and cancels this block before any app has started.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(UNIQUE_WAIT):
                    await self.node.confirmed_unique()
            await self.board.attach(self.node.bus)
            for actor in self.actors.values():
                self._spawn(actor.run(), f"actor {actor.name}")
            self._spawn(self.host.run(), "host")
            self._spawn(self.backups.run(), "backups")
            self._spawn(self._sample(), "usage")
            try:
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
                log.info("stopping %d app(s)", len(self.actors))
                await self.stop_apps()
            except asyncio.CancelledError:
                await asyncio.shield(self.stop_apps(force=True))
                raise
            finally:
                for waiter in waiters:
                    waiter.cancel()
                await self._cancel_tasks()
                for actor in self.actors.values():
                    if actor.check is not None:
                        await actor.check.close()
                    await actor.output.close()

    def _spawn(self, coro: Awaitable[None], name: str) -> None:
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        task.add_done_callback(self._task_done)
        self._tasks.append(task)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("%s failed", task.get_name(), exc_info=task.exception())

    async def _cancel_tasks(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def stop_apps(self, *, force: bool = False) -> None:
        """Stop every app; an app waits until the apps depending on it have stopped.
        `force`: SIGKILL every group at once."""
        if force:
            await self._cancel_tasks()
            await asyncio.gather(*(actor.kill_now() for actor in self.actors.values()))
            return
        done = {name: asyncio.Event() for name in self.actors}
        dependents: dict[str, list[str]] = {name: [] for name in self.actors}
        for name, actor in self.actors.items():
            for dep in actor.spec.depends_on:
                dependents[dep].append(name)

        async def stop(name: str) -> None:
            for other in dependents[name]:
                await done[other].wait()
            actor = self.actors[name]
            actor.submit(Command.STOP)
            await actor.wait_settled()
            done[name].set()

        await asyncio.gather(*(stop(name) for name in self.actors))

    # what the OS says about each process ---------------------------------------------
    async def _sample(self) -> None:
        meter = UsageMeter()
        while True:
            live = {
                actor.process.pid: actor
                for actor in self.actors.values()
                if actor.process is not None and actor.process.alive
            }
            usage = await asyncio.to_thread(meter.sample, list(live))
            for pid, actor in live.items():
                if actor.process is not None and actor.process.pid == pid:
                    actor.record_usage(usage.get(pid))
            await asyncio.sleep(self.settings.supervisor.sample_interval)

    # commands and methods ------------------------------------------------------------
    async def _on_set(self, device: Device, values: dict[str, JsonValue]) -> None:
        actor = self.actors[device.id]
        for name, pressed in values.items():
            if pressed:
                actor.submit(Command(name))

    async def _logs(self, params: LogsParams) -> JsonValue:
        if params.app in self.actors:
            path = self.actors[params.app].output.path
        elif params.app == self.node.id:
            path = own_log_path(self.data_dir)
        else:
            known = ", ".join(sorted(self.actors))
            raise CommandError(
                ErrorCode.UNKNOWN_DEVICE, f"no app {params.app!r} (apps: {known or 'none'})"
            )
        chunk: Chunk
        if params.cursor:
            chunk = await asyncio.to_thread(after, path, params.cursor, params.lines)
        else:
            chunk = await asyncio.to_thread(tail, path, params.lines)
        lines = chunk.lines[-params.lines :]
        size = 0
        kept: list[str] = []
        for line in reversed(lines):
            size += len(line) + 8
            if size > MAX_LOG_RESPONSE:
                break
            kept.append(line)
        kept.reverse()
        return {"app": params.app, "lines": list(kept), "cursor": chunk.cursor}

    async def _shutdown(self, params: ShutdownParams) -> JsonValue:
        running: list[JsonValue] = [
            name for name, actor in self.actors.items() if actor.state is not AppState.STOPPED
        ]
        log.info("shutdown requested over MQTT")
        # After this handler returns, so the answer goes out before the apps stop.
        asyncio.get_running_loop().call_soon(self.shutdown_requested.set)
        return {"stopping": running}
