"""The WebSocket feed to browsers: a snapshot on connect, then every change as it happens.

Each change is encoded once and queued to every open page. A page that cannot keep up
(its queue fills) is disconnected; it reconnects and starts again from a fresh snapshot,
which is cheaper than buffering without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from roost.mirror import Change, ChangeKind, StateView
from roost_webui import wire
from roost_webui.blobs import Blob
from roost_webui.recent import EventEntry

log = logging.getLogger("roost_webui.live")

CLOSE_TOO_SLOW = 4008
CLOSE_SHUTDOWN = 1001


MAX_QUEUED_BYTES = 8 * 1024 * 1024


class LiveClient:
    """What waits to go to one page: at most `size` messages and `max_bytes` of them (a
    few large states must not hold megabytes per page); past either, the page is told
    to start again."""

    def __init__(self, size: int, max_bytes: int = MAX_QUEUED_BYTES) -> None:
        self.queue: asyncio.Queue[str | None] = asyncio.Queue(size)
        self.overflowed = False
        self.close_code = CLOSE_SHUTDOWN
        self.queued_bytes = 0
        self.max_bytes = max_bytes

    async def get(self) -> str | None:
        text = await self.queue.get()
        if text is not None:
            self.queued_bytes -= len(text)
        return text

    def put(self, text: str | None) -> None:
        if self.overflowed:
            return
        try:
            if text is not None and self.queued_bytes + len(text) > self.max_bytes:
                raise asyncio.QueueFull
            self.queue.put_nowait(text)
            if text is not None:
                self.queued_bytes += len(text)
        except asyncio.QueueFull:
            self.overflowed = True
            self.close_code = CLOSE_TOO_SLOW
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
            self.queue.put_nowait(None)

    def put_final(self) -> None:
        """Wake the sender so it ends."""
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(None)
            return
        with contextlib.suppress(asyncio.QueueEmpty):
            self.queue.get_nowait()
        self.queue.put_nowait(None)


class LiveHub:
    def __init__(
        self,
        view: Callable[[], StateView],
        queue_size: int,
        blob_versions: Callable[[], dict[str, int]],
    ) -> None:
        self._view = view
        self._blob_versions = blob_versions
        self.queue_size = queue_size
        self.clients: set[LiveClient] = set()
        self.broker_connected = False
        self.sent = 0

    # what goes out -----------------------------------------------------------------------
    def broadcast(self, message: dict[str, Any]) -> None:
        if not self.clients:
            return
        text = wire.text(message)
        for client in list(self.clients):
            client.put(text)
        self.sent += 1

    def snapshot(self) -> dict[str, Any]:
        return {
            "type": "snapshot",
            "broker": self.broker_connected,
            **wire.snapshot_json(self._view()),
            "blobs": self._blob_versions(),
        }

    def on_change(self, change: Change) -> None:
        view = self._view()
        kind = change.kind
        if kind in (ChangeKind.INFO, ChangeKind.NODE_AVAILABILITY, ChangeKind.STATS):
            node = view.nodes.get(change.node)
            if node is not None:
                self.broadcast({"type": "node", "node": wire.node_json(node)})
            return
        if change.device is None:
            return
        if kind is ChangeKind.REMOVED:
            self.broadcast({"type": "removed", "ref": change.ref})
            return
        try:
            device = view.device(change.ref)
        except KeyError:
            return
        if kind is ChangeKind.STATE:
            self.broadcast({"type": "state", "ref": change.ref, "state": device.state})
        elif kind in (ChangeKind.META, ChangeKind.AVAILABILITY):
            self.broadcast({"type": "device", "device": wire.device_json(view, device)})
        elif kind is ChangeKind.ERROR and change.error is not None:
            self.broadcast(
                {"type": "error", "ref": change.ref, "error": wire.error_json(change.error)}
            )

    def on_event(self, ref: str, entry: EventEntry) -> None:
        self.broadcast({"type": "event", "ref": ref, "event": entry.json()})

    def on_blob(self, ref: str, prop: str, blob: Blob) -> None:
        self.broadcast({"type": "blob", "ref": ref, "prop": prop, "version": blob.version})

    def on_reset(self, view: StateView) -> None:
        if self.clients:
            text = wire.text(self.snapshot())
            for client in list(self.clients):
                client.put(text)

    def on_connection(self, connected: bool) -> None:
        self.broker_connected = connected
        self.broadcast({"type": "broker", "connected": connected})

    def close_all(self) -> None:
        for client in list(self.clients):
            client.put_final()

    # one page --------------------------------------------------------------------------------
    async def serve(self, websocket: WebSocket) -> None:
        await websocket.accept()
        client = LiveClient(self.queue_size)
        self.clients.add(client)
        receiver = asyncio.create_task(self._receive(websocket, client))
        try:
            await websocket.send_text(wire.text(self.snapshot()))
            while True:
                text = await client.get()
                if text is None:
                    break
                await websocket.send_text(text)
            if client.overflowed:
                log.warning("a page fell %d messages behind; asking it to reload", self.queue_size)
            with contextlib.suppress(Exception):
                await websocket.close(client.close_code)
        except (WebSocketDisconnect, RuntimeError, OSError):
            pass
        finally:
            self.clients.discard(client)
            receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await receiver

    async def _receive(self, websocket: WebSocket, client: LiveClient) -> None:
        """Read (and ignore) what the page sends, to notice when it goes away."""
        try:
            while True:
                await websocket.receive_text()
        except (WebSocketDisconnect, RuntimeError, OSError):
            pass
        finally:
            client.put_final()
