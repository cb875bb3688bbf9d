"""Which app processes this data dir's supervisor started, so that a supervisor that died
without stopping them (SIGKILL, a power cut of the terminal) clears them at its next
start instead of running a second copy beside an orphan.

`data/supervisor/run/<app>.json` holds the pid and the process's start time; a pid that
now belongs to another process (a different start time) is left alone.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import psutil
from pydantic import BaseModel

from roost_supervisor.process import clear_group

log = logging.getLogger("roost_supervisor.runrecords")


class RunRecord(BaseModel):
    app: str
    pid: int
    create_time: float | None
    argv: list[str]


class RunRecords:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, app: str) -> Path:
        return self.directory / f"{app}.json"

    def write(self, record: RunRecord) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path(record.app).write_text(record.model_dump_json())

    def remove(self, app: str) -> None:
        self.path(app).unlink(missing_ok=True)

    def records(self) -> list[RunRecord]:
        found = []
        for path in sorted(self.directory.glob("*.json")):
            try:
                found.append(RunRecord.model_validate_json(path.read_text()))
            except (OSError, ValueError):
                log.warning("ignoring unreadable run record %s", path)
                path.unlink(missing_ok=True)
        return found

    async def clear_leftovers(self, grace: float = 5.0) -> list[str]:
        """Stop the process groups of apps a previous supervisor left running; returns
        a line per app that had one."""
        cleared = []
        for record in await asyncio.to_thread(self.records):
            if await asyncio.to_thread(_same_process, record):
                log.warning(
                    "app %s: pid %d was left running by a previous supervisor; stopping it",
                    record.app,
                    record.pid,
                )
                count = await clear_group(record.pid, grace, also={record.pid})
                cleared.append(f"{record.app} (pid {record.pid}, {count} process(es))")
            self.remove(record.app)
        return cleared


def _same_process(record: RunRecord) -> bool:
    try:
        process = psutil.Process(record.pid)
        return record.create_time is None or abs(process.create_time() - record.create_time) < 0.5
    except psutil.Error:
        return False
