"""The `log` answer is bounded: cut at the node's answer budget with `next` (the `skip`
of the next, older page), and a script's log lines are capped in each entry. Unbounded,
a few chatty scripts made an answer over the broker's packet limit."""

from __future__ import annotations

from typing import Any

from pydantic_core import to_json

from roost.node import Node
from roost.settings import RoostSettings
from roost_event_engine.runlog import MAX_LINE, MAX_LINES, clip_lines

from .conftest import StartEngine

CHATTY = """
function temperature_onchange(ev) {
  for (var i = 0; i < 100; i++) home.log(ev.value + " " + new Array(400).join("x"));
}
"""
BUDGET = 65536


async def test_the_log_comes_in_pages_within_the_answer_budget(
    lab: Node, start_engine: StartEngine, roost_settings: RoostSettings
) -> None:
    roost_settings.mqtt.max_answer_bytes = BUDGET
    run = await start_engine({"devices/sensor.js": CHATTY})
    for n in range(5):
        lab.devices["sensor"].update(temperature=30.0 + n)
        await run.entry(lambda e, n=n: e.trigger.get("changes") == {"temperature": 30.0 + n})
    pages: list[Any] = []
    skip: int | None = 0
    while skip is not None:
        response = await run.bus.request(run.id, "log", {"limit": 100, "skip": skip})
        assert response.ok, response.error
        assert len(to_json(response.data)) <= BUDGET
        pages.append(response.data)
        skip = pages[-1].get("next")
    assert len(pages) >= 5  # about 40 kB an entry: one a page
    walked = [e["trigger"]["changes"] for page in reversed(pages) for e in page["entries"]]
    everything = [e.trigger["changes"] for e in run.engine.runlog.entries()]
    assert walked == everything


def test_log_lines_are_capped_in_length_and_number() -> None:
    lines = clip_lines(["x" * (MAX_LINE + 10)] * (MAX_LINES + 5))
    assert len(lines) == MAX_LINES + 1
    assert lines[0] == "x" * MAX_LINE + "… (10 more)"
    assert lines[-1] == "… 5 more lines"
    assert clip_lines(["short"]) == ["short"]
