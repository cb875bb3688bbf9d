"""The InfluxDB sink: sends what the store queued for it with influxdb-client's v2 write
API, in batches, retrying with backoff while the server is unreachable.

The points wait in the database's `sink_outbox` table, written in the same transaction as
the samples, and leave it only after the server accepted them: an outage of the server
(or a crash of the recorder) delays them, it does not lose them. The outbox is bounded
by `max_backlog_mb`; past it the oldest points are dropped, counted and logged. A batch
the server refuses as malformed (HTTP 400) is dropped the same way rather than blocking
everything behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from influxdb_client.client.exceptions import InfluxDBError
from influxdb_client.client.influxdb_client_async import InfluxDBClientAsync
from influxdb_client.domain.write_precision import WritePrecision

from roost.backoff import Backoff
from roost_recorder.settings import InfluxSection
from roost_recorder.store import OutboxEntry, Store

log = logging.getLogger("roost.recorder.influx")


class InfluxSink:
    def __init__(self, section: InfluxSection, store: Store) -> None:
        self.section = section
        self.store = store
        self.state = "ok"
        self.sent = 0
        self.rejected = 0
        self._wake = asyncio.Event()

    def notify(self) -> None:
        """New points were queued (called after each committed batch)."""
        self._wake.set()

    async def run(self) -> None:
        s = self.section
        assert s.url is not None
        async with InfluxDBClientAsync(
            url=s.url,
            token=s.token.get_secret_value() if s.token else "",
            org=s.org,
            timeout=int(s.timeout * 1000),
        ) as client:
            write_api = client.write_api()
            backoff = Backoff(initial=min(0.5, s.retry_max), maximum=s.retry_max)
            loop = asyncio.get_running_loop()
            last_send = loop.time()
            while True:
                await self._wait_for_points(last_send)
                entries = await self.store.sink_take(s.batch_size)
                if not entries:
                    continue
                body = b"\n".join(entry.body for entry in entries)
                try:
                    await write_api.write(
                        bucket=s.bucket,
                        org=s.org,
                        record=body,
                        write_precision=WritePrecision.MS,  # type: ignore[arg-type]
                    )
                except Exception as exc:  # whatever the client raises, the points wait
                    if isinstance(exc, InfluxDBError) and _malformed(exc):
                        await self._reject(entries, exc)
                        continue
                    delay = backoff.next()
                    if self.state != "retrying":
                        log.warning("InfluxDB at %s: %s; retrying", s.url, _reason(exc))
                    self.state = "retrying"
                    await asyncio.sleep(delay)
                    continue
                await self.store.sink_done(entries)
                last_send = loop.time()
                self.sent += sum(entry.points for entry in entries)
                if self.state != "ok":
                    log.info("InfluxDB at %s accepts writes again", s.url)
                self.state = "ok"
                backoff.reset()

    async def _wait_for_points(self, last_send: float) -> None:
        """Until a full batch waits, or some points have waited `flush_interval`."""
        loop = asyncio.get_running_loop()
        while True:
            waiting = self.store.sink_points
            if waiting >= self.section.batch_size:
                return
            deadline = last_send + self.section.flush_interval
            if waiting and loop.time() >= deadline:
                return
            self._wake.clear()
            timeout = max(0.0, deadline - loop.time()) if waiting else None
            # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancel.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wake.wait()

    async def _reject(self, entries: list[OutboxEntry], exc: BaseException) -> None:
        points = sum(entry.points for entry in entries)
        self.rejected += points
        log.error("InfluxDB refused %d points as malformed, dropped them: %s", points, exc)
        await self.store.sink_done(entries)


def _malformed(exc: BaseException) -> bool:
    status = getattr(exc, "response", None)
    code = getattr(status, "status", None)
    return code in (400, 413, 422)


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
