"""The web UI's view of the broker: a `StateView` kept whole across broker outages.

After a reconnect the broker re-sends every retained message, but it cannot say which
devices vanished while we were away. So the feed builds a fresh mirror from the retained
snapshot, swaps it in and tells its listeners to start over (`on_reset`); in between it
reports the connection state (`on_connection`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from roost.bus import Bus
from roost.errors import BusError
from roost.mirror import Change, StateView

log = logging.getLogger("roost_webui.feed")

ChangeListener = Callable[[Change], None]
ResetListener = Callable[[StateView], None]
ConnectionListener = Callable[[bool], None]


class StateFeed:
    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.view = StateView(bus.topics)
        self.connected = False
        self._on_change: list[ChangeListener] = []
        self._on_reset: list[ResetListener] = []
        self._on_connection: list[ConnectionListener] = []
        self._remove_view_listener: Callable[[], None] | None = None
        self.synced = asyncio.Event()

    def on_change(self, listener: ChangeListener) -> None:
        self._on_change.append(listener)

    def on_reset(self, listener: ResetListener) -> None:
        self._on_reset.append(listener)

    def on_connection(self, listener: ConnectionListener) -> None:
        self._on_connection.append(listener)

    def _fan_out(self, change: Change) -> None:
        for listener in list(self._on_change):
            try:
                listener(change)
            except Exception:
                log.exception("change listener failed on %s", change.ref)

    async def attach(self) -> None:
        self._remove_view_listener = self.view.add_listener(self._fan_out)
        await self.view.attach(self.bus)

    async def run(self) -> None:
        """Follow the connection: on every (re)connect rebuild the mirror and reset."""
        seen_connects = 0
        while True:
            await self.bus.connected.wait()
            if self.bus.connects != seen_connects:
                seen_connects = self.bus.connects
                try:
                    await self._resync(first=seen_connects == 1 and not self.synced.is_set())
                except BusError as exc:
                    log.warning("could not read the retained state: %s", exc)
                    continue
                self._set_connected(True)
            await self._until_disconnected(seen_connects)
            if not self.bus.connected.is_set():
                self._set_connected(False)

    async def _until_disconnected(self, connects: int) -> None:
        if self.bus.connects == connects:
            await self.bus.disconnected.wait()

    async def _resync(self, *, first: bool) -> None:
        if not first:
            # A fresh subscription is what makes the broker send the retained messages
            # again to this mirror only; the old one stops hearing anything first.
            if self._remove_view_listener is not None:
                self._remove_view_listener()
            await self.view.detach()
            self.view = StateView(self.bus.topics)
            self._remove_view_listener = self.view.add_listener(self._fan_out)
            await self.view.attach(self.bus)
        await self.bus.sync()
        self.synced.set()
        for listener in list(self._on_reset):
            try:
                listener(self.view)
            except Exception:
                log.exception("reset listener failed")
        log.info(
            "mirror holds %d nodes, %d devices",
            len(self.view.nodes),
            sum(1 for _ in self.view.devices()),
        )

    def _set_connected(self, connected: bool) -> None:
        if connected == self.connected:
            return
        self.connected = connected
        if connected:
            log.info("connected to the broker")
        else:
            log.warning("lost the broker; showing the last known state as stale")
        for listener in list(self._on_connection):
            try:
                listener(connected)
            except Exception:
                log.exception("connection listener failed")
