"""The ingest loop: messages in, batches committed, then acknowledged.

The bus hands every state and event message to `on_message`, which only queues it. The
loop takes what is queued once `batch_size` messages wait or the oldest has waited
`batch_interval`, parses it, commits it in one transaction and only then acknowledges
each message to the broker. A crash before the commit leaves the messages unacknowledged
in the persistent session, and the broker delivers them again; the store drops what it
already has. Between batches the loop runs retention, one small chunk at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass

from roost.backoff import Backoff
from roost.clock import iso
from roost.errors import ErrorCode
from roost.message import Message
from roost_recorder.records import Parser, Problem
from roost_recorder.rejects import RejectReporter
from roost_recorder.settings import RecorderSection
from roost_recorder.store import Batch, Retention, Store

log = logging.getLogger("roost.recorder.ingest")

Ack = Callable[[Message], bool]


@dataclass
class IngestStats:
    messages: int = 0
    rows: int = 0
    batches: int = 0
    pruned: int = 0
    last_write: str | None = None
    write_failures: int = 0


class Ingest:
    def __init__(
        self,
        store: Store,
        parser: Parser,
        section: RecorderSection,
        ack: Ack,
        rejects: RejectReporter,
        *,
        on_written: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.parser = parser
        self.stats = IngestStats()
        self._section = section
        self._ack = ack
        self._rejects = rejects
        self._on_written = on_written
        self._pending: list[tuple[float, Message]] = []
        self._writing = 0
        self._first_at = 0.0
        self._wake = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._prune_requested: list[asyncio.Future[int]] = []
        self._retention = Retention(
            raw_days=section.retention_raw_days,
            minute_days=section.retention_1m_days,
            ten_minute_days=section.retention_10m_days,
            events_days=section.retention_events_days,
        )

    @property
    def backlog(self) -> int:
        """Messages received and not yet committed."""
        return len(self._pending) + self._writing

    def on_message(self, message: Message) -> None:
        """The bus handler: queue only (it runs in the bus's dispatch loop)."""
        pending = self._pending
        pending.append((time.time(), message))
        if len(pending) == 1:
            self._first_at = self._loop.time()
            self._wake.set()
        elif len(pending) >= self._section.batch_size:
            self._wake.set()

    def request_prune(self) -> asyncio.Future[int]:
        """Run retention now; the future gives the number of rows deleted."""
        future: asyncio.Future[int] = self._loop.create_future()
        self._prune_requested.append(future)
        self._wake.set()
        return future

    # the loop --------------------------------------------------------------------------
    async def run(self) -> None:
        pruner: AsyncGenerator[int, None] | None = None
        pruned = 0
        next_prune = self._loop.time() + min(60.0, self._section.prune_interval)
        try:
            while True:
                if pruner is None and (self._prune_requested or self._loop.time() >= next_prune):
                    pruner = self.store.prune(
                        round(time.time() * 1000), self._retention, self._section.prune_chunk
                    )
                    pruned = 0
                    next_prune = self._loop.time() + self._section.prune_interval
                if await self._ready(idle_work=pruner is not None, until=next_prune):
                    await self._flush()
                    if pruner is None:
                        continue
                # One chunk of pruning between batches, even when batches never stop
                # coming: retention must not starve under sustained load.
                if pruner is not None:
                    try:
                        pruned += await anext(pruner)
                    except StopAsyncIteration:
                        pruner = None
                        self._pruned(pruned)
        finally:
            if pruner is not None:
                await pruner.aclose()
            # Stopping (SIGTERM): commit and acknowledge what has arrived.
            if self._pending:
                await asyncio.shield(self._flush(retry=False))

    def _pruned(self, rows: int) -> None:
        self.stats.pruned += rows
        if rows:
            log.info("retention: deleted %d rows", rows)
        for future in self._prune_requested:
            if not future.done():
                future.set_result(rows)
        self._prune_requested.clear()

    async def _ready(self, *, idle_work: bool, until: float) -> bool:
        """Wait until a batch is due (True), or return False at once when there is idle
        work to do between batches (a prune running, requested or due at `until`)."""
        interval = self._section.batch_interval
        size = self._section.batch_size
        while True:
            pending = len(self._pending)
            now = self._loop.time()
            if pending >= size or (pending and now - self._first_at >= interval):
                return True
            if idle_work or self._prune_requested or now >= until:
                return False
            timeout = self._first_at + interval - now if pending else until - now
            self._wake.clear()
            # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancel.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wake.wait()

    async def _flush(self, *, retry: bool = True) -> None:
        taken, self._pending = self._pending, []
        self._writing = len(taken)
        try:
            batch = Batch()
            parse = self.parser.parse
            report = self._rejects.report
            for received, message in taken:
                try:
                    problems = parse(message, received, batch)
                except Exception as exc:
                    # A message that breaks the parser must not break ingest: it would
                    # come back after every restart.
                    log.exception("could not read %s", message.topic)
                    problems = [Problem(ErrorCode.FAILED, f"unreadable: {exc}", message.topic)]
                for problem in problems:
                    report(problem)
            backoff = Backoff()
            while True:
                try:
                    written = await self.store.write(batch)
                    break
                except sqlite3.Error as exc:
                    # Nothing was acknowledged: the messages stay ours until it works.
                    self.stats.write_failures += 1
                    if not retry:
                        log.error("could not write %d messages: %s", len(taken), exc)
                        return
                    delay = backoff.next()
                    log.error("writing a batch failed (%s); retrying in %.1f s", exc, delay)
                    await asyncio.sleep(delay)
            ack = self._ack
            for _, message in taken:
                ack(message)
        finally:
            self._writing = 0
        stats = self.stats
        stats.messages += len(taken)
        stats.rows += written.rows
        stats.batches += 1
        stats.last_write = iso()
        if self._on_written is not None:
            self._on_written()
