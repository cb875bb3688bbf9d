"""One worker process on its own: the mirror's snapshot, the sandbox, error locations."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio

from roost_event_engine.pool import WorkerProcess

INIT = {"op": "init", "plugins": [], "max_actions": 5, "time_limit": 1.0}
LAMP = {
    "op": "device",
    "ref": "n/lamp",
    "node": "n",
    "id": "lamp",
    "name": "Lamp",
    "props": {"level": {"kind": "number"}},
    "history": 10,
}


@pytest_asyncio.fixture
async def worker() -> AsyncIterator[WorkerProcess]:
    process = WorkerProcess(0, 1)
    await process.start(time_limit=1.0, memory_mb=512)
    process.send(INIT)
    process.send(LAMP)
    yield process
    await process.close()


def state(seq: int, level: int) -> dict[str, Any]:
    return {"op": "state", "seq": seq, "ref": "n/lamp", "node": "n", "id": "lamp",
            "ts": f"t{seq}", "values": {"level": level}}  # fmt: skip


async def load(worker: WorkerProcess, path: str, source: str) -> dict[str, Any]:
    return await worker.request({"op": "load", "path": path, "source": source}, 5)


async def call(worker: WorkerProcess, seq: int, function: str) -> dict[str, Any]:
    job = {"kind": "call", "trigger": "timer", "seq": seq, "ts": "now", "script": "s.js",
           "function": function, "args": None}  # fmt: skip
    return await worker.request({"op": "run", "job": job}, 5)


async def test_the_snapshot_is_the_state_when_the_trigger_arrived(worker: WorkerProcess) -> None:
    for seq, level in ((1, 10), (2, 20), (3, 30)):
        worker.send(state(seq, level))
    src = "function f() { var l = home.device('lamp'); home.log(l.level, l.latest('level')); }"
    assert (await load(worker, "s.js", src))["ok"]
    assert (await call(worker, 2, "f"))["logs"][0]["message"] == "20 30"
    assert (await call(worker, 3, "f"))["logs"][0]["message"] == "30 30"


async def test_scripts_have_no_host_access(worker: WorkerProcess) -> None:
    src = """
    function f() {
      home.log([typeof require, typeof process, typeof call_python === "function" ?
        (function () { try { call_python("dukpy.load_module", "fs"); return "called"; }
                       catch (e) { return "refused"; } })() : "none",
        typeof std, typeof os, typeof fetch, typeof XMLHttpRequest].join(" "));
    }
    """
    assert (await load(worker, "s.js", src))["ok"]
    reply = await call(worker, 0, "f")
    assert reply["logs"][0]["message"] == "undefined undefined refused undefined undefined " \
        "undefined undefined"  # fmt: skip


async def test_errors_name_the_scripts_own_line(worker: WorkerProcess) -> None:
    src = "function f() {\n  var x = null;\n  x.y = 1;\n}\n"
    assert (await load(worker, "s.js", src))["ok"]
    error = (await call(worker, 0, "f"))["errors"][0]
    assert error["function"] == "f"
    assert "TypeError" in error["message"] and "(line 3, in f)" in error["message"]
    broken = await load(worker, "t.js", "var a = 1;\nvar = 2;\n")
    assert not broken["ok"] and "SyntaxError" in broken["error"] and "line 2" in broken["error"]


async def test_each_script_has_its_own_names(worker: WorkerProcess) -> None:
    assert (await load(worker, "s.js", "var n = 's'; function f() { home.log(n, g()); }"))["ok"]
    assert (await load(worker, "t.js", "var n = 't'; function g() { return n; }"))["ok"]
    error = (await call(worker, 0, "f"))["errors"][0]
    assert "ReferenceError" in error["message"]


async def test_a_run_may_not_send_without_bound(worker: WorkerProcess) -> None:
    src = "function f() { for (var i = 0; i < 10; i++) home.emit('x', {i: i}); }"
    assert (await load(worker, "s.js", src))["ok"]
    reply = await call(worker, 0, "f")
    assert len(reply["actions"]) == 5
    assert "at most 5 actions" in reply["errors"][0]["message"]


async def test_memory_is_limited(worker: WorkerProcess) -> None:
    src = "function f() { var a = []; while (true) a.push(new Array(100000).fill(1.5)); }"
    assert (await load(worker, "s.js", src))["ok"]
    reply = await call(worker, 0, "f")
    # Out of memory ends the function with an error (or the alarm first on a fast box).
    assert reply.get("timeout") or "memory" in reply["errors"][0]["message"]
