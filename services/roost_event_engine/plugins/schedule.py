"""`home.schedule(cron, name, args)` and `home.unschedule(name)`: call a function of the
script on a cron expression (`"0 7 * * 1-5"`, `"*/10 * * * *"`), in the engine's time
zone. Make schedules in `onstart()`: they are cleared when the script reloads."""

from __future__ import annotations

from typing import Any

from roost_event_engine.plugins.base import Plugin, PluginError


class SchedulePlugin(Plugin):
    name = "schedule"
    callback = 1

    async def call(self, script: str, args: list[Any]) -> None:
        expression = self.arg(args, 0)
        name = self.arg(args, 1)
        if not isinstance(name, str) or not name:
            raise PluginError("schedule(cron, name, args): name the function to call")
        try:
            self.host.schedules.add(script, expression, name, self.arg(args, 2))
        except ValueError as exc:
            raise PluginError(str(exc)) from None


class UnschedulePlugin(Plugin):
    name = "unschedule"

    async def call(self, script: str, args: list[Any]) -> None:
        name = self.arg(args, 0)
        if not isinstance(name, str):
            raise PluginError("unschedule(name): name the schedule's function")
        self.host.schedules.remove(script, name)
