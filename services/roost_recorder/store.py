"""The write side of the history database: one transaction per batch, pruning in chunks.

One `Store` owns the only writing connection. A batch goes through a staging table so
that SQL itself drops what is already stored (a redelivered message) before the samples
and both aggregate tiers are updated from what is new; aggregates therefore never count
a sample twice. Everything a batch writes, including the InfluxDB sink's share, commits
together, and only then does the recorder acknowledge the batch's messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncGenerator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import aiosqlite
from pydantic_core import to_json

from roost_recorder.lineprotocol import LineProtocol
from roost_recorder.schema import migrate

log = logging.getLogger("roost.recorder.store")

SeriesKey = tuple[str, str, str]
DeviceKey = tuple[str, str]
DAY_MS = 86_400_000
TIERS = (("agg_1m", 60_000), ("agg_10m", 600_000))

_AGGREGATE = """
INSERT INTO {table} (series_id, bucket, min, max, sum, count, last_ts, last)
SELECT g.series_id, g.bucket, g.mn, g.mx, g.sm, g.n, g.lt,
       (SELECT s.value FROM temp.staged s WHERE s.series_id = g.series_id AND s.ts = g.lt
        ORDER BY s.value DESC LIMIT 1)
FROM (SELECT series_id, ts - ts % {width} AS bucket, min(value) AS mn, max(value) AS mx,
             sum(value) AS sm, count(*) AS n, max(ts) AS lt
      FROM temp.staged GROUP BY 1, 2) AS g
WHERE true
ON CONFLICT (series_id, bucket) DO UPDATE SET
    min = min(min, excluded.min),
    max = max(max, excluded.max),
    sum = sum + excluded.sum,
    count = count + excluded.count,
    last = CASE WHEN excluded.last_ts >= last_ts THEN excluded.last ELSE last END,
    last_ts = max(last_ts, excluded.last_ts)
"""


@dataclass(slots=True)
class Batch:
    """What a batch of messages adds; times in Unix ms, change values as JSON text."""

    samples: list[tuple[SeriesKey, int, float]] = field(default_factory=list)
    changes: list[tuple[SeriesKey, int, str]] = field(default_factory=list)
    # device, ts, event id, phase ("" for none), event type, data as JSON
    events: list[tuple[DeviceKey, int, str, str, str, str]] = field(default_factory=list)


@dataclass(slots=True)
class Written:
    samples: int = 0
    changes: int = 0
    events: int = 0

    @property
    def rows(self) -> int:
        return self.samples + self.changes + self.events


@dataclass(frozen=True, slots=True)
class Retention:
    """How long each kind of row is kept, in days."""

    raw_days: float
    minute_days: float
    ten_minute_days: float
    events_days: float


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    id: int
    points: int
    body: bytes


class Store:
    def __init__(
        self, db: aiosqlite.Connection, path: Path, lines: LineProtocol | None, backlog_bytes: int
    ) -> None:
        self.db = db
        self.path = path
        self.lines = lines
        self.max_backlog_bytes = backlog_bytes
        self.devices: dict[DeviceKey, int] = {}
        self.series: dict[SeriesKey, int] = {}
        self.series_keys: dict[int, SeriesKey] = {}
        self.device_keys: dict[int, DeviceKey] = {}
        # The latest stored value of every non-numeric series: only changes are stored.
        self.last_change: dict[SeriesKey, str] = {}
        self.sink_points = 0
        self.sink_bytes = 0
        self.sink_dropped = 0
        self._lock = asyncio.Lock()

    @classmethod
    async def open(
        cls,
        path: Path,
        *,
        synchronous: Literal["full", "normal"] = "full",
        lines: LineProtocol | None = None,
        max_backlog_bytes: int = 256 * 2**20,
    ) -> Store:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(path, isolation_level=None)
        try:
            # Only takes on a new file, before anything (even WAL mode) is written to it:
            # lets pruning hand pages back to the disk.
            await db.execute("PRAGMA auto_vacuum = INCREMENTAL")
            await db.execute("PRAGMA journal_mode = WAL")
            await db.execute(f"PRAGMA synchronous = {synchronous.upper()}")
            await db.execute("PRAGMA temp_store = MEMORY")
            await db.execute("PRAGMA busy_timeout = 10000")
            await migrate(db)
            await db.execute(
                "CREATE TEMP TABLE staged (series_id INTEGER NOT NULL, ts INTEGER NOT NULL, "
                "value REAL NOT NULL, PRIMARY KEY (series_id, ts, value)) WITHOUT ROWID"
            )
            store = cls(db, path, lines, max_backlog_bytes)
            await store._load()
        except BaseException:
            await db.close()
            raise
        return store

    async def close(self) -> None:
        async with self._lock:
            await self.db.close()

    async def _load(self) -> None:
        async with self.db.execute("SELECT id, node, device FROM devices") as cursor:
            async for device_id, node, device in cursor:
                self.devices[(node, device)] = device_id
                self.device_keys[device_id] = (node, device)
        async with self.db.execute("SELECT id, device_id, prop FROM series") as cursor:
            async for series_id, device_id, prop in cursor:
                key = (*self.device_keys[device_id], prop)
                self.series[key] = series_id
                self.series_keys[series_id] = key
        async with self.db.execute(
            "SELECT c.series_id, c.value FROM changes AS c WHERE c.ts = "
            "(SELECT max(ts) FROM changes WHERE series_id = c.series_id)"
        ) as cursor:
            async for series_id, value in cursor:
                self.last_change[self.series_keys[series_id]] = value
        async with self.db.execute(
            "SELECT coalesce(sum(points), 0), coalesce(sum(length(body)), 0) FROM sink_outbox"
        ) as cursor:
            row = await cursor.fetchone()
        if row is not None:
            self.sink_points, self.sink_bytes = int(row[0]), int(row[1])

    # writing ---------------------------------------------------------------------------
    async def write(self, batch: Batch) -> Written:
        """Store a batch in one transaction; on any error nothing of it is stored."""
        async with self._lock:
            added_devices: list[DeviceKey] = []
            added_series: list[SeriesKey] = []
            await self.db.execute("BEGIN IMMEDIATE")
            try:
                written = await self._write(batch, added_devices, added_series)
                await self.db.execute("COMMIT")
            except BaseException:
                await asyncio.shield(self._rollback(added_devices, added_series))
                raise
            return written

    async def _rollback(self, devices: list[DeviceKey], series: list[SeriesKey]) -> None:
        if self.db.in_transaction:
            await self.db.execute("ROLLBACK")
        for key in series:
            self.series_keys.pop(self.series.pop(key), None)
        for device in devices:
            self.device_keys.pop(self.devices.pop(device), None)

    async def _device_id(self, key: DeviceKey, added: list[DeviceKey]) -> int:
        device_id = self.devices.get(key)
        if device_id is None:
            cursor = await self.db.execute("INSERT INTO devices (node, device) VALUES (?, ?)", key)
            device_id = cursor.lastrowid
            assert device_id is not None
            self.devices[key] = device_id
            self.device_keys[device_id] = key
            added.append(key)
        return device_id

    async def _series_ids(
        self, keys: Iterable[SeriesKey], devices: list[DeviceKey], added: list[SeriesKey]
    ) -> None:
        for key in keys:
            if key in self.series:
                continue
            device_id = await self._device_id((key[0], key[1]), devices)
            cursor = await self.db.execute(
                "INSERT INTO series (device_id, prop) VALUES (?, ?)", (device_id, key[2])
            )
            series_id = cursor.lastrowid
            assert series_id is not None
            self.series[key] = series_id
            self.series_keys[series_id] = key
            added.append(key)

    async def _write(
        self, batch: Batch, devices: list[DeviceKey], added: list[SeriesKey]
    ) -> Written:
        db = self.db
        series = self.series
        written = Written()
        lines: list[str] = []
        unknown = {row[0] for row in batch.samples if row[0] not in series}
        unknown.update(row[0] for row in batch.changes if row[0] not in series)
        if unknown:
            await self._series_ids(sorted(unknown), devices, added)
        if batch.samples:
            # One parameter for the whole batch: SQLite unpacks it without the GIL, where
            # executemany would hand the GIL back and forth with the event loop per row.
            staged = to_json([(series[key], ts, value) for key, ts, value in batch.samples])
            await db.execute(
                "INSERT OR IGNORE INTO temp.staged "
                "SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(?)",
                (staged,),
            )
            await db.execute(
                "DELETE FROM temp.staged WHERE EXISTS (SELECT 1 FROM samples AS s WHERE "
                "s.series_id = staged.series_id AND s.ts = staged.ts AND s.value = staged.value)"
            )
            cursor = await db.execute("INSERT INTO samples SELECT * FROM temp.staged")
            written.samples = max(cursor.rowcount, 0)
            for table, width in TIERS:
                await db.execute(_AGGREGATE.format(table=table, width=width))
            if self.lines is not None and written.samples:
                async with db.execute("SELECT series_id, ts, value FROM temp.staged") as rows:
                    keys = self.series_keys
                    sample = self.lines.sample
                    lines.extend(
                        sample(*keys[series_id], ts, value)
                        for series_id, ts, value in await rows.fetchall()
                    )
            await db.execute("DELETE FROM temp.staged")
        if batch.changes:
            cursor = await db.executemany(
                "INSERT OR IGNORE INTO changes VALUES (?, ?, ?)",
                [(series[key], ts, value) for key, ts, value in batch.changes],
            )
            written.changes = max(cursor.rowcount, 0)
            if self.lines is not None:
                for key, ts, value in batch.changes:
                    line = self.lines.change(*key, ts, value)
                    if line is not None:
                        lines.append(line)
        if batch.events:
            event_rows = []
            for device, ts, event_id, phase, event_type, data in batch.events:
                device_id = await self._device_id(device, devices)
                event_rows.append((device_id, ts, event_id, phase, event_type, data))
                if self.lines is not None:
                    lines.append(self.lines.event(*device, ts, event_id, phase, event_type))
            cursor = await db.executemany(
                "INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?, ?)", event_rows
            )
            written.events = max(cursor.rowcount, 0)
        if lines:
            await self._queue_for_sink(lines)
        return written

    # the InfluxDB sink's outbox --------------------------------------------------------
    async def _queue_for_sink(self, lines: list[str]) -> None:
        body = ("\n".join(lines)).encode()
        await self.db.execute(
            "INSERT INTO sink_outbox (points, body) VALUES (?, ?)", (len(lines), body)
        )
        self.sink_points += len(lines)
        self.sink_bytes += len(body)
        if self.sink_bytes <= self.max_backlog_bytes:
            return
        # Bounded: past the limit the oldest points go, counted and logged.
        dropped = 0
        async with self.db.execute(
            "SELECT id, points, length(body) FROM sink_outbox ORDER BY id"
        ) as cursor:
            oldest = await cursor.fetchall()
        for entry_id, points, size in oldest:
            if self.sink_bytes <= self.max_backlog_bytes:
                break
            await self.db.execute("DELETE FROM sink_outbox WHERE id = ?", (entry_id,))
            self.sink_points -= points
            self.sink_bytes -= size
            dropped += points
        self.sink_dropped += dropped
        log.warning(
            "InfluxDB backlog over %.0f MB: dropped its %d oldest points",
            self.max_backlog_bytes / 2**20,
            dropped,
        )

    async def sink_take(self, max_points: int) -> list[OutboxEntry]:
        """The oldest outbox entries, about `max_points` points (at least one entry)."""
        entries: list[OutboxEntry] = []
        points = 0
        async with (
            self._lock,
            self.db.execute("SELECT id, points, body FROM sink_outbox ORDER BY id") as cursor,
        ):
            async for entry_id, count, body in cursor:
                if entries and points + count > max_points:
                    break
                entries.append(OutboxEntry(entry_id, count, bytes(body)))
                points += count
        return entries

    async def sink_done(self, entries: list[OutboxEntry]) -> None:
        async with self._lock:
            await self.db.executemany(
                "DELETE FROM sink_outbox WHERE id = ?", [(e.id,) for e in entries]
            )
        self.sink_points -= sum(e.points for e in entries)
        self.sink_bytes -= sum(len(e.body) for e in entries)

    # retention -------------------------------------------------------------------------
    async def prune(
        self, now_ms: int, retention: Retention, chunk: int
    ) -> AsyncGenerator[int, None]:
        """Delete what retention no longer keeps, `chunk` rows per transaction; yields
        after each so that ingest runs in between. Then hands free pages back."""
        plan = [
            ("samples", "series_id", "ts", retention.raw_days, list(self.series_keys)),
            ("changes", "series_id", "ts", retention.raw_days, list(self.series_keys)),
            ("agg_1m", "series_id", "bucket", retention.minute_days, list(self.series_keys)),
            ("agg_10m", "series_id", "bucket", retention.ten_minute_days, list(self.series_keys)),
            ("events", "device_id", "ts", retention.events_days, list(self.device_keys)),
        ]
        for table, key_column, time_column, days, keys in plan:
            cutoff = now_ms - int(days * DAY_MS)
            for key in keys:
                while True:
                    async with self._lock:
                        async with self.db.execute(
                            f"SELECT {time_column} FROM {table} WHERE {key_column} = ? "
                            f"AND {time_column} < ? ORDER BY {time_column} LIMIT 1 OFFSET ?",
                            (key, cutoff, chunk - 1),
                        ) as cursor:
                            row = await cursor.fetchone()
                        bound = int(row[0]) if row is not None else cutoff - 1
                        cursor = await self.db.execute(
                            f"DELETE FROM {table} WHERE {key_column} = ? "
                            f"AND {time_column} <= ? AND {time_column} < ?",
                            (key, bound, cutoff),
                        )
                        deleted = max(cursor.rowcount, 0)
                    yield deleted  # back to ingest after every statement pair
                    if row is None:
                        break
        previous = None
        while True:
            async with self._lock:
                async with self.db.execute("PRAGMA freelist_count") as cursor:
                    row = await cursor.fetchone()
                free = int(row[0]) if row else 0
                if not free or free == previous:
                    break
                previous = free
                # The pragma frees one page per step: read every row or it stops early.
                async with self.db.execute(f"PRAGMA incremental_vacuum({chunk})") as cursor:
                    await cursor.fetchall()
            yield 0

    # figures ---------------------------------------------------------------------------
    def size(self) -> int:
        """Bytes on disk: the database and its write-ahead log."""
        total = 0
        for suffix in ("", "-wal"):
            with contextlib.suppress(FileNotFoundError):
                total += os.stat(f"{self.path}{suffix}").st_size
        return total
