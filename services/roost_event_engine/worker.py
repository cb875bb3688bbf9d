"""A worker process: one QuickJS VM holding the device mirror and the compiled scripts.

Started by the engine as `python -m roost_event_engine.worker`; reads newline-delimited
JSON on stdin and answers on stdout. It imports nothing of roost or pydantic so that a
replacement starts quickly. The VM gets no host functions at all (no `require`, no
`process`, no file or network access): everything a script asks for comes back to the
engine as an action. A run longer than the time limit is interrupted by SIGALRM and
reported; the engine then kills this process and starts a fresh one, because a script
stopped half-way may have left the VM's globals in any state.
"""

from __future__ import annotations

import json
import os
import re
import resource
import signal
import sys
import time
from importlib.resources import files
from types import FrameType
from typing import Any

from dukpy import _dukpy

STATE_OPS = frozenset({"state", "device", "online", "remove", "groups", "init"})
LINE = re.compile(r"<dukpy>:(\d+)")


class Overrun(Exception):
    """The time limit passed while JavaScript was running."""


class Sandbox:
    """The host object dukpy's native side calls back into: it exports nothing."""

    def __init__(self) -> None:
        self._ctx = _dukpy.create_context()

    def _check_exported_function_exists(self, name: bytes) -> bool:
        return False

    def _call_python(self, name: bytes, args: bytes) -> bytes | None:
        raise RuntimeError("scripts have no host functions")

    def eval(self, code: str, **variables: Any) -> Any:
        raw = _dukpy.eval_string(
            self, code.encode(), json.dumps(variables).encode(), False, "<roost>"
        )
        return None if raw is None else json.loads(raw)


def wrap(path: str, source: str) -> str:
    """The script inside a function scope, so each file has its own names, plus a lookup
    that finds a function declared in that scope by name (direct eval sees the scope).
    The prefix shares the first line, so line numbers in errors are the file's own."""
    return (
        f"__roost_define({json.dumps(path)}, function (home, console) {{{source}\n"
        ";return function (__roost_n) { try { var __roost_f = eval(__roost_n);"
        " return typeof __roost_f === 'function' ? __roost_f : undefined; }"
        " catch (__roost_e) { return undefined; } };\n})"
    )


def js_error(exc: BaseException) -> str:
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    line = LINE.search(text)
    return f"{first} (line {line.group(1)})" if line else first


class Worker:
    def __init__(self, time_limit: float) -> None:
        self.vm = Sandbox()
        self.time_limit = time_limit
        runtime = files("roost_event_engine").joinpath("runtime.js").read_text("utf-8")
        self.vm.eval(runtime)
        self.pending: list[dict[str, Any]] = []

    def flush_state(self) -> None:
        if self.pending:
            batch, self.pending = self.pending, []
            self.vm.eval("__roost_apply(dukpy.m)", m=batch)

    def _limited(self, code: str, **variables: Any) -> Any:
        signal.setitimer(signal.ITIMER_REAL, self.time_limit)
        try:
            return self.vm.eval(code, **variables)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)

    def handle(self, message: dict[str, Any]) -> dict[str, Any] | None:
        op = message.get("op")
        if op in STATE_OPS:
            if op == "init":
                self.time_limit = float(message.get("time_limit", self.time_limit))
            self.pending.append(message)
            return None
        n = message.get("n")
        if op not in ("run", "batch"):
            self.flush_state()  # a run applies pending updates in its own call into the VM
        if op == "load":
            return {"op": "loaded", "n": n, **self.load(message["path"], message["source"])}
        if op == "unload":
            self.vm.eval("__roost_unload(dukpy.p)", p=message["path"])
            return None
        if op == "run":
            return {"op": "done", "n": n, **self.run(message["job"])}
        if op == "batch":
            results = []
            for job in message["jobs"]:
                results.append(self.run(job))
                if results[-1].get("timeout"):
                    break  # the engine replaces this VM; the rest run on the next one
            return {"op": "done", "n": n, "results": results}
        if op == "ping":
            return {"op": "pong", "n": n}
        return {"op": "error", "n": n, "message": f"unknown op {op!r}"}

    def load(self, path: str, source: str) -> dict[str, Any]:
        try:
            result = self._limited(wrap(path, source))
        except Overrun:
            return {"ok": False, "timeout": True, "error": self._overrun_text(path)}
        except _dukpy.JSRuntimeError as exc:
            return {"ok": False, "error": js_error(exc)}
        return {"ok": True, "logs": (result or {}).get("logs", [])}

    def run(self, job: dict[str, Any]) -> dict[str, Any]:
        started = time.perf_counter()
        code = "__roost_run(dukpy.job)"
        variables: dict[str, Any] = {"job": job}
        if self.pending:  # one call into the VM instead of two
            code = "__roost_apply(dukpy.m), __roost_run(dukpy.job)"
            variables["m"], self.pending = self.pending, []
        try:
            result = self._limited(code, **variables)
        except Overrun:
            where = self._current()
            return {
                "timeout": True,
                "current": where,
                "duration_ms": round((time.perf_counter() - started) * 1000, 3),
            }
        except _dukpy.JSRuntimeError as exc:
            result = {"errors": [{"script": None, "function": None, "message": js_error(exc)}]}
        result["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)
        return dict(result)

    def _current(self) -> str | None:
        try:
            current = self.vm.eval("__roost_current()")
        except Exception:
            return None
        return current if isinstance(current, str) else None

    def _overrun_text(self, path: str) -> str:
        return f"{path} ran longer than {self.time_limit:g} s while loading"


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise Overrun()


def _limit_memory(megabytes: int) -> None:
    limit = megabytes * 1024 * 1024
    try:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ValueError, OSError) as exc:  # a lower hard limit already set: keep it
        print(f"roost worker: cannot limit memory: {exc}", file=sys.stderr)


def main() -> None:
    time_limit = float(os.environ.get("ROOST_WORKER_TIME_LIMIT", "1"))
    memory = int(os.environ.get("ROOST_WORKER_MEMORY_MB", "0"))
    if memory:
        _limit_memory(memory)
    # The engine owns our life: a Ctrl-C in the terminal must not kill workers first.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGALRM, _alarm)
    worker = Worker(time_limit)
    out = sys.stdout.buffer
    out.write(b'{"op":"ready"}\n')
    out.flush()
    buffer = b""
    while True:
        chunk = os.read(0, 1 << 16)
        if not chunk:
            return
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            if not line.strip():
                continue
            reply = worker.handle(json.loads(line))
            if reply is not None:
                out.write(json.dumps(reply).encode() + b"\n")
                out.flush()
        if not buffer:
            worker.flush_state()  # idle: bring the mirror up to date now, not on the next run


if __name__ == "__main__":
    main()
