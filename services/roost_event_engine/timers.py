"""Named timers (`home.after`) and cron schedules (the `schedule` plugin).

Both belong to a script and call one of its functions by name. A timer with the name of
a pending one replaces it, so `home.after(300, "lights_off")` on every motion keeps the
lights on until five quiet minutes have passed. Schedules follow cron expressions in the
engine's time zone; they are cleared when their script reloads (its `onstart` makes them
again) or goes away.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, tzinfo
from typing import Any

from croniter import CroniterBadCronError, croniter

log = logging.getLogger("roost.event_engine.timers")

Fire = Callable[[str, str, Any, str], None]  # script, function, args, reason
MAX_TIMER_SECONDS = 366 * 24 * 3600


class Timers:
    def __init__(self, fire: Fire) -> None:
        self._fire = fire
        self._pending: dict[tuple[str, str], asyncio.TimerHandle] = {}

    def after(self, script: str, seconds: float, name: str, args: Any) -> None:
        if seconds > MAX_TIMER_SECONDS:
            raise ValueError(f"home.after: {seconds:g} s is more than a year")
        self.cancel(script, name)
        loop = asyncio.get_running_loop()
        key = (script, name)
        self._pending[key] = loop.call_later(seconds, self._due, key, args)

    def _due(self, key: tuple[str, str], args: Any) -> None:
        self._pending.pop(key, None)
        self._fire(key[0], key[1], args, "timer")

    def cancel(self, script: str, name: str) -> bool:
        handle = self._pending.pop((script, name), None)
        if handle is None:
            return False
        handle.cancel()
        return True

    def clear(self, script: str) -> None:
        for key in [k for k in self._pending if k[0] == script]:
            self._pending.pop(key).cancel()

    def pending(self) -> list[tuple[str, str]]:
        return sorted(self._pending)

    def close(self) -> None:
        for handle in self._pending.values():
            handle.cancel()
        self._pending.clear()


class Schedules:
    def __init__(self, fire: Fire, timezone: tzinfo | None) -> None:
        self._fire = fire
        self._tz = timezone
        self._tasks: dict[tuple[str, str], asyncio.Task[None]] = {}
        self.expressions: dict[tuple[str, str], str] = {}

    def add(self, script: str, expression: str, name: str, args: Any) -> None:
        if not isinstance(expression, str) or not croniter.is_valid(expression):
            raise ValueError(f"schedule: {expression!r} is not a cron expression")
        try:
            croniter(expression, self._now())
        except (CroniterBadCronError, ValueError) as exc:
            raise ValueError(f"schedule: {expression!r}: {exc}") from None
        self.remove(script, name)
        key = (script, name)
        self.expressions[key] = expression
        self._tasks[key] = asyncio.create_task(
            self._run(key, expression, args), name=f"schedule {script}:{name}"
        )

    def _now(self) -> datetime:
        return datetime.now(self._tz).astimezone(self._tz)

    async def _run(self, key: tuple[str, str], expression: str, args: Any) -> None:
        schedule = croniter(expression, self._now())
        while True:
            due: datetime = schedule.get_next(datetime)
            # Sleep on the wall clock in short steps, so a clock change or a suspended
            # machine does not leave the schedule far behind.
            while True:
                wait = (due - self._now()).total_seconds()
                if wait <= 0:
                    break
                await asyncio.sleep(min(wait, 60.0))
            log.debug("schedule %s:%s (%s) due at %s", key[0], key[1], expression, due)
            self._fire(key[0], key[1], args, "schedule")

    def remove(self, script: str, name: str) -> bool:
        task = self._tasks.pop((script, name), None)
        self.expressions.pop((script, name), None)
        if task is None:
            return False
        task.cancel()
        return True

    def clear(self, script: str) -> None:
        for key in [k for k in self._tasks if k[0] == script]:
            self.remove(*key)

    def close(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        self._tasks.clear()
        self.expressions.clear()
