"""A supervisor that died without stopping its apps: the next one clears the orphans."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import psutil
import pytest

from roost_supervisor.runrecords import RunRecord, RunRecords
from roost_supervisor.settings import Settings

from .conftest import gone, python_app, supervising


@dataclass
class Leftovers:
    orphan: subprocess.Popen[bytes]
    grandchild: int
    bystander: subprocess.Popen[bytes]


@pytest.fixture
def leftovers() -> Iterator[Leftovers]:
    """What a killed supervisor leaves: an app's process group, still running; and an
    unrelated process that now has the pid of another app's record."""
    orphan = subprocess.Popen(
        ["sh", "-c", "sleep 300 & echo $!; wait"], stdout=subprocess.PIPE, start_new_session=True
    )
    assert orphan.stdout is not None
    grandchild = int(orphan.stdout.readline())
    bystander = subprocess.Popen(["sleep", "300"])
    yield Leftovers(orphan, grandchild, bystander)
    for process in (orphan, bystander):
        process.kill()
        process.wait()


async def test_orphans_of_a_previous_supervisor_are_stopped(
    make_settings: Callable[..., Settings], leftovers: Leftovers
) -> None:
    settings = make_settings({"sleeper": python_app()})
    records = RunRecords(settings.node.data_dir.resolve() / "supervisor" / "run")
    orphan = leftovers.orphan.pid
    records.write(
        RunRecord(
            app="sleeper", pid=orphan, create_time=psutil.Process(orphan).create_time(), argv=[]
        )
    )
    records.write(RunRecord(app="other", pid=leftovers.bystander.pid, create_time=1.0, argv=[]))
    async with supervising(settings) as h:
        await h.running("sleeper")
        assert gone(orphan)
        assert gone(leftovers.grandchild)
        assert leftovers.bystander.poll() is None
        assert not records.path("other").exists()
