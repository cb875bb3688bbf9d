"""The scripts the VMs run: loading a changed file into every worker, keeping the
previous version when the new one fails, and what each script's state is."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pydantic import JsonValue

from roost.clock import iso
from roost_event_engine.pool import WorkerPool
from roost_event_engine.scripts import ScriptFolder, place

log = logging.getLogger("roost.event_engine.library")
script_log = logging.getLogger("roost.event_engine.script")

ReportError = Callable[[str | None, str | None, str], None]


@dataclass
class ScriptStatus:
    path: str
    role: str
    target: str
    state: str  # ok, error
    error: str | None = None
    loaded: str | None = None

    def wire(self) -> dict[str, JsonValue]:
        return {
            "path": self.path,
            "role": self.role,
            "target": self.target,
            "state": self.state,
            "error": self.error,
            "loaded": self.loaded,
        }


class ScriptLibrary:
    """`good` holds the source every VM runs for each path; a new worker is loaded
    from it. `loaded(path)` and `removed(path)` tell the engine."""

    def __init__(
        self,
        folder: ScriptFolder,
        pool: WorkerPool,
        *,
        limit: Callable[[], float],
        report: ReportError,
        loaded: Callable[[str], Awaitable[None]],
        removed: Callable[[str], None],
    ) -> None:
        self.folder = folder
        self.pool = pool
        self.good: dict[str, str] = {}
        self.status: dict[str, ScriptStatus] = {}
        self._limit = limit
        self._report = report
        self._loaded = loaded
        self._removed = removed
        self._lock = asyncio.Lock()

    async def watch(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.reload()
            except Exception:
                log.exception("reloading scripts failed")

    async def reload(self) -> None:
        """Load what changed in the scripts folder since the last look."""
        async with self._lock:
            for change in await asyncio.to_thread(self.folder.scan):
                if change.error is not None:
                    self._set_status(change.path, "error", change.error)
                    self._report(change.path, None, change.error)
                elif change.source is None:
                    self._unload(change.path)
                else:
                    await self._load(change.path, change.source)

    @property
    def broken(self) -> int:
        return sum(1 for s in self.status.values() if s.state == "error")

    def _set_status(self, path: str, state: str, error: str | None) -> None:
        placement = place(path)
        assert placement is not None
        old = self.status.get(path)
        self.status[path] = ScriptStatus(
            path,
            placement.role.value,
            placement.target,
            state,
            error,
            iso() if state == "ok" else (old.loaded if old else None),
        )

    def _unload(self, path: str) -> None:
        self.good.pop(path, None)
        self.status.pop(path, None)
        self._removed(path)
        self.pool.broadcast_now({"op": "unload", "path": path})
        log.info("script %s removed", path)

    async def _load(self, path: str, source: str) -> None:
        await self.pool.worker(0)  # at least one VM to judge the script
        workers = self.pool.live()
        message = {"op": "load", "path": path, "source": source}
        replies = await asyncio.gather(
            *(w.request(message, self._limit()) for w in workers), return_exceptions=True
        )
        error = None
        succeeded = []
        for worker, reply in zip(workers, replies, strict=True):
            if isinstance(reply, BaseException):
                continue  # the worker died; its replacement loads the good versions
            if reply.get("ok"):
                succeeded.append(worker)
                continue
            error = error or reply.get("error") or "failed to load"
            if reply.get("timeout"):
                self.pool.replace(worker)
        if error is not None:
            previous = self.good.get(path)
            for worker in succeeded:  # back to what the others still run
                worker.send(
                    {"op": "load", "path": path, "source": previous}
                    if previous is not None
                    else {"op": "unload", "path": path}
                )
            kept = "the previous version keeps running" if previous is not None else "not loaded"
            self._set_status(path, "error", error)
            self._report(path, None, f"{error} ({kept})")
            return
        for line in next((r.get("logs", []) for r in replies if isinstance(r, dict)), []):
            script_log.info("%s: %s", path, line.get("message"))
        for worker in self.pool.live():
            if worker not in workers:
                worker.send(message)  # started while we were loading, from the old set
        reloaded = path in self.good
        self.good[path] = source
        self._set_status(path, "ok", None)
        log.info("script %s %s", path, "reloaded" if reloaded else "loaded")
        await self._loaded(path)

    def wire(self) -> list[JsonValue]:
        return [s.wire() for _, s in sorted(self.status.items())]
