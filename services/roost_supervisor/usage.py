"""CPU and memory of app processes as the OS reports them, children included (an event
engine's worker pool counts toward the engine)."""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass

import psutil


@dataclass(frozen=True)
class Usage:
    cpu: float  # percent of one core since the previous sample
    rss: int  # bytes, summed over the process and its descendants
    processes: int


def parents() -> dict[int, int]:
    """pid → parent pid of every process, in one pass over /proc (psutil's children()
    makes that pass for every call, and its process_iter costs three times as much)."""
    found: dict[int, int] = {}
    try:
        entries = list(os.scandir("/proc"))
    except OSError:
        return {p.pid: p.info["ppid"] for p in psutil.process_iter(["ppid"])}
    for entry in entries:
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue  # it ended meanwhile
        # The command name in parentheses may hold spaces: the fields follow the last ')'.
        fields = stat[stat.rfind(b")") + 2 :].split()
        found[int(entry.name)] = int(fields[1])
    return found


class UsageMeter:
    """Keeps a psutil.Process per pid so CPU percentages are deltas between samples.
    Blocking (reads /proc): call it through asyncio.to_thread."""

    def __init__(self) -> None:
        self._known: dict[int, psutil.Process] = {}

    def sample(self, pids: list[int]) -> dict[int, Usage]:
        if not pids:
            self._known.clear()
            return {}
        children: dict[int, list[int]] = defaultdict(list)
        for pid, ppid in parents().items():
            children[ppid].append(pid)
        seen: set[int] = set()
        out: dict[int, Usage] = {}
        for pid in pids:
            tree = [pid]
            for member in tree:
                tree.extend(children.get(member, ()))
            cpu = 0.0
            rss = 0
            count = 0
            for member in tree:
                try:
                    process = self._process(member)
                    with process.oneshot():
                        cpu += process.cpu_percent(None)
                        rss += process.memory_info().rss
                except psutil.Error:
                    continue
                seen.add(member)
                count += 1
            if count:
                out[pid] = Usage(round(cpu, 1), rss, count)
        for gone in set(self._known) - seen:
            del self._known[gone]
        return out

    def _process(self, pid: int) -> psutil.Process:
        process = self._known.get(pid)
        if process is None or not process.is_running():
            process = self._known[pid] = psutil.Process(pid)
        return process
