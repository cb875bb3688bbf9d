"""`roost-recorder`: the node, its ingest connection and its parts on the shared runtime.

The recorder holds two MQTT connections. The node's own (a clean session) publishes its
device and answers `history` at once; the ingest connection is the persistent session
(client id = the node id, clean start off, QoS 1, manual acknowledgement) that the broker
queues states and events for while the recorder is down. Kept apart, a backlog of a
million queued messages after an outage neither delays the node's connect sequence nor
queues history requests behind it.
"""

from __future__ import annotations

import gc
import logging
import sqlite3
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from roost.bus import Bus
from roost.clock import iso
from roost.errors import ConfigError
from roost.models.messages import ErrorPayload
from roost.node import Node
from roost.service import run_service, run_until_signalled
from roost.session import session_client_id
from roost_recorder.budget import SeriesBudget
from roost_recorder.history import EventsParams, History, HistoryParams, SeriesParams
from roost_recorder.ingest import Ingest
from roost_recorder.lineprotocol import LineProtocol
from roost_recorder.records import Parser, Problem
from roost_recorder.rejects import RejectReporter
from roost_recorder.schema import SchemaError
from roost_recorder.settings import SERVICE, Settings
from roost_recorder.status import DEVICE_ID, META, Figures, StatusReporter
from roost_recorder.store import Store

if TYPE_CHECKING:
    from roost_recorder.influx import InfluxSink

log = logging.getLogger("roost.recorder")


class Recorder:
    """Everything the recorder runs, built from settings; `parts()` are its tasks."""

    def __init__(
        self,
        settings: Settings,
        node: Node,
        ingest_bus: Bus,
        store: Store,
        history: History,
        sink: InfluxSink | None,
    ) -> None:
        section = settings.recorder
        self.settings = settings
        self.node = node
        self.ingest_bus = ingest_bus
        self.store = store
        self.history = history
        history.budget = node.answer_budget
        self.sink = sink
        self.device = node.add_device(DEVICE_ID, META)
        self.rejects = RejectReporter(self._tell)
        budget = SeriesBudget(section.max_series_per_node, store.series)
        self.parser = Parser(node.topics, section, store.last_change, budget)
        self.ingest = Ingest(
            store,
            self.parser,
            section,
            ingest_bus.ack,
            self.rejects,
            on_written=sink.notify if sink is not None else None,
        )
        self.status = StatusReporter(self.device, self.figures, section.status_interval)
        node.add_method(
            "history",
            history.history,
            params=HistoryParams,
            title="History",
            description="Raw points or aggregates of one property over a time range",
        )
        node.add_method(
            "series",
            history.series,
            params=SeriesParams,
            title="Recorded series",
            description="Every recorded property, with its first and last time",
        )
        node.add_method(
            "events",
            history.events,
            params=EventsParams,
            title="Events",
            description="Recorded events of one device over a time range",
        )

    @classmethod
    async def open(cls, settings: Settings) -> Recorder:
        section = settings.recorder
        path = settings.database_path()
        lines = LineProtocol(section.influxdb.measurement) if section.influxdb.enabled else None
        try:
            store = await Store.open(
                path,
                synchronous=section.synchronous,
                lines=lines,
                max_backlog_bytes=int(section.influxdb.max_backlog_mb * 2**20),
            )
        except (SchemaError, sqlite3.DatabaseError, OSError) as exc:
            raise ConfigError(f"recorder database {path}: {exc}") from None
        history = await History.open(path, section)
        node = Node(settings, service=SERVICE)
        ingest_bus = Bus(
            settings.mqtt,
            # A session only this data dir can name; connected only once no live recorder
            # has this node id (the node's own check), so it never takes one's session.
            client_id=session_client_id(settings.node.data_dir, node.id),
            preflight=node.confirmed_unique,
            clean_start=False,
            session_expiry=round(section.session_expiry_days * 86400),
            manual_ack=True,
            receive_maximum=section.receive_maximum,
        )
        sink = None
        if section.influxdb.enabled:
            # Imported only when used: influxdb-client is a large library.
            from roost_recorder.influx import InfluxSink

            sink = InfluxSink(section.influxdb, store)
        recorder = cls(settings, node, ingest_bus, store, history, sink)
        await recorder.subscribe()
        log.info("recording to %s", path)
        return recorder

    async def subscribe(self) -> None:
        """Always the same three subscriptions in the same order: a resumed session's
        queued messages carry the subscription ids of the process before."""
        bus, topics = self.ingest_bus, self.node.topics
        # Retained states only on a new session: a resumed one has them already.
        await bus.subscribe(
            topics.any_device("state"), self.ingest.on_message, manual_ack=True, retain_handling=1
        )
        await bus.subscribe(topics.any_device("event"), self.ingest.on_message, manual_ack=True)
        await bus.subscribe(topics.any_device("meta"), self.parser.on_meta)

    @asynccontextmanager
    async def connected(self) -> AsyncIterator[None]:
        """Both connections, for as long as the block runs."""
        async with self.node, self.ingest_bus:
            yield

    async def close(self) -> None:
        await self.history.close()
        await self.store.close()

    async def _announce_recording(self) -> None:
        """Say `recording` as soon as the ingest session is up, not a status tick later."""
        await self.ingest_bus.wait_connected()
        self.status.update()

    def parts(self) -> list[Coroutine[Any, Any, None]]:
        parts = [self.ingest.run(), self.status.run(), self._announce_recording()]
        if self.sink is not None:
            parts.append(self.sink.run())
        return parts

    def figures(self) -> Figures:
        last = self.rejects.last
        sink = self.sink
        return Figures(
            recording=self.ingest_bus.connected.is_set(),
            messages=self.ingest.stats.messages,
            rows_written=self.ingest.stats.rows,
            backlog=self.ingest.backlog,
            errors=self.rejects.count,
            last_error=f"{last.topic}: {last.code.value}: {last.message}"[:255] if last else None,
            database_size=self.store.size(),
            last_write=self.ingest.stats.last_write,
            sink="off" if sink is None else sink.state,
            sink_backlog=self.store.sink_points,
            sink_dropped=self.store.sink_dropped + (sink.rejected if sink else 0),
        )

    def _tell(self, problem: Problem, suppressed: int) -> None:
        """Bad input on the recorder's own error topic (the log line is the reporter's)."""
        self.node.count_error()
        message = problem.message
        if suppressed:
            message += f" ({suppressed} more like it since)"
        payload = ErrorPayload(
            code=problem.code.value, message=f"{problem.topic}: {message}"[:1000], ts=iso()
        )
        self.node.bus.publish_nowait(
            self.node.topics.error(self.node.id, DEVICE_ID), payload.model_dump_json()
        )


def _tune_gc() -> None:
    """Ingest allocates a burst of short-lived objects per message; with the default
    thresholds the collector ran every 700 of them and rescanned the whole long-lived
    heap (pydantic schemas, caches) often enough to cost a quarter of the CPU per message
    (measured: tests/perf/test_recorder.py). Freeze what startup built and collect the
    young generation less often."""
    gc.freeze()
    gc.set_threshold(100_000, 50, 1000)


async def serve(settings: Settings) -> None:
    recorder = await Recorder.open(settings)
    _tune_gc()
    try:
        async with recorder.connected():
            await run_until_signalled(*recorder.parts())
    finally:
        await recorder.close()


def main() -> None:
    run_service(SERVICE, Settings, serve)


if __name__ == "__main__":
    main()
