"""CPU and memory of app processes as the OS reports them, children included (an event
engine's worker pool counts toward the engine)."""

from __future__ import annotations

from dataclasses import dataclass

import psutil


@dataclass(frozen=True)
class Usage:
    cpu: float  # percent of one core since the previous sample
    rss: int  # bytes, summed over the process and its descendants
    processes: int


class UsageMeter:
    """Keeps a psutil.Process per pid so CPU percentages are deltas between samples.
    Blocking (reads /proc): call it through asyncio.to_thread."""

    def __init__(self) -> None:
        self._known: dict[int, psutil.Process] = {}

    def sample(self, pids: list[int]) -> dict[int, Usage]:
        seen: set[int] = set()
        out: dict[int, Usage] = {}
        for pid in pids:
            try:
                leader = self._process(pid)
                tree = [leader, *leader.children(recursive=True)]
            except psutil.Error:
                continue
            cpu = 0.0
            rss = 0
            count = 0
            for member in tree:
                process = self._process(member.pid) if member.pid != pid else leader
                try:
                    with process.oneshot():
                        cpu += process.cpu_percent(None)
                        rss += process.memory_info().rss
                except psutil.Error:
                    continue
                seen.add(member.pid)
                count += 1
            out[pid] = Usage(round(cpu, 1), rss, count)
        for gone in set(self._known) - seen:
            del self._known[gone]
        return out

    def _process(self, pid: int) -> psutil.Process:
        process = self._known.get(pid)
        if process is None or not process.is_running():
            process = self._known[pid] = psutil.Process(pid)
        return process
