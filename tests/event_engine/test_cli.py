"""`roost scripts log` and `roost scripts list` against a running engine, as a user runs them."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from roost.node import Node

from .conftest import Running, StartEngine

ROOST = str(Path(sys.executable).parent / "roost")


async def roost(run: Running, *args: str, timeout: float = 5) -> tuple[int, str, str]:
    mqtt = run.settings.mqtt
    env = {
        **os.environ,
        "ROOST_MQTT__HOST": mqtt.host,
        "ROOST_MQTT__PORT": str(mqtt.port),
        "ROOST_MQTT__PREFIX": mqtt.prefix,
        "ROOST_CONFIG": "",
        "ROOST_CLI__TIMEOUT": str(timeout),
        "COLUMNS": "200",
    }
    process = await asyncio.create_subprocess_exec(
        ROOST, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env
    )
    out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


SCRIPT = """
function temperature_onchange(ev) {
  home.set("lab/fan", {duty: 10});
  if (ev.value > 40) throw new Error("too hot");
}
"""


async def test_scripts_log_shows_what_ran_and_what_it_sent(
    lab: Node, start_engine: StartEngine
) -> None:
    run = await start_engine({"devices/sensor.js": SCRIPT})
    lab.devices["sensor"].update(temperature=25.0)
    await run.entry(lambda e: e.trigger.get("changes") == {"temperature": 25.0})
    lab.devices["sensor"].update(temperature=45.0)
    await run.entry(lambda e: e.error is not None)
    code, out, err = await roost(run, "scripts", "log", "--node", run.id, "--json")
    assert code == 0, err
    entries = json.loads(out)
    assert [e["trigger"]["changes"] for e in entries] == [
        {"temperature": 25.0},
        {"temperature": 45.0},
    ]
    first = entries[0]
    assert set(first) >= {"ts", "trigger", "functions", "sent", "duration_ms", "error"}
    assert first["functions"] == ["devices/sensor.js:temperature_onchange"]
    assert first["sent"] == [{"set": "lab/fan", "values": {"duty": 10}}]
    assert "Error: too hot" in entries[1]["error"]
    # The method behind it, as the web UI calls it.
    response = await run.bus.request(run.id, "log", {"limit": 5, "errors": True})
    data: Any = response.data
    assert response.ok
    assert [e["trigger"]["changes"] for e in data["entries"]] == [{"temperature": 45.0}]
    response = await run.bus.request(run.id, "log", {"limit": 0})
    assert not response.ok and response.error is not None
    assert response.error.code == "invalid_params"
    code, out, _ = await roost(run, "scripts", "log", "--node", run.id)
    assert code == 0 and "set lab/fan duty=10" in out and "too hot" in out
    code, out, _ = await roost(run, "scripts", "list", "--node", run.id)
    assert code == 0 and "devices/sensor.js" in out and "ok" in out


async def test_scripts_log_says_when_no_engine_answers(start_engine: StartEngine) -> None:
    run = await start_engine()
    code, _, err = await roost(run, "scripts", "log", "--node", "no-such-engine", timeout=0.5)
    assert code == 3 and "no response from no-such-engine" in err
