"""`home.http(request, callback, context)`: an HTTP request to an allowed URL; the answer
comes later as a call of `callback(ev)` with `ev.response` = {status, headers, body,
json} (or `ev.error`) and `ev.args` = context. `request` is a URL or
{url, method, headers, body, json, timeout}."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from roost_event_engine.plugins.base import Plugin, PluginError, PluginHost
from roost_event_engine.plugins.fetch import AllowList, FetchError, fetch

METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"})


class HttpPlugin(Plugin):
    name = "http"
    callback = 1

    def __init__(self, host: PluginHost) -> None:
        super().__init__(host)
        self.allow = AllowList(host.section.http_allow)

    async def call(self, script: str, args: list[Any]) -> None:
        request = self.arg(args, 0)
        callback = self.arg(args, 1)
        context = self.arg(args, 2)
        if isinstance(request, str):
            request = {"url": request}
        if not isinstance(request, dict) or not isinstance(request.get("url"), str):
            raise PluginError("http(request, callback, context): request is a URL or {url, ...}")
        if callback is not None and not isinstance(callback, str):
            raise PluginError("http: callback names a function of the script")
        url: str = request["url"]
        method = str(request.get("method", "GET")).upper()
        if method not in METHODS:
            raise PluginError(f"http: method {method} is not one of {', '.join(sorted(METHODS))}")
        headers = request.get("headers") or {}
        if not isinstance(headers, dict):
            raise PluginError("http: headers must be an object")
        headers = {str(k): str(v) for k, v in headers.items()}
        body: bytes | None = None
        if request.get("json") is not None:
            body = json.dumps(request["json"]).encode()
            headers.setdefault("Content-Type", "application/json")
        elif request.get("body") is not None:
            body = str(request["body"]).encode()
        section = self.host.section
        timeout = min(float(request.get("timeout") or section.http_timeout), section.http_timeout)
        try:
            self.allow.check(url)
        except FetchError as exc:
            raise PluginError(f"http: {exc}") from None
        try:
            reply = await asyncio.to_thread(
                fetch,
                url,
                method=method,
                headers=headers,
                body=body,
                timeout=timeout,
                max_bytes=section.http_max_bytes,
                allow=self.allow,
            )
        except FetchError as exc:
            if callback is None:
                raise PluginError(f"http: {exc}") from None
            self.host.call_script(script, callback, context, "http", {"error": str(exc)})
            return
        if callback is None:
            return
        text = reply.text()
        parsed: Any = None
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = None
        response = {"status": reply.status, "headers": reply.headers, "body": text, "json": parsed}
        self.host.call_script(script, callback, context, "http", {"response": response})
