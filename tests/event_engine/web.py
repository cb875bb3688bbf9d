"""A real HTTP server on 127.0.0.1 for the plugins' tests: answers JSON, records requests."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Seen:
    method: str
    path: str
    body: bytes


@dataclass
class LocalWeb:
    url: str
    requests: asyncio.Queue[Seen] = field(default_factory=asyncio.Queue)


@contextmanager
def local_web() -> Iterator[LocalWeb]:
    loop = asyncio.get_running_loop()
    web = LocalWeb("")

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            loop.call_soon_threadsafe(web.requests.put_nowait, Seen(self.command, self.path, body))
            if self.path.startswith("/redirect"):
                self.send_response(302)
                self.send_header("Location", "http://example.invalid/elsewhere")
                self.end_headers()
                return
            status = 404 if self.path.startswith("/missing") else 200
            payload: dict[str, Any] = {"path": self.path, "temperature": 21.5}
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = _answer
        do_POST = _answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    web.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield web
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
