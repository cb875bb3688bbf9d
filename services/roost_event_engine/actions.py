"""Carrying out what scripts asked for: commands, events, timers and plugin calls.

Every action is checked before anything goes on the broker; a bad one becomes a script
error naming the function that asked for it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from roost.client import prepare_command
from roost.device import Device
from roost.errors import CommandError
from roost.mirror import StateView
from roost.node import Node
from roost_event_engine.chains import Chain, ChainTracker
from roost_event_engine.library import ReportError
from roost_event_engine.plugins import Plugin, PluginError
from roost_event_engine.timers import Timers

log = logging.getLogger("roost.event_engine.actions")

Spawn = Callable[[Coroutine[Any, Any, None], str], Any]


class Actions:
    def __init__(
        self,
        node: Node,
        view: StateView,
        engine_device: Device,
        timers: Timers,
        plugins: dict[str, Plugin],
        *,
        report: ReportError,
        spawn: Spawn,
        chains: ChainTracker,
    ) -> None:
        self._node = node
        self._view = view
        self._engine_device = engine_device
        self._timers = timers
        self._plugins = plugins
        self._report = report
        self._spawn = spawn
        self._chains = chains

    def carry_out(self, actions: list[dict[str, Any]], chain: Chain = ()) -> list[dict[str, Any]]:
        """Carry out a run's actions in order; what was sent, for the history log. `chain`
        is the trigger's: what the actions cause carries it one link longer."""
        sent: list[dict[str, Any]] = []
        for action in actions:
            source = action.get("source") or ""
            script, _, function = source.partition(":")
            kind = action.get("type")
            cause = (*chain, source or "?")
            try:
                if kind == "set":
                    self._command(action["device"], action["values"])
                    self._chains.commanded(action["device"], cause)
                    sent.append({"set": action["device"], "values": action["values"]})
                elif kind == "emit":
                    event_id = self._engine_device.emit(action["kind"], action.get("data") or {})
                    self._chains.emitted(event_id, cause)
                    sent.append({"emit": action["kind"], "data": action.get("data") or {}})
                elif kind == "after":
                    self._timers.after(
                        action["script"], action["seconds"], action["name"], action.get("args")
                    )
                    sent.append({"after": action["seconds"], "function": action["name"]})
                elif kind == "cancel":
                    self._timers.cancel(action["script"], action["name"])
                    sent.append({"cancel": action["name"]})
                elif kind == "plugin":
                    self._plugin(action, script, function)
                    sent.append({"plugin": action["plugin"], "args": action.get("args", [])})
            except PluginError as exc:
                self._report(script, function, str(exc))
            except (ValueError, KeyError, TypeError) as exc:
                self._report(script, function, f"{kind}: {exc}")
        return sent

    def _command(self, ref: str, values: dict[str, Any]) -> None:
        """Checked as the owner would check it (roost.client), then sent without an id and
        without waiting: a script's run never blocks on a device."""
        try:
            device = self._view.device(ref)
        except KeyError:
            raise PluginError(f"home.set: no device {ref}") from None
        try:
            prepared = prepare_command(device, values)
        except CommandError as exc:
            raise PluginError(f"home.set {ref}: {exc.message}") from None
        topic = self._node.topics.set(device.node, device.id)
        if not self._node.bus.publish_nowait(topic, prepared.values):
            raise PluginError(f"home.set {ref}: the outbox is full; command dropped")

    def _plugin(self, action: dict[str, Any], script: str, function: str) -> None:
        plugin = self._plugins.get(action["plugin"])
        if plugin is None:
            raise PluginError(f"no plugin {action['plugin']}")
        args = action.get("args") or []

        async def call() -> None:
            try:
                await plugin.call(action.get("script") or script, list(args))
            except PluginError as exc:
                self._report(script, function, str(exc))
            except Exception as exc:
                log.exception("plugin %s failed", plugin.name)
                self._report(script, function, f"{plugin.name}: {exc}")

        self._spawn(call(), f"plugin {plugin.name}")
