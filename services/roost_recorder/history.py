"""The read side: the `history`, `series` and `events` methods, on a connection of their own.

WAL lets these queries read while the ingest loop writes. Raw points come from `samples`
and `changes`; with `step` the answer comes from the coarsest tier whose bucket divides
the step (10 minutes, 1 minute, else raw rows grouped on the fly), which gives the same
min, max, mean, last and count as grouping the raw samples would. Answers are bounded by
`limit` (at most `[recorder] max_points`) and by bytes (the node's answer budget, below
the broker's packet limit); a cut answer carries `next`, the `from` of the next page, so
a caller can walk any range without holding it all.
"""

from __future__ import annotations

import asyncio
import math
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiosqlite
from pydantic import BaseModel, ConfigDict, Field, JsonValue, StrictFloat, StrictInt, StrictStr
from pydantic_core import from_json

from roost.errors import CommandError, ErrorCode
from roost.paging import fitting
from roost_recorder.settings import RecorderSection
from roost_recorder.store import DAY_MS
from roost_recorder.timespec import resolve

Time = StrictInt | StrictFloat | StrictStr
MAX_STEP = 100 * 366 * 86400  # a century per bucket is the most that means anything

_RAW = """
SELECT ts, value, 0 FROM samples WHERE series_id = :series AND ts >= :start AND ts <= :end
UNION ALL
SELECT ts, value, 1 FROM changes WHERE series_id = :series AND ts >= :start AND ts <= :end
ORDER BY 1 LIMIT :limit
"""

_RAW_AT = """
SELECT ts, value, 0 FROM samples WHERE series_id = :series AND ts = :ts
UNION ALL
SELECT ts, value, 1 FROM changes WHERE series_id = :series AND ts = :ts
"""

_GROUPED_RAW = """
WITH g AS (
    SELECT ts - ts % :step AS b, value,
           row_number() OVER (PARTITION BY ts - ts % :step ORDER BY ts DESC) AS rn
    FROM samples WHERE series_id = :series AND ts >= :start AND ts <= :end)
SELECT b, min(value), max(value), sum(value), count(*), max(CASE WHEN rn = 1 THEN value END)
FROM g GROUP BY b ORDER BY b LIMIT :limit
"""

_GROUPED_TIER = """
WITH g AS (
    SELECT bucket - bucket % :step AS b, min, max, sum, count, last,
           row_number() OVER (PARTITION BY bucket - bucket % :step ORDER BY last_ts DESC) AS rn
    FROM {table} WHERE series_id = :series AND bucket >= :start AND bucket <= :end)
SELECT b, min(min), max(max), sum(sum), sum(count), max(CASE WHEN rn = 1 THEN last END)
FROM g GROUP BY b ORDER BY b LIMIT :limit
"""


class HistoryParams(BaseModel):
    """Params of `history`: raw points, or aggregates per `step` seconds."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    device: str = Field(description="<node>/<device>")
    prop: str
    from_: Time = Field(
        alias="from", description="ISO-8601, Unix seconds, or negative seconds before now"
    )
    to: Time | None = Field(default=None, description="as from; default now")
    step: StrictInt | StrictFloat | None = Field(
        default=None, gt=0, le=MAX_STEP, description="seconds per aggregate bucket"
    )
    limit: StrictInt | None = Field(default=None, ge=1, description="most points in one answer")


class SeriesParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device: str | None = Field(default=None, description="<node>/<device>; all when omitted")
    offset: StrictInt = Field(
        default=0, ge=0, le=2**53, description="the `next` of the previous page"
    )
    limit: StrictInt | None = Field(default=None, ge=1, description="most series in one answer")


class EventsParams(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    device: str = Field(description="<node>/<device>")
    from_: Time = Field(alias="from")
    to: Time | None = None
    event_type: str | None = None
    limit: StrictInt | None = Field(default=None, ge=1)


def _split(device: str) -> tuple[str, str]:
    node, sep, device_id = device.partition("/")
    if not sep or not node or not device_id or "/" in device_id:
        raise CommandError(ErrorCode.INVALID_PARAMS, f"device {device!r} must be <node>/<device>")
    return node, device_id


def _range(from_: Time, to: Time | None) -> tuple[int, int]:
    now = time.time()
    try:
        start = resolve(from_, now)
        end = resolve(to, now) if to is not None else now
    except ValueError as exc:
        raise CommandError(ErrorCode.INVALID_PARAMS, str(exc)) from None
    if start > end:
        raise CommandError(ErrorCode.INVALID_PARAMS, "from is after to")
    return round(start * 1000), round(end * 1000)


DEFAULT_BUDGET = 4 * 1024 * 1024
POINT_BYTES = 48  # a raw point of a number: [ts, value] with the comma
GROUPED_BYTES = 160  # [ts, min, max, mean, last, count]


def _row_size(row: tuple[int, Any, int]) -> int:
    return 24 + len(row[1]) if row[2] else POINT_BYTES


def _event_size(row: tuple[int, str, str, str, str]) -> int:
    return 96 + len(row[1]) + len(row[2]) + len(row[3]) + len(row[4])


# A query over a longer span may read many rows: it waits in the long lane, so that short
# queries (a chart's last hour, `roost history --since 10m`) are answered meanwhile.
LONG_SPAN_MS = DAY_MS


class Lane:
    """One read-only connection and the deadline of the query it runs now: SQLite's
    progress handler interrupts a query past `query_timeout`."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self.db = db
        self.lock = asyncio.Lock()
        self.deadline = math.inf
        self.busy = asyncio.Event()  # set while a query runs

    @classmethod
    async def open(cls, path: Path) -> Lane:
        db = await aiosqlite.connect(path, isolation_level=None)
        await db.execute("PRAGMA query_only = 1")
        await db.execute("PRAGMA busy_timeout = 10000")
        lane = cls(db)
        await db.set_progress_handler(lane._overdue, 10_000)
        return lane

    def _overdue(self) -> bool:
        return time.monotonic() > self.deadline  # runs in the connection's thread

    async def rows(self, sql: str, params: Any, timeout: float) -> list[Any]:
        async with self.lock:
            self.deadline = time.monotonic() + timeout
            self.busy.set()
            try:
                async with self.db.execute(sql, params) as cursor:
                    return list(await cursor.fetchall())
            except sqlite3.OperationalError as exc:
                if "interrupted" not in str(exc):
                    raise
                raise CommandError(
                    ErrorCode.TIMEOUT,
                    f"the query ran past [recorder] query_timeout ({timeout:g} s): ask for a "
                    "shorter range or a coarser step",
                ) from None
            finally:
                self.deadline = math.inf
                self.busy.clear()


class History:
    def __init__(
        self,
        short_lane: Lane,
        section: RecorderSection,
        budget: Callable[[], int] = lambda: DEFAULT_BUDGET,
        *,
        long_lane: Lane | None = None,
    ) -> None:
        # The lanes as opened: each connection's progress handler reads its own Lane's
        # deadline, so a Lane must not be rebuilt around an open connection.
        self._short = short_lane
        self.long_lane = long_lane or short_lane
        self._section = section
        self.budget = budget  # bytes one answer may hold (the node sets its own)

    @classmethod
    async def open(cls, path: Path, section: RecorderSection) -> History:
        return cls(await Lane.open(path), section, long_lane=await Lane.open(path))

    async def close(self) -> None:
        await self._short.db.close()
        if self.long_lane is not self._short:
            await self.long_lane.db.close()

    async def _one(self, sql: str, params: Any) -> Any:
        rows = await self._short.rows(sql, params, self._section.query_timeout)
        return rows[0] if rows else None

    async def _all(self, sql: str, params: Any, span: int = 0) -> list[Any]:
        lane = self.long_lane if span > LONG_SPAN_MS else self._short
        return await lane.rows(sql, params, self._section.query_timeout)

    async def _device_id(self, device: str) -> int:
        node, device_id = _split(device)
        row = await self._one(
            "SELECT id FROM devices WHERE node = ? AND device = ?", (node, device_id)
        )
        if row is None:
            raise CommandError(ErrorCode.UNKNOWN_DEVICE, f"no history of device {device}")
        return int(row[0])

    async def _series_id(self, device: str, prop: str) -> int:
        device_id = await self._device_id(device)
        row = await self._one(
            "SELECT id FROM series WHERE device_id = ? AND prop = ?", (device_id, prop)
        )
        if row is None:
            props = await self._all(
                "SELECT prop FROM series WHERE device_id = ? ORDER BY prop", (device_id,)
            )
            known = ", ".join(p[0] for p in props) or "none"
            raise CommandError(
                ErrorCode.UNKNOWN_PROPERTY,
                f"no history of {device} {prop!r} (recorded: {known})",
            )
        return int(row[0])

    def _limit(self, asked: int | None) -> int:
        return min(asked or self._section.max_points, self._section.max_points)

    # history ---------------------------------------------------------------------------
    async def history(self, params: HistoryParams) -> JsonValue:
        series = await self._series_id(params.device, params.prop)
        start, end = _range(params.from_, params.to)
        limit = self._limit(params.limit)
        if params.step is None:
            return await self._raw(series, start, end, limit)
        step = round(params.step * 1000)
        if step < 1:
            raise CommandError(ErrorCode.INVALID_PARAMS, "step must be at least 0.001 s")
        return await self._grouped(series, start, end, step, limit)

    async def _raw(self, series: int, start: int, end: int, limit: int) -> JsonValue:
        rows = await self._all(
            _RAW, {"series": series, "start": start, "end": end, "limit": limit + 1}, end - start
        )
        result: dict[str, JsonValue] = {}
        limit = min(limit, fitting(rows[:limit], self.budget(), _row_size))
        if len(rows) > limit:
            cut = rows[limit][0]
            page = [row for row in rows[:limit] if row[0] < cut]
            if page:
                result["next"] = cut / 1000
            else:  # one instant holds more than a page: give it whole
                page = await self._all(_RAW_AT, {"series": series, "ts": cut})
                result["next"] = (cut + 1) / 1000
            rows = page
        result["points"] = [
            [ts / 1000, from_json(value) if kind else value] for ts, value, kind in rows
        ]
        return {"points": result.pop("points"), **result}

    async def _grouped(self, series: int, start: int, end: int, step: int, limit: int) -> JsonValue:
        start -= start % step
        now = round(time.time() * 1000)
        raw_from = now - int(self._section.retention_raw_days * DAY_MS)
        minute_from = now - int(self._section.retention_1m_days * DAY_MS)
        if step % 600_000 == 0:
            table: str | None = "agg_10m"
        elif step % 60_000 == 0:
            table = "agg_1m"
        elif start < raw_from and step >= 600_000 and start < minute_from:
            table = "agg_10m"  # raw is gone: the closest tier, bucket edges approximate
        elif start < raw_from and step >= 60_000:
            table = "agg_1m"
        else:
            table = None
        if table is None:
            has_numbers = await self._one(
                "SELECT 1 FROM samples WHERE series_id = ? LIMIT 1", (series,)
            )
            if has_numbers is None:
                raise CommandError(
                    ErrorCode.INVALID_PARAMS,
                    "this property holds no numbers: aggregates (step) need numbers",
                )
        sql = _GROUPED_RAW if table is None else _GROUPED_TIER.format(table=table)
        rows = await self._all(
            sql,
            {"series": series, "start": start, "end": end, "step": step, "limit": limit + 1},
            end - start,
        )
        result: dict[str, JsonValue] = {}
        limit = min(limit, self.budget() // GROUPED_BYTES)
        if len(rows) > limit:
            result["next"] = rows[limit][0] / 1000
            rows = rows[:limit]
        points: list[JsonValue] = [
            [bucket / 1000, low, high, total / count, last, count]
            for bucket, low, high, total, count, last in rows
        ]
        return {"points": points, **result}

    # series and events -----------------------------------------------------------------
    async def series(self, params: SeriesParams) -> JsonValue:
        """Every recorded property: device, prop, whether it holds numbers, first, last;
        from `offset` on, cut at `limit` and at the answer budget (then `next`)."""
        where, args = "", tuple[int, ...]()
        if params.device is not None:
            where, args = "WHERE s.device_id = ?", (await self._device_id(params.device),)
        rows = await self._all(
            "SELECT d.node, d.device, s.prop, "
            "(SELECT min(ts) FROM samples WHERE series_id = s.id), "
            "(SELECT max(ts) FROM samples WHERE series_id = s.id), "
            "(SELECT min(ts) FROM changes WHERE series_id = s.id), "
            "(SELECT max(ts) FROM changes WHERE series_id = s.id) "
            f"FROM series AS s JOIN devices AS d ON d.id = s.device_id {where} "
            "ORDER BY d.node, d.device, s.prop LIMIT ? OFFSET ?",
            (*args, self._limit(params.limit) + 1, params.offset),
        )
        result: dict[str, JsonValue] = {}
        limit = min(
            self._limit(params.limit),
            fitting(rows, self.budget(), lambda r: 96 + len(r[0]) + len(r[1]) + len(r[2])),
        )
        if len(rows) > limit:
            result["next"] = params.offset + limit
            rows = rows[:limit]
        out: list[JsonValue] = []
        for node, device, prop, s_first, s_last, c_first, c_last in rows:
            firsts = [t for t in (s_first, c_first) if t is not None]
            lasts = [t for t in (s_last, c_last) if t is not None]
            out.append(
                {
                    "device": f"{node}/{device}",
                    "prop": prop,
                    "numeric": s_first is not None,
                    "first": min(firsts) / 1000 if firsts else None,
                    "last": max(lasts) / 1000 if lasts else None,
                }
            )
        return {"series": out, **result}

    async def events(self, params: EventsParams) -> JsonValue:
        device_id = await self._device_id(params.device)
        start, end = _range(params.from_, params.to)
        limit = self._limit(params.limit)
        sql = (
            "SELECT ts, event_type, event_id, phase, data FROM events "
            "WHERE device_id = :device AND ts >= :start AND ts <= :end"
        )
        if params.event_type is not None:
            sql += " AND event_type = :type"
        sql += " ORDER BY ts LIMIT :limit"
        rows = await self._all(
            sql,
            {
                "device": device_id,
                "start": start,
                "end": end,
                "type": params.event_type,
                "limit": limit + 1,
            },
            end - start,
        )
        result: dict[str, JsonValue] = {}
        limit = min(limit, fitting(rows[:limit], self.budget(), _event_size))
        if len(rows) > limit:
            cut = rows[limit][0]
            page = [row for row in rows[:limit] if row[0] < cut]
            result["next"] = cut / 1000 if page else (cut + 1) / 1000
            rows = page or rows[:limit]
        events: list[JsonValue] = [
            {
                "ts": ts / 1000,
                "event_type": event_type,
                "id": event_id,
                "phase": phase or None,
                "data": from_json(data),
            }
            for ts, event_type, event_id, phase, data in rows
        ]
        return {"events": events, **result}
