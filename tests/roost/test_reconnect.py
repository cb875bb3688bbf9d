"""After a broker outage of any length a node is back within a few seconds of the broker's
return: the reconnect delay is capped, however many attempts failed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from roost.backoff import RECONNECT_CAP
from roost.bus import Bus
from roost.node import Node
from roost.settings import RoostSettings
from roost.testing.broker import MosquittoBroker
from roost.testing.plugin import settings_for
from roost.testing.watch import Watcher
from tests.roost.nodes import FAN


class _FailedAttempts(logging.Handler):
    """Counts the bus's "reconnecting in" lines: one per failed attempt."""

    def __init__(self, wanted: int) -> None:
        super().__init__()
        self.wanted = wanted
        self.seen = 0
        self.reached = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if "reconnecting in" in record.getMessage():
            self.seen += 1
            if self.seen >= self.wanted:
                self.reached.set()


@contextmanager
def _counting(wanted: int) -> Iterator[_FailedAttempts]:
    handler = _FailedAttempts(wanted)
    logger = logging.getLogger("roost.bus")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def test_the_reconnect_delay_stays_short_however_many_attempts_failed(
    roost_settings: RoostSettings,
) -> None:
    bus = Bus(roost_settings.mqtt)
    delays = [bus._backoff.next() for _ in range(50)]
    assert max(delays) <= RECONNECT_CAP <= 5
    # The first retries come quickly; later ones keep a jitter so nodes spread out.
    assert delays[0] <= 0.5
    assert len({round(d, 3) for d in delays[10:]}) > 1


async def test_a_node_is_back_after_an_outage_longer_than_the_backoff_ramp(
    own_mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    settings = settings_for(own_mosquitto, tmp_path)
    node = Node(settings, service="test", node_id="n1")
    node.add_device("fan", FAN).update(duty=21)
    async with node:
        await node.wait_online(10)
        # Wait (on the bus's own count, not the clock) until the failed attempts have
        # taken the delay to its ceiling: the old schedule would now sleep 15-30 s.
        with _counting(7) as attempts:
            own_mosquitto.stop()  # persistence off: the broker comes back empty
            async with asyncio.timeout(60):
                await attempts.reached.wait()
        own_mosquitto.start()
        async with Bus(settings.mqtt, reconnect=False) as observer:
            watch = await Watcher(observer, node.topics.state("n1", "fan")).start()
            state = await watch.wait_json(node.topics.state("n1", "fan"), timeout=30)
        assert state["duty"] == 21
        await node.bus.wait_connects(2, timeout=10)  # one reconnect, not a storm
        assert node.bus.connects == 2
