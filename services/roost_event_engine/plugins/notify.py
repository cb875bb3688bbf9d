"""`home.notify(message, {title, priority, tags})`: a notification for people.

It is published as a `notification` event on the engine's device (Home Assistant shows
it as an event entity; Node-RED or an automation there forwards it to phones), and POSTed
as JSON to every URL in `[event_engine] notify_urls` (ntfy, Gotify, a webhook)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from roost_event_engine.plugins.base import Plugin, PluginError
from roost_event_engine.plugins.fetch import FetchError, fetch

PRIORITIES = ("min", "low", "default", "high", "urgent")
MAX_MESSAGE = 4096


class NotifyPlugin(Plugin):
    name = "notify"

    async def call(self, script: str, args: list[Any]) -> None:
        message = self.arg(args, 0)
        options = self.arg(args, 1, {})
        if not isinstance(message, str) or not message:
            raise PluginError("notify(message, options): message must be non-empty text")
        if not isinstance(options, dict):
            raise PluginError("notify: options must be an object like {title: '…'}")
        priority = options.get("priority", "default")
        if priority not in PRIORITIES:
            raise PluginError(f"notify: priority must be one of {', '.join(PRIORITIES)}")
        tags = options.get("tags") or []
        if not isinstance(tags, list):
            raise PluginError("notify: tags must be a list")
        note = {
            "message": message[:MAX_MESSAGE],
            "title": str(options["title"]) if options.get("title") else None,
            "priority": priority,
            "tags": [str(t) for t in tags],
            "script": script,
        }
        self.host.engine_event("notification", note)
        section = self.host.section
        failures = []
        for url in section.notify_urls:
            try:
                reply = await asyncio.to_thread(
                    fetch,
                    url,
                    method="POST",
                    headers={"Content-Type": "application/json"},
                    body=json.dumps(note).encode(),
                    timeout=section.http_timeout,
                    max_bytes=section.http_max_bytes,
                    allow=None,
                )
            except FetchError as exc:
                failures.append(str(exc))
                continue
            if reply.status >= 300:
                failures.append(f"POST {url}: HTTP {reply.status}")
        if failures:
            raise PluginError("notify: " + "; ".join(failures))
