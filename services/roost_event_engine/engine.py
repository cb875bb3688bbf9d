"""The engine: turns every change and event on the broker into runs of the user's scripts.

    StateView (node.bus) ──► DeviceTable ──► every worker's mirror (changes only)
            │
            └─ live changes and events ──► EventRing ──► one lane per worker ──► actions
    virtual device commands, timers, schedules, http answers ──┘      (commands, events,
                                                                       timers, plugins)

A lane takes the oldest trigger whose device is not busy, runs it on its worker and then
carries out what the scripts asked for. The engine acts only by sending commands and
events; its own virtual devices change state only after their scripts have had a say.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import JsonValue

from roost.clock import iso
from roost.coerce import coerce_command
from roost.device import Device
from roost.errors import CommandError, ConfigError, ErrorCode
from roost.mirror import Change, ChangeKind, StateView
from roost.node import Node
from roost.topics import NAME
from roost_event_engine.actions import Actions
from roost_event_engine.chains import Chain, ChainTracker, describe
from roost_event_engine.groups import GroupTree
from roost_event_engine.keys import PropertyTable
from roost_event_engine.library import ScriptLibrary
from roost_event_engine.plugins import Plugin
from roost_event_engine.pool import WorkerLost, WorkerPool
from roost_event_engine.repeat import RepeatWindow
from roost_event_engine.ring import EventRing, Trigger
from roost_event_engine.runlog import LogEntry, LogParams, RunLog, clip_lines
from roost_event_engine.scripts import ScriptFolder, seed_examples
from roost_event_engine.settings import EngineSection, Settings
from roost_event_engine.status import ENGINE_DEVICE, ENGINE_META, SCRIPT_ERROR, Rate
from roost_event_engine.table import DeviceTable
from roost_event_engine.timers import Schedules, Timers
from roost_event_engine.virtual import device_meta, initial_values

log = logging.getLogger("roost.event_engine")
script_log = logging.getLogger("roost.event_engine.script")

STATUS_INTERVAL = 2.0
BATCH = 64  # triggers of different devices one lane hands its worker in one round trip
DROP_WARNING_INTERVAL = 10.0


def scripts_dir(settings: Settings) -> Path:
    configured = settings.event_engine.scripts_dir
    return configured if configured is not None else settings.data_path("event-engine", "scripts")


class Engine:
    def __init__(self, settings: Settings, node: Node) -> None:
        self.settings = settings
        self.section: EngineSection = settings.event_engine
        self.node = node
        section = self.section
        self.view = StateView(node.topics, events=True, errors=False, acks=False, stats=False)
        self.table = DeviceTable(PropertyTable(section.history_size, section.history_sizes))
        self.groups = GroupTree(section.groups)
        self.repeat = RepeatWindow(PropertyTable(section.repeat_window, section.repeat_windows))
        self.ring = EventRing(section.queue_size)
        self.runlog = RunLog(section.log_size)
        self.timers = Timers(self._fire)
        self.schedules = Schedules(self._fire, _timezone(section.timezone))
        self.plugins: dict[str, Plugin] = {
            name: cls(self) for name, cls in sorted(Plugin.registry.items())
        }
        self.folder = ScriptFolder(scripts_dir(settings))
        self.pool = WorkerPool(
            section.workers,
            time_limit=section.time_limit,
            memory_mb=section.worker_memory_mb,
            bootstrap=self._bootstrap,
        )
        self.library = ScriptLibrary(
            self.folder,
            self.pool,
            limit=self._backstop,
            report=self._script_error,
            loaded=self._script_loaded,
            removed=self._script_removed,
        )
        self.good = self.library.good
        self.status = self.library.status
        self.errors = 0
        self.incoming = Rate()
        self._last_drop_warning = 0.0
        self._tasks: set[asyncio.Task[Any]] = set()
        self.ready = asyncio.Event()
        self.engine_device = node.add_device(ENGINE_DEVICE, ENGINE_META, on_set=self._on_engine_set)
        self.virtual: dict[str, Device] = {}
        self._initial: dict[str, dict[str, Any]] = {}
        for device_id, config in section.devices.items():
            meta = device_meta(device_id, config)
            try:
                self._initial[device_id] = initial_values(meta, config)
            except ValueError as exc:
                raise ConfigError(f"[event_engine.devices.{device_id}] {exc}") from None
            self.virtual[device_id] = node.add_device(
                device_id, meta, on_set=self._on_virtual_set, restore=True
            )
        self.chains = ChainTracker(section.max_chain)
        self.actions = Actions(
            node,
            self.view,
            self.engine_device,
            self.timers,
            self.plugins,
            report=self._script_error,
            spawn=self._spawn,
            chains=self.chains,
        )
        node.add_method(
            "log",
            self._log_method,
            params=LogParams,
            title="Script history",
            description="The newest processed events: trigger, functions, what they sent, "
            "duration and errors.",
        )
        node.add_method(
            "scripts",
            self._scripts_method,
            title="Scripts",
            description="Every script with its state (ok or the error that keeps its "
            "previous version running), timers and schedules.",
        )

    # life cycle ------------------------------------------------------------------------
    async def attach(self) -> None:
        """Subscribe the mirror; call before the node starts so it is in the first
        connect's subscriptions."""
        await self.view.attach(self.node.bus)
        self.view.add_listener(self._on_change)

    async def run(self) -> None:
        """Serve until cancelled (call inside `async with node`)."""
        await self.node.wait_online()
        await self.node.bus.sync()
        self._apply_initial_values()
        root = self.folder.root
        if self.section.scripts_dir is None and seed_examples(root):
            log.info("no scripts folder yet: copied the examples to %s", root)
        elif not root.is_dir():
            log.warning("scripts folder %s does not exist; waiting for scripts to appear", root)
        self._spawn(self._report(), "status")  # shows workers=0 if they cannot start
        await self.pool.start()
        lanes = [self._spawn(self._lane(slot), f"lane {slot}") for slot in range(self.pool.size)]
        await self.reload()
        self._spawn(self.library.watch(self.section.reload_interval), "watch scripts")
        self._spawn(self.pool.push_deferred(), "push mirror updates")
        self.ready.set()
        log.info(
            "event engine running: %d workers, %d scripts from %s",
            self.pool.size,
            len(self.good),
            root,
        )
        await asyncio.gather(*lanes)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.timers.close()
        self.schedules.close()
        await self.pool.close()
        await self.view.detach()

    def _spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s failed", task.get_name(), exc_info=task.exception())

    def _apply_initial_values(self) -> None:
        for device_id, values in self._initial.items():
            device = self.virtual[device_id]
            missing = {p: v for p, v in values.items() if device.values.get(p) is None}
            if missing:
                device.update(missing, force=True)

    # what the workers are told ---------------------------------------------------------
    def _bootstrap(self) -> list[dict[str, Any]]:
        plugins = [{"name": name, "callback": p.callback} for name, p in self.plugins.items()]
        messages: list[dict[str, Any]] = [
            {
                "op": "init",
                "plugins": plugins,
                "max_actions": self.section.max_actions,
                "time_limit": self.section.time_limit,
            },
            self.groups.message(),
            *self.table.snapshot(),
        ]
        messages += [
            {"op": "load", "path": path, "source": source} for path, source in self.good.items()
        ]
        return messages

    def _on_change(self, change: Change) -> None:
        kind = change.kind
        if kind is ChangeKind.STATE and change.device is not None:
            self._on_state(change)
        elif kind is ChangeKind.EVENT and change.device is not None:
            self._on_event(change)
        elif kind in (ChangeKind.META, ChangeKind.AVAILABILITY) and change.device is not None:
            device = self.view.nodes[change.node].devices.get(change.device)
            if device is not None:
                self.pool.broadcast(self.table.describe(device, self.view.online(device)))
        elif kind is ChangeKind.NODE_AVAILABILITY:
            node = self.view.nodes.get(change.node)
            for device in node.devices.values() if node else ():
                message = self.table.set_online(device.ref, self.view.online(device))
                if message is not None:
                    self.pool.broadcast(message)
        elif kind is ChangeKind.REMOVED:
            self.pool.broadcast(self.table.remove(change.ref))

    def _on_state(self, change: Change) -> None:
        assert change.device is not None
        # Only what can be a property name reaches scripts: a peer's "__proto__" or
        # "a b" names nothing a script can handle, and would reach JS object internals.
        changed = {p: v for p, v in change.changed.items() if NAME.match(p)}
        if not changed:
            return
        device = self.view.nodes[change.node].devices[change.device]
        if change.ref not in self.table.devices:
            self.pool.broadcast(self.table.describe(device, self.view.online(device)))
        ts = device.state.get("ts")
        ts = ts if isinstance(ts, str) else iso()
        values = {prop: new for prop, (_, new) in changed.items()}
        self.pool.broadcast(self.table.record(change.node, change.device, ts, values))
        # Retained copies arrive on every (re)connect: they are the state, not a change.
        # The engine's own devices went through the steps before they were published.
        if change.retained or change.node == self.node.id:
            return
        self.incoming.tick()
        if not self._has_device_handlers(change.node, change.device):
            return
        changes = {p: {"value": new, "previous": old} for p, (old, new) in changed.items()}
        chain = self.chains.of_device(change.ref)
        if self._loop(chain, f"a change of {change.ref}"):
            return
        self._offer(
            Trigger(
                "change",
                key=change.ref,
                seq=self.table.seq,
                ts=ts,
                device=change.ref,
                changes=changes,
                chain=chain,
            )
        )

    def _on_event(self, change: Change) -> None:
        event = change.event
        if change.retained or event is None:
            return
        if change.node == self.node.id and event.event_type == SCRIPT_ERROR:
            return  # a script reacting to its own errors could feed on them forever
        assert change.device is not None
        self.incoming.tick()
        if not (self._has_device_handlers(change.node, change.device) or self._home_scripts()):
            return
        chain = self.chains.of_event(event.id, change.ref)
        if self._loop(chain, f"event {event.event_type} of {change.ref}"):
            return
        self._offer(
            Trigger(
                "event",
                key=change.ref,
                seq=self.table.seq,
                ts=event.ts,
                device=change.ref,
                event=event.model_dump(mode="json", exclude_none=True),
                chain=chain,
            )
        )

    def _loop(self, chain: Chain, what: str) -> bool:
        """True (and reported as a script error) when `chain` is long enough to be a loop."""
        if not self.chains.too_long(chain):
            return False
        script, _, function = chain[-1].partition(":")
        self._script_error(
            script or None,
            function or None,
            f"stopped a loop: {what} was caused by {len(chain)} script actions in a row "
            f"({describe(chain)}); raise [event_engine] max_chain if that is intended",
        )
        return True

    def _offer(self, trigger: Trigger) -> None:
        if self.ring.offer(trigger):
            return
        now = time.monotonic()
        if now - self._last_drop_warning > DROP_WARNING_INTERVAL:
            self._last_drop_warning = now
            log.warning(
                "event buffer full (%d): dropping events (%d dropped so far)",
                self.ring.capacity,
                self.ring.dropped,
            )

    # which scripts apply ---------------------------------------------------------------
    def _device_scripts(self, node: str, device: str) -> list[str]:
        candidates = (f"devices/{device}.js", f"devices/{node}/{device}.js")
        return [path for path in candidates if path in self.good]

    def _group_chain(self, node: str, device: str) -> list[dict[str, str | None]]:
        out: list[dict[str, str | None]] = []
        for name in self.groups.chain(node, device):
            path = f"groups/{name}.js"
            out.append({"name": name, "script": path if path in self.good else None})
        return out

    def _home_scripts(self) -> list[str]:
        return sorted(path for path in self.good if "/" not in path)

    def _has_device_handlers(self, node: str, device: str) -> bool:
        if self._device_scripts(node, device):
            return True
        return any(g["script"] for g in self._group_chain(node, device))

    # virtual devices ---------------------------------------------------------------------
    async def _on_virtual_set(
        self, device: Device, values: dict[str, JsonValue]
    ) -> dict[str, JsonValue]:
        ref = f"{self.node.id}/{device.id}"
        changes = {p: {"value": v, "previous": device.values.get(p)} for p, v in values.items()}
        answer: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.incoming.tick()
        chain = self.chains.of_device(ref)
        if self._loop(chain, f"a command to {ref}"):
            raise CommandError(ErrorCode.FAILED, "refused: a loop of scripts' own commands")
        await self.ring.put(
            Trigger(
                "set",
                key=ref,
                seq=self.table.seq,
                ts=iso(),
                device=ref,
                changes=changes,
                answer=answer,
                chain=chain,
            )
        )
        outcome = await answer
        accepted: dict[str, JsonValue] = outcome["accepted"]
        if accepted or not values:
            return accepted
        reasons = outcome.get("reasons") or ["refused by the scripts"]
        raise CommandError(ErrorCode.FAILED, "; ".join(reasons), prop=next(iter(values)))

    async def _on_engine_set(
        self, device: Device, values: dict[str, JsonValue]
    ) -> dict[str, JsonValue]:
        if values.get("reload"):
            await self.reload()
        return {}

    # lanes ---------------------------------------------------------------------------------
    async def _lane(self, slot: int) -> None:
        while True:
            triggers = await self.ring.take_many(BATCH)
            try:
                await self._process(slot, triggers)
            except Exception as exc:
                log.exception("processing %d triggers failed", len(triggers))
                for trigger in triggers:
                    if trigger.answer is not None and not trigger.answer.done():
                        trigger.answer.set_exception(exc)
            finally:
                for trigger in triggers:
                    if trigger.answer is not None and not trigger.answer.done():
                        trigger.answer.set_result({"accepted": {}, "reasons": ["not processed"]})
                    self.ring.done(trigger)

    def _job(self, trigger: Trigger) -> dict[str, Any] | None:
        base = {"seq": trigger.seq, "ts": trigger.ts}
        if trigger.kind == "call":
            return {
                **base,
                **trigger.extra,
                "kind": "call",
                "trigger": trigger.reason,
                "script": trigger.script,
                "function": trigger.function,
                "args": trigger.args,
                "optional": trigger.optional,
            }
        assert trigger.device is not None
        node, _, device = trigger.device.partition("/")
        job: dict[str, Any] = {
            **base,
            "kind": trigger.kind,
            "trigger": trigger.kind,
            "device": trigger.device,
            "scripts": self._device_scripts(node, device),
            "groups": self._group_chain(node, device),
        }
        if trigger.kind == "event":
            job["event"] = trigger.event
            job["home"] = self._home_scripts()
            return job
        props = self.repeat.admit(node, device, list(trigger.changes), trigger.arrived)
        if not props:
            return None
        job["virtual"] = trigger.kind == "set"
        job["changes"] = {p: trigger.changes[p] for p in props}
        trigger.changes = job["changes"]
        return job

    def _prepare(self, trigger: Trigger) -> dict[str, Any] | None:
        """The job for a worker, or None when no script needs to run (the trigger is
        settled here)."""
        skipped = sorted(trigger.changes)
        job = self._job(trigger)
        if job is None:
            if trigger.answer is not None:
                reason = f"{', '.join(skipped)}: a repeat inside its repeat window"
                trigger.answer.set_result({"accepted": {}, "reasons": [reason]})
            return None
        has_scripts = bool(
            job.get("scripts")
            or any(g["script"] for g in job.get("groups", []))
            or job.get("home")
            or job["kind"] == "call"
        )
        if not has_scripts:
            if job["kind"] == "set":
                accepted = {p: c["value"] for p, c in job["changes"].items()}
                self._answer(trigger, {"accepted": accepted})
            return None
        return job

    async def _process(self, slot: int, triggers: list[Trigger]) -> None:
        """Run the triggers' jobs on the slot's worker in one round trip. After an
        overrun the jobs behind it run on the replacement worker."""
        work = [(t, job) for t in triggers if (job := self._prepare(t)) is not None]
        while work:
            worker = await self.pool.worker(slot)
            started = time.perf_counter()
            try:
                answer = await worker.request(
                    {"op": "batch", "jobs": [job for _, job in work]},
                    self._backstop() * len(work),
                )
                results: list[dict[str, Any]] = answer["results"]
            except WorkerLost as exc:
                self.pool.replace(worker)
                lost = {"errors": [{"script": None, "function": None, "message": str(exc)}]}
                results = [lost] * len(work)
            elapsed = (time.perf_counter() - started) * 1000 / max(len(results), 1)
            for (trigger, job), reply in zip(work, results, strict=False):
                if reply.get("timeout"):
                    self.pool.replace(worker)
                self._finish(slot, trigger, job, reply, elapsed)
            work = work[len(results) :]

    def _finish(
        self,
        slot: int,
        trigger: Trigger,
        job: dict[str, Any],
        reply: dict[str, Any],
        elapsed_ms: float,
    ) -> None:
        if reply.get("timeout"):
            current = reply.get("current")
            script, _, function = (current or "?:?").partition(":")
            message = (
                f"{current or 'a script'} ran longer than {self.section.time_limit:g} s: "
                "stopped, its worker killed and replaced"
            )
            duration = reply.get("duration_ms", elapsed_ms)
            reply = {
                "errors": [{"script": script, "function": function, "message": message}],
                "duration_ms": duration,
            }
            self._script_error(script, function, message, timeout=True)
        else:
            for error in reply.get("errors", []):
                self._script_error(error.get("script"), error.get("function"), error["message"])
        sent = self.actions.carry_out(reply.get("actions", []), trigger.chain)
        for line in reply.get("logs", []):
            script_log.info("%s: %s", line.get("source") or line.get("script"), line["message"])
        if job["kind"] == "set":
            self._answer(trigger, reply)
        errors = reply.get("errors", [])
        functions = reply.get("functions", [])
        if not (functions or errors or reply.get("vetoed") or reply.get("stopped")):
            return  # no script had a function for it: nothing worth a log entry
        self.runlog.add(
            LogEntry.model_construct(  # built from our own reply: no need to validate again
                ts=iso(),
                trigger=trigger.describe(),
                functions=functions,
                sent=sent,
                duration_ms=round(reply.get("duration_ms", elapsed_ms), 3),
                error=_error_text(errors[0]) if errors else None,
                errors=errors,
                logs=clip_lines(
                    [
                        f"{line.get('source') or line.get('script')}: {line['message']}"
                        for line in reply.get("logs", [])
                    ]
                ),
                stopped=reply.get("stopped"),
                vetoed=reply.get("vetoed") or {},
                worker=slot,
            )
        )

    def _backstop(self) -> float:
        # The worker stops an overrun itself at the limit; this catches a worker that
        # cannot answer at all (stuck outside JavaScript, or behind a slow script load).
        return self.section.time_limit * 2 + 2.0

    def _answer(self, trigger: Trigger, reply: dict[str, Any]) -> None:
        """Validate what the steps left of a virtual device command and hand it back."""
        if trigger.answer is None or trigger.answer.done():
            return
        assert trigger.device is not None
        device = self.virtual[trigger.device.partition("/")[2]]
        accepted: dict[str, JsonValue] = {}
        reasons = []
        for prop, value in (reply.get("accepted") or {}).items():
            try:
                accepted[prop] = coerce_command(prop, device.meta.properties[prop], value)
            except (CommandError, KeyError) as exc:
                message = exc.message if isinstance(exc, CommandError) else str(exc)
                reasons.append(f"the scripts changed {prop} to an invalid value: {message}")
        for prop, where in (reply.get("vetoed") or {}).items():
            reasons.append(f"{prop} vetoed by {where}")
        if reply.get("stopped"):
            reasons.append(f"stopped by {reply['stopped']}")
        if reply.get("errors") and not accepted:
            reasons.append(_error_text(reply["errors"][0]))
        trigger.answer.set_result({"accepted": accepted, "reasons": reasons})

    def _script_error(
        self, script: str | None, function: str | None, message: str, *, timeout: bool = False
    ) -> None:
        self.errors += 1
        self.node.count_error()
        where = ":".join(part for part in (script, function) if part) or "scripts"
        log.warning("script error in %s: %s", where, message)
        self.engine_device.emit(
            SCRIPT_ERROR, {"script": script, "function": function, "message": message}
        )
        if timeout:
            self.node.publish_error(ENGINE_DEVICE, ErrorCode.TIMEOUT, message)

    # what plugins and timers use -------------------------------------------------------------
    def call_script(
        self, script: str, function: str, args: Any, reason: str, extra: dict[str, Any]
    ) -> None:
        trigger = Trigger(
            "call",
            key=f"script:{script}",
            seq=self.table.seq,
            ts=iso(),
            script=script,
            function=function,
            args=args,
            reason=reason,
            extra=extra,
        )
        self._spawn(self.ring.put(trigger), f"queue {reason} {script}:{function}")

    def _fire(self, script: str, function: str, args: Any, reason: str) -> None:
        if script not in self.good:
            return
        self.call_script(script, function, args, reason, {})

    def engine_event(self, kind: str, data: dict[str, Any]) -> None:
        self.engine_device.emit(kind, data)

    # scripts -------------------------------------------------------------------------------
    async def reload(self) -> None:
        await self.library.reload()

    async def _script_loaded(self, path: str) -> None:
        self.schedules.clear(path)  # its onstart makes them again
        await self.ring.put(
            Trigger(
                "call",
                key=f"script:{path}",
                seq=self.table.seq,
                ts=iso(),
                script=path,
                function="onstart",
                reason="start",
                optional=True,
            )
        )

    def _script_removed(self, path: str) -> None:
        self.timers.clear(path)
        self.schedules.clear(path)

    # status and methods ------------------------------------------------------------------------
    async def _report(self) -> None:
        while True:
            self.publish_status()
            await asyncio.sleep(STATUS_INTERVAL)

    def publish_status(self) -> None:
        self.engine_device.update(
            events_per_s=self.incoming.read(),
            queue=len(self.ring),
            dropped=self.ring.dropped,
            errors=self.errors,
            workers=self.pool.alive,
            restarts=self.pool.restarts,
            scripts=len(self.good),
            broken_scripts=self.library.broken,
        )

    async def _log_method(self, params: LogParams) -> JsonValue:
        entries, more = self.runlog.query(params, self.node.answer_budget())
        if more is None:
            return {"entries": entries}
        return {"entries": entries, "next": more}

    async def _scripts_method(self, params: Any) -> JsonValue:
        return {
            "dir": str(self.folder.root),
            "scripts": self.library.wire(),
            "timers": [f"{s}:{n}" for s, n in self.timers.pending()],
            "schedules": {
                f"{s}:{n}": e for (s, n), e in sorted(self.schedules.expressions.items())
            },
        }


def _error_text(error: dict[str, Any]) -> str:
    where = ":".join(str(p) for p in (error.get("script"), error.get("function")) if p)
    return f"{where}: {error['message']}" if where else str(error["message"])


def _timezone(name: str | None) -> ZoneInfo | None:
    if name is None:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"[event_engine] timezone {name!r} is not a known time zone") from None


__all__ = ["Engine", "scripts_dir"]
