"""One actor per app: the only task that starts, watches and stops that app's process.

The actor pursues a goal, up or down, set by commands. It does one action at a time; a
newer command replaces an older one still waiting, and interrupts whatever the actor is
waiting on (a backoff delay before a restart, a health check, the start period, a
dependency), so a stop never waits behind a scheduled restart. Only the stop sequence
itself (signal, grace period, SIGKILL) runs to its end, because the process must be gone
before anything else may happen to the app.

Every state it reports is read from the process as the OS sees it at that moment: the
pidfd says it exited, psutil says what it uses. Transitions follow supervisord: STARTING
becomes RUNNING after `start_secs` alive (or at the first passing health check), a
process that ends on its own is CRASHED and goes to BACKOFF with a growing, capped delay
before the next start; one log line per transition names the app and the reason. A roost
service that exits with the config-error code is FAILED instead, and stays so until a
command: restarting it would fail the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from pydantic import JsonValue

from roost.backoff import Backoff
from roost.device import Device
from roost.errors import CONFIG_ERROR_EXIT
from roost.models import DeviceMeta, PropertySpec
from roost_supervisor.configcheck import error_line
from roost_supervisor.health import HealthCheck
from roost_supervisor.launch import Launch
from roost_supervisor.logfile import OutputLog, tail
from roost_supervisor.process import SIGNALS, AppProcess, Exit, SpawnError, clear_group
from roost_supervisor.runrecords import RunRecord, RunRecords
from roost_supervisor.settings import AppSpec
from roost_supervisor.states import AppState, Command
from roost_supervisor.usage import Usage

log = logging.getLogger("roost_supervisor.actor")

T = TypeVar("T")
# Seconds to wait for the last output of a process to reach its log after it exited.
OUTPUT_DRAIN = 1.0
# Seconds to wait for a transient state to be acknowledged by the broker.
DELIVERY_WAIT = 1.0


def app_meta(name: str, spec: AppSpec, argv: list[str]) -> DeviceMeta:
    model = f"roost {spec.service}" if spec.service else " ".join(argv)[:120]
    return DeviceMeta(
        name=f"App {name}",
        model=model,
        manufacturer="roost supervisor",
        properties={
            "state": PropertySpec(kind="enum", options=[s.value for s in AppState]),
            "pid": PropertySpec(kind="number", precision=0, entity_category="diagnostic"),
            "uptime": PropertySpec(
                kind="number",
                unit="s",
                precision=0,
                device_class="duration",
                deadband=60,
                entity_category="diagnostic",
            ),
            "restarts": PropertySpec(kind="number", precision=0, state_class="total_increasing"),
            "exit_code": PropertySpec(kind="number", precision=0, entity_category="diagnostic"),
            "cpu": PropertySpec(kind="number", unit="%", precision=1, deadband=1.0),
            "rss": PropertySpec(
                kind="number", unit="B", precision=0, device_class="data_size", deadband=1e6
            ),
            "healthy": PropertySpec(kind="switch"),
            "reason": PropertySpec(kind="text", max_length=255),
            "start": PropertySpec(kind="button", icon="mdi:play"),
            "stop": PropertySpec(kind="button", icon="mdi:stop"),
            "restart": PropertySpec(kind="button", icon="mdi:restart"),
        },
    )


class _Interrupted(Exception):
    """A newer command arrived while the actor was waiting."""


class AppActor:
    """Owns one app. `submit()` a command; `run()` is the actor's task."""

    def __init__(
        self,
        name: str,
        spec: AppSpec,
        *,
        device: Device,
        prepare: Callable[[], Launch],
        output: OutputLog,
        records: RunRecords,
        check: HealthCheck | None,
        dependencies: Callable[[], list[AppActor]],
    ) -> None:
        self.name = name
        self.spec = spec
        self.device = device
        self.output = output
        self.check = check
        self._prepare = prepare
        self._records = records
        self._dependencies = dependencies
        # What is reported; every transition is made from what the OS just said.
        self.state = AppState.STOPPED
        self.reason = "not started"
        self.transitions = 0  # none yet: an autostart app has not begun to start
        self.process: AppProcess | None = None  # alive, or ended and not yet handled
        self.restarts = 0
        self.exit: Exit | None = None
        self.healthy: bool | None = None
        self._usage: Usage | None = None
        # What the actor is after, and where it is on the way.
        self._goal_up = False
        self._stop_requested = False
        self._restart_requested = False
        self._count_next_start = False
        self._ready = False
        self._failures = 0
        self._cause = ""
        self._last_run = 0.0  # seconds the last process ran
        self._backoff = Backoff(initial=spec.backoff_initial, maximum=spec.backoff_max)
        # The inbox: one slot, so a newer command replaces an older one.
        self._pending: Command | None = None
        self._waiting = False
        self._activity: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()

    def __repr__(self) -> str:
        return f"AppActor({self.name}, {self.state})"

    # commands ------------------------------------------------------------------------
    def submit(self, command: Command) -> None:
        """Queue a command; it replaces any command not yet taken and interrupts a wait."""
        if self._pending is not None and self._pending is not command:
            log.info("app %s: %s supersedes pending %s", self.name, command, self._pending)
        self._pending = command
        if self._waiting and self._activity is not None and not self._activity.done():
            self._activity.cancel()
        self._notify()

    @property
    def pending(self) -> Command | None:
        return self._pending

    @property
    def goal_up(self) -> bool:
        return self._goal_up

    def _take(self) -> None:
        command, self._pending = self._pending, None
        if command is None:
            return
        log.info("app %s: %s requested (state %s)", self.name, command, self.state)
        alive = self.process is not None and self.process.alive
        if command is Command.STOP:
            self._goal_up = False
            self._stop_requested = True
            self._restart_requested = False
            self._count_next_start = False
            return
        # An explicit start or restart is not a retry: no backoff delay before it.
        self._goal_up = True
        self._failures = 0
        self._backoff.reset()
        if command is Command.RESTART:
            self._restart_requested = alive
            self._count_next_start = True

    # the actor -----------------------------------------------------------------------
    async def run(self) -> None:
        self._goal_up = self.spec.autostart
        self._publish(force=True)
        try:
            while True:
                self._take()
                body = self._keep_up() if self._goal_up else self._keep_down()
                self._activity = asyncio.create_task(body, name=f"app {self.name}")
                await asyncio.wait({self._activity})
                if self._activity.cancelled():
                    continue  # a command interrupted a wait
                error = self._activity.exception()
                if error is not None and not isinstance(error, _Interrupted):
                    log.error("app %s: actor failed", self.name, exc_info=error)
                    self._goal_up = False
                    self._transition(AppState.CRASHED, f"supervisor error: {error}")
                    while self._pending is None:
                        await self.changed()
        finally:
            if self._activity is not None and not self._activity.done():
                self._activity.cancel()
                with contextlib.suppress(asyncio.CancelledError, _Interrupted):
                    await self._activity

    async def _pause(self, awaitable: Awaitable[T]) -> T:
        """Wait for `awaitable`, unless a command arrives first (then _Interrupted)."""
        if self._pending is not None:
            if isinstance(awaitable, Coroutine):
                awaitable.close()
            raise _Interrupted
        self._waiting = True
        try:
            return await awaitable
        finally:
            self._waiting = False

    # goal: up --------------------------------------------------------------------------
    async def _keep_up(self) -> None:
        while True:
            process = self.process
            if process is not None and not process.alive:
                if not await self._after_exit(process, process.exited.result()):
                    return
                continue
            if process is None:
                if not await self._launch_after_backoff():
                    return
                continue
            if self._restart_requested:
                self._restart_requested = False
                await self._terminate("restart requested")
                continue
            if not self._ready:
                await self._become_ready(process)
                continue
            outcome = await self._pause(self._supervise(process))
            if isinstance(outcome, str):
                await self._terminate(f"health check failed: {outcome}")
                self._failed(f"health check failed: {outcome}")

    async def _launch_after_backoff(self) -> bool:
        """Start a process, after the backoff delay if the last one failed; False when
        the actor gives up (`max_retries`)."""
        if self._failures:
            limit = self.spec.max_retries
            if limit is not None and self._failures > limit:
                self._goal_up = False
                self._transition(
                    AppState.CRASHED, f"gave up after {self._failures} failures: {self._cause}"
                )
                return False
            delay = self._backoff.next()
            self._transition(AppState.BACKOFF, f"restart in {delay:.1f} s after: {self._cause}")
            await self._pause(asyncio.sleep(delay))
        await self._start()
        return True

    async def _start(self) -> None:
        for dep in self._dependencies():
            if dep.state is not AppState.RUNNING:
                self._transition(AppState.STARTING, f"waiting for {dep.name}")
                await self._pause(dep.wait_running())
        launch = self._prepare()
        if self._count_next_start:
            self.restarts += 1
            self._count_next_start = False
        self._ready = False
        self._last_run = 0.0
        self.healthy = None
        if self.check is not None:
            self.check.started()
        await self.output.note(f"starting {' '.join(launch.argv)}")
        try:
            process = await AppProcess.spawn(
                launch.argv, env=launch.env, cwd=launch.cwd, output=self.output
            )
        except SpawnError as exc:
            await self.output.note(str(exc))
            self._failed(str(exc), state=AppState.CRASHED)
            await self._delivered()
            return
        self.process = process
        self.exit = None
        record = RunRecord(
            app=self.name, pid=process.pid, create_time=process.create_time, argv=launch.argv
        )
        await asyncio.to_thread(self._records.write, record)
        self._transition(AppState.STARTING, f"started pid {process.pid}")

    async def _become_ready(self, process: AppProcess) -> None:
        """STARTING → RUNNING: alive for `start_secs`, or at the first passing check. An
        exit meanwhile is left for `_keep_up` to handle."""
        if self.check is None:
            remaining = self.spec.start_secs - process.uptime()
            if await self._pause(process.wait(max(remaining, 0.0))) is None:
                self._ready = True
                self._transition(AppState.RUNNING, f"up for {self.spec.start_secs:g} s")
            return
        timeout = max(self.check.spec.start_timeout - process.uptime(), 0.0)
        ready = asyncio.ensure_future(self.check.wait_ready(process))
        either: set[asyncio.Future[Any]] = {ready, process.exited}
        try:
            await self._pause(
                asyncio.wait(either, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            )
        finally:
            if not ready.done():
                ready.cancel()
        if not process.alive:
            return
        if ready.done() and not ready.cancelled() and ready.exception() is None:
            self._ready = True
            self.healthy = True
            self._transition(AppState.RUNNING, ready.result().detail)
            return
        last = await self.check.probe(process)
        reason = (
            f"not ready within {self.check.spec.start_timeout:g} s "
            f"({self.check.describe()}: {last.detail})"
        )
        self.healthy = False
        await self._terminate(reason)
        self._failed(reason)

    async def _supervise(self, process: AppProcess) -> Exit | str:
        """Wait for the process to exit, or to fail its health check `failures` times in
        a row: the exit, or what the last failing check said."""
        if self.check is None:
            return await process.ended()
        spec = self.check.spec
        failures = 0
        while True:
            exit_ = await process.wait(spec.interval)
            if exit_ is not None:
                return exit_
            verdict = await self.check.probe(process)
            if not process.alive:
                continue
            if verdict.ok:
                failures = 0
                self._set_healthy(True)
                continue
            failures += 1
            log.warning(
                "app %s: health check %d/%d failed: %s",
                self.name,
                failures,
                spec.failures,
                verdict.detail,
            )
            self._set_healthy(False)
            if failures >= spec.failures:
                return verdict.detail

    async def _after_exit(self, process: AppProcess, exit_: Exit) -> bool:
        """A process that ended on its own; False when no restart follows."""
        await self._settle(process, exit_)
        if self.spec.service is not None and exit_.code == CONFIG_ERROR_EXIT:
            line = await asyncio.to_thread(self._last_output)
            self._goal_up = False
            self._transition(AppState.FAILED, f"config error: {line}")
            return False
        policy = self.spec.restart
        if policy == "always" or (policy == "on-failure" and not exit_.clean):
            self._failed(exit_.describe(), state=AppState.CRASHED)
            await self._delivered()
            return True
        state = AppState.STOPPED if exit_.clean else AppState.CRASHED
        self._goal_up = False
        self._transition(state, f"{exit_.describe()} (restart policy {policy})")
        return False

    def _failed(self, reason: str, *, state: AppState | None = None) -> None:
        """Count a failed run toward the backoff; a run longer than `reset_after` first
        wipes the count, so a crash after a day of work restarts quickly."""
        if self._last_run >= self.spec.reset_after:
            self._failures = 0
            self._backoff.reset()
        self._failures += 1
        self._count_next_start = True
        self._cause = reason
        if state is not None:
            self._transition(state, reason)

    def _last_output(self) -> str:
        """The last line the app itself wrote (the supervisor's notes left out)."""
        assert self.spec.service is not None
        own = [line for line in tail(self.output.path, 50).lines if not line.startswith("--- ")]
        return error_line("\n".join(own), self.spec.service)

    # goal: down ------------------------------------------------------------------------
    async def _keep_down(self) -> None:
        process = self.process
        if process is not None and process.alive:
            await self._terminate("stop requested")
        elif process is not None:
            await self._settle(process, process.exited.result())
            self._transition(AppState.STOPPED, f"stop requested; {self.exit_text}")
        elif self._stop_requested and self.state is not AppState.STOPPED:
            self._transition(AppState.STOPPED, "stop requested")
        self._stop_requested = False
        await self._pause(asyncio.Event().wait())

    @property
    def exit_text(self) -> str:
        return self.exit.describe() if self.exit is not None else "no exit"

    async def _terminate(self, reason: str) -> None:
        """The stop sequence: not interruptible; it ends with the whole group gone."""
        process = self.process
        if process is None:
            return
        self._transition(AppState.STOPPING, reason)
        exit_ = await process.stop(SIGNALS[self.spec.stop_signal], self.spec.stop_timeout)
        await self._settle(process, exit_)
        self._transition(AppState.STOPPED, f"{reason}; {exit_.describe()}")

    async def _settle(self, process: AppProcess, exit_: Exit) -> None:
        """After an exit: clear the rest of the group, drain the output into the log,
        note the exit there, and forget the run record."""
        self._last_run = process.uptime()
        await clear_group(process.pgid, self.spec.stop_timeout)
        await process.output_done(OUTPUT_DRAIN)
        await self.output.note(f"pid {process.pid} {exit_.describe()}")
        await asyncio.to_thread(self._records.remove, self.name)
        self.process = None
        self.exit = exit_
        self._ready = False
        self.healthy = None
        self._usage = None

    async def kill_now(self) -> None:
        """A forced shutdown: SIGKILL the group without a grace period."""
        process = self.process
        if process is not None and process.alive:
            exit_ = await process.kill()
            await self._settle(process, exit_)
            self._transition(AppState.STOPPED, "killed at forced shutdown")

    # what others wait on -------------------------------------------------------------
    async def changed(self) -> None:
        """Return at the next transition (or command)."""
        await self._changed.wait()

    async def wait_running(self) -> None:
        while self.state is not AppState.RUNNING:
            await self.changed()

    async def wait_settled(self) -> None:
        """Until the app is stopped or crashed with no process left."""
        settled = (AppState.STOPPED, AppState.CRASHED, AppState.FAILED)
        while self.state not in settled or self.process is not None:
            await self.changed()

    # reporting -----------------------------------------------------------------------
    def _transition(self, state: AppState, reason: str) -> None:
        if state is not self.state or reason != self.reason:
            log.info("app %s: %s -> %s (%s)", self.name, self.state, state, reason)
        self.state = state
        self.reason = reason
        self.transitions += 1
        self._publish(force=True)
        self._notify()

    def _notify(self) -> None:
        """Wake whoever waits for a change (each waiter then waits on a fresh event)."""
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def _delivered(self) -> None:
        """Let a short-lived state reach the broker before the next one replaces it (the
        outbox keeps only the newest retained value of a topic): `crashed` must be seen
        even when `backoff` follows at once. Bounded, so a lost broker delays nothing."""
        bus = self.device.node.bus
        if bus.connected.is_set():
            with contextlib.suppress(TimeoutError):
                await bus.flush(DELIVERY_WAIT)

    def _set_healthy(self, healthy: bool) -> None:
        if healthy != self.healthy:
            self.healthy = healthy
            self._publish(force=True)

    def record_usage(self, usage: Usage | None) -> None:
        """A sample from the supervisor's meter (None: the process was not found)."""
        self._usage = usage
        self._publish()

    def _publish(self, *, force: bool = False) -> None:
        process = self.process if self.process is not None and self.process.alive else None
        usage = self._usage if process is not None else None
        values: dict[str, JsonValue] = {
            "state": self.state.value,
            "pid": process.pid if process is not None else None,
            "uptime": round(process.uptime()) if process is not None else None,
            "restarts": self.restarts,
            "exit_code": self.exit.returncode if self.exit is not None else None,
            "cpu": usage.cpu if usage is not None else None,
            "rss": usage.rss if usage is not None else None,
            "healthy": self.healthy if self.check is not None and process is not None else None,
            "reason": self.reason[:255],
        }
        self.device.update(values, force=force)
