"""Retention: raw samples, both aggregate tiers and events each pruned at their own age."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from roost.bus import Bus
from roost.clock import iso
from roost.settings import RoostSettings

from .conftest import RecorderWatch, count, recorder_settings, running, samples_of

DAY = 86400.0


def _ago(seconds: float) -> str:
    return iso(datetime.fromtimestamp(time.time() - seconds, UTC))


async def test_pruning_keeps_each_tier_for_its_own_time(
    roost_settings: RoostSettings, bus: Bus
) -> None:
    settings = recorder_settings(
        roost_settings,
        retention_raw_days=7,
        retention_1m_days=15,
        retention_10m_days=30,
        retention_events_days=20,
        prune_chunk=100,
    )
    state = bus.topics.state("probe", "tank")
    ages = {40: 150, 20: 150, 10: 150, 0: 50}  # days ago: samples, a second apart
    async with running(settings) as recorder, RecorderWatch(bus) as watch:
        for days, n in ages.items():
            for i in range(n):
                bus.publish_nowait(state, {"level": float(i), "ts": _ago(days * DAY + 3600 + i)})
            bus.publish_nowait(
                bus.topics.event("probe", "tank"),
                {"event_type": "low", "id": f"e{days}", "ts": _ago(days * DAY + 3600)},
            )
        await bus.flush(10)
        await watch.until_stored(
            lambda: (
                samples_of(settings, "probe/tank", "level") == 500
                and count(settings, "SELECT count(*) FROM events") == 4
            )
        )
        deleted = await recorder.ingest.request_prune()
        assert deleted > 0

        def level_rows(table: str, column: str, older_than_days: float) -> int:
            cutoff = round((time.time() - older_than_days * DAY) * 1000)
            return count(
                settings,
                f"SELECT count(*) FROM {table} AS t JOIN series AS s ON s.id = t.series_id "
                f"WHERE s.prop = 'level' AND t.{column} < ?",
                cutoff,
            )

        assert samples_of(settings, "probe/tank", "level") == 50  # raw: only the last 7 days
        assert level_rows("samples", "ts", 7) == 0
        assert level_rows("agg_1m", "bucket", 15) == 0  # 1-minute tier: 15 days
        assert level_rows("agg_1m", "bucket", 9) > 0
        assert level_rows("agg_10m", "bucket", 30) == 0  # 10-minute tier: 30 days
        assert level_rows("agg_10m", "bucket", 19) > 0
        assert count(settings, "SELECT count(*) FROM events") == 2

        # history answers what is left: old raw is gone, the 10-minute tier still has it.
        raw = await bus.request(
            "recorder", "history", {"device": "probe/tank", "prop": "level", "from": -25 * DAY}
        )
        assert isinstance(raw.data, dict)
        assert len(raw.data["points"]) == 50
        tiered = await bus.request(
            "recorder",
            "history",
            {"device": "probe/tank", "prop": "level", "from": -25 * DAY, "step": 600},
        )
        assert isinstance(tiered.data, dict)
        assert sum(p[5] for p in tiered.data["points"]) == 350
