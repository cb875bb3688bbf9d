"""The latest bytes of every `image` property (camera snapshots), read from their retained
blob topics, so the page can show them and refresh them when a new one arrives."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from roost.bus import Bus, Subscription
from roost.message import Message
from roost.mirror import Change, ChangeKind, DeviceView, StateView
from roost.models import PropertyKind

log = logging.getLogger("roost_webui.blobs")

BlobListener = Callable[[str, str, "Blob"], None]


@dataclass(frozen=True)
class Blob:
    data: bytes
    version: int
    etag: str
    content_type: str
    received: float


def sniff(data: bytes) -> str:
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    return "application/octet-stream"


def image_props(device: DeviceView) -> list[str]:
    if device.meta is None:
        return []
    return [p for p, s in device.meta.properties.items() if s.kind is PropertyKind.IMAGE]


class BlobCache:
    def __init__(self, bus: Bus, view: Callable[[], StateView]) -> None:
        self.bus = bus
        self._view = view
        self.blobs: dict[tuple[str, str], Blob] = {}
        self._subs: dict[tuple[str, str], Subscription] = {}
        self._listeners: list[BlobListener] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._versions = 0

    def on_blob(self, listener: BlobListener) -> None:
        self._listeners.append(listener)

    def versions(self) -> dict[str, int]:
        """`node/device/prop` → the version of the picture held now."""
        return {f"{ref}/{prop}": blob.version for (ref, prop), blob in self.blobs.items()}

    def get(self, ref: str, prop: str) -> Blob | None:
        return self.blobs.get((ref, prop))

    # following the mirror ----------------------------------------------------------------
    def on_change(self, change: Change) -> None:
        if change.device is None:
            return
        if change.kind is ChangeKind.REMOVED:
            for key in [k for k in self._subs if k[0] == change.ref]:
                self._drop(key)
        elif change.kind is ChangeKind.META:
            try:
                device = self._view().device(change.ref)
            except KeyError:
                return
            self._spawn(self._follow(device.node, device.id, image_props(device)))

    def reset(self, view: StateView) -> None:
        wanted = {(d.ref, p) for d in view.devices() for p in image_props(d)}
        for key in [k for k in self._subs if k not in wanted]:
            self._drop(key)
        for device in view.devices():
            props = image_props(device)
            if props:
                self._spawn(self._follow(device.node, device.id, props))

    async def _follow(self, node: str, device_id: str, props: list[str]) -> None:
        ref = f"{node}/{device_id}"
        for prop in props:
            key = (ref, prop)
            if key in self._subs:
                continue
            topic = self.bus.topics.blob(node, device_id, prop)
            self._subs[key] = await self.bus.subscribe(
                topic, functools.partial(self._on_message, key), qos=0
            )

    def _drop(self, key: tuple[str, str]) -> None:
        sub = self._subs.pop(key, None)
        self.blobs.pop(key, None)
        if sub is not None:
            self._spawn(sub.remove())

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_message(self, key: tuple[str, str], message: Message) -> None:
        if not message.payload:
            self.blobs.pop(key, None)
            return
        etag = hashlib.blake2b(message.payload, digest_size=12).hexdigest()
        old = self.blobs.get(key)
        if old is not None and old.etag == etag:
            return  # the same picture again (a reconnect re-sends what is retained)
        self._versions += 1
        blob = Blob(
            message.payload,
            self._versions,
            etag,
            sniff(message.payload),
            asyncio.get_running_loop().time(),
        )
        self.blobs[key] = blob
        for listener in list(self._listeners):
            try:
                listener(key[0], key[1], blob)
            except Exception:
                log.exception("blob listener failed on %s", key)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
