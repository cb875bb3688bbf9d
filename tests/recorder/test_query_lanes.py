"""Long history queries wait in a lane of their own and are time-boxed: five one-year
queries once made a cheap one wait 40 s."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Iterator

from roost.bus import Bus
from roost.settings import RoostSettings

from .conftest import RecorderWatch, recorder_settings, running, samples_of
from .test_history import _refused

WEEK = 7 * 86400


def _week_of_samples(path: str, series_id: int, end_ms: int) -> None:
    """A week of one sample a second, written as any SQLite client would."""

    def rows() -> Iterator[tuple[int, int, float]]:
        for n in range(WEEK):
            yield series_id, end_ms - (WEEK - n) * 1000, float(n % 100)

    with sqlite3.connect(path, timeout=30) as db:
        db.executemany("INSERT OR IGNORE INTO samples VALUES (?, ?, ?)", rows())


async def _series_with_a_week(settings: object, bus: Bus, watch: RecorderWatch) -> None:
    await bus.publish(bus.topics.state("farm", "probe"), {"level": 1.0})
    await watch.until_stored(lambda: samples_of(settings, "farm/probe", "level") == 1)  # type: ignore[arg-type]
    path = str(settings.database_path())  # type: ignore[attr-defined]
    with sqlite3.connect(path) as db:
        (series_id,) = db.execute("SELECT id FROM series WHERE prop = 'level'").fetchone()
    await asyncio.to_thread(_week_of_samples, path, series_id, round(time.time() * 1000))


LONG = {"device": "farm/probe", "prop": "level", "from": -WEEK, "step": 7}
SHORT = {"device": "farm/probe", "prop": "level", "from": -60}


async def test_a_short_query_is_answered_while_long_ones_run(
    roost_settings: RoostSettings, bus: Bus
) -> None:
    settings = recorder_settings(roost_settings)
    async with running(settings) as recorder, RecorderWatch(bus) as watch:
        await _series_with_a_week(settings, bus, watch)
        long = [
            asyncio.create_task(bus.request("recorder", "history", LONG, timeout=60))
            for _ in range(3)
        ]
        await recorder.history.long_lane.busy.wait()  # a long query is running
        short = asyncio.create_task(bus.request("recorder", "history", SHORT, timeout=60))
        done, _ = await asyncio.wait({*long, short}, return_when=asyncio.FIRST_COMPLETED)
        assert short in done
        assert short.result().ok
        answers = await asyncio.gather(*long)
        assert all(a.ok and a.data["points"] for a in answers)  # type: ignore[index]


async def test_a_query_past_query_timeout_is_stopped_and_says_so(
    roost_settings: RoostSettings, bus: Bus
) -> None:
    settings = recorder_settings(roost_settings, query_timeout=0.001)
    async with running(settings), RecorderWatch(bus) as watch:
        await _series_with_a_week(settings, bus, watch)
        code, message = await _refused(bus, **LONG)
        assert code == "timeout"
        assert "query_timeout" in message and "shorter range" in message
        # the recorder goes on answering and recording
        await bus.publish(bus.topics.state("farm", "probe"), {"level": 2.0})
        await watch.until_stored(lambda: samples_of(settings, "farm/probe", "level") >= 2)
