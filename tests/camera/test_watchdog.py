"""A failing part is started again; a storm of failures ends the service."""

from __future__ import annotations

import pytest

from roost.backoff import Backoff
from roost_camera.watchdog import MAX_FAILURES, supervised


async def test_a_failed_part_runs_again_and_a_storm_gives_up() -> None:
    runs: list[int] = []
    reports: list[str] = []

    async def flaky() -> None:
        runs.append(1)
        if len(runs) < 3:
            raise OSError("disk went away")

    await supervised("flaky", flaky, reports.append, backoff=Backoff(initial=0.001))
    assert len(runs) == 3
    assert reports == ["flaky: OSError: disk went away"] * 2

    async def broken() -> None:
        raise ValueError("always")

    with pytest.raises(ValueError, match="always"):
        await supervised("broken", broken, reports.append, backoff=Backoff(initial=0.001))
    assert reports[-1] == "broken: ValueError: always"
    assert len(reports) == 2 + MAX_FAILURES
