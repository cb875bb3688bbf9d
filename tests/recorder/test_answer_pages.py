"""Every answer of the recorder stays within the node's answer budget, however large what
it stores: `events`, `series` and raw `history` come in pages (`next`). Before, 1000 large
events or a series explosion made one answer over the broker's packet limit."""

from __future__ import annotations

from typing import Any

from pydantic_core import to_json

from roost.bus import Bus
from roost.settings import RoostSettings

from .conftest import RecorderWatch, count, recorder_settings, running

BUDGET = 16384


async def _walk(bus: Bus, method: str, params: dict[str, Any], cursor: str) -> list[Any]:
    """Every page of an answer, following `next` as `cursor`; each within the budget."""
    pages = []
    while True:
        response = await bus.request("recorder", method, params)
        assert response.ok, response.error
        assert len(to_json(response.data)) <= BUDGET
        assert isinstance(response.data, dict)
        pages.append(response.data)
        if "next" not in response.data:
            return pages
        params = {**params, cursor: response.data["next"]}


async def test_events_series_and_history_come_in_pages_within_the_budget(
    roost_settings: RoostSettings, bus: Bus
) -> None:
    roost_settings.mqtt.max_answer_bytes = BUDGET
    settings = recorder_settings(roost_settings)
    t = bus.topics
    props = {f"reading-with-a-rather-long-name-{n:04d}": n for n in range(300)}
    async with running(settings), RecorderWatch(bus) as watch:
        for n in range(12):
            event = {
                "event_type": "big",
                "id": f"e{n}",
                "phase": "start",
                "ts": f"2026-01-01T00:00:{n:02d}.000Z",
                "data": {"blob": "x" * 3000},
            }
            await bus.publish(t.event("probe", "cam"), event)
            state = {"text": f"{n}" + "y" * 4000, "ts": f"2026-01-01T00:00:{n:02d}.000Z"}
            await bus.publish(t.state("probe", "cam"), state)
        await bus.publish(t.state("probe", "many"), props)
        await watch.until_stored(
            lambda: (
                count(settings, "SELECT count(*) FROM events") == 12
                and count(
                    settings,
                    "SELECT count(*) FROM series AS s JOIN devices AS d ON d.id = s.device_id "
                    "WHERE d.node = 'probe'",
                )
                == 301
            )
        )
        window = {"from": "2026-01-01T00:00:00Z", "to": "2026-01-01T00:01:00Z"}

        pages = await _walk(bus, "events", {"device": "probe/cam", **window}, "from")
        assert len(pages) > 1
        assert [e["id"] for p in pages for e in p["events"]] == [f"e{n}" for n in range(12)]

        pages = await _walk(bus, "series", {"device": "probe/many"}, "offset")
        assert len(pages) > 1
        assert [s["prop"] for p in pages for s in p["series"]] == sorted(props)

        params = {"device": "probe/cam", "prop": "text", **window}
        pages = await _walk(bus, "history", params, "from")
        assert len(pages) > 1
        assert [v[:2] for p in pages for _, v in p["points"]] == [f"{n}y"[:2] for n in range(12)]
