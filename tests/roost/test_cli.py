"""The `roost` command against a node in the test, as a user runs it (a subprocess)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

import pytest
import pytest_asyncio
from pydantic import JsonValue

from roost.device import Device
from roost.node import Node
from roost.settings import RoostSettings
from roost.testing.broker import free_port

from .nodes import FAN


@dataclass
class Result:
    code: int
    out: str
    err: str


def cli_env(settings: RoostSettings, port: int | None = None) -> dict[str, str]:
    env = {
        **os.environ,
        "ROOST_MQTT__HOST": settings.mqtt.host,
        "ROOST_MQTT__PORT": str(port or settings.mqtt.port),
        "ROOST_MQTT__PREFIX": settings.mqtt.prefix,
        "ROOST_MQTT__DISCOVERY_PREFIX": settings.mqtt.discovery_prefix,
        "COLUMNS": "200",
    }
    env.pop("ROOST_CONFIG", None)
    return env


async def roost(settings: RoostSettings, *args: str, port: int | None = None) -> Result:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "roost.cli", *args, env=cli_env(settings, port),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode is not None
    return Result(process.returncode, out.decode(), err.decode())


@pytest_asyncio.fixture
async def node(roost_settings: RoostSettings) -> AsyncIterator[Node]:
    stuck = asyncio.Event()

    async def apply(device: Device, values: dict[str, JsonValue]) -> Mapping[str, JsonValue]:
        if values.get("label") == "hang":
            await stuck.wait()  # a device that never answers
        return values

    node = Node(roost_settings, service="test", node_id="n1")
    node.add_device("fan", FAN, on_set=apply).update(duty=10, power=False, rpm=900)
    async with node:
        await node.wait_online(5)
        yield node
        stuck.set()


async def test_status_lists_the_node(node: Node, roost_settings: RoostSettings) -> None:
    result = await roost(roost_settings, "status")
    assert result.code == 0, result.err
    assert "n1" in result.out
    assert "online" in result.out
    assert "1/1" in result.out
    as_json = json.loads((await roost(roost_settings, "status", "--json")).out)
    assert as_json[0]["node"] == "n1"
    assert as_json[0]["status"] == "online"


async def test_devices_and_get(node: Node, roost_settings: RoostSettings) -> None:
    result = await roost(roost_settings, "devices")
    assert result.code == 0, result.err
    assert "n1/fan" in result.out
    assert "duty=10 %" in result.out
    got = await roost(roost_settings, "get", "fan")
    assert got.code == 0, got.err
    assert "duty" in got.out
    assert "10 %" in got.out
    data = json.loads((await roost(roost_settings, "get", "n1/fan", "--json")).out)
    assert data["state"]["rpm"] == 900
    assert data["online"] is True


async def test_set_waits_for_the_state(node: Node, roost_settings: RoostSettings) -> None:
    result = await roost(roost_settings, "set", "fan", "duty=55", "power=on")
    assert result.code == 0, result.err
    assert "duty=55 %" in result.out
    assert node.devices["fan"].values["duty"] == 55
    # clamped to the property's max on the way: said, not shown as if asked
    clamped = await roost(roost_settings, "set", "n1/fan", "duty=500")
    assert clamped.code == 0, clamped.err
    assert "duty applied as 100 %" in clamped.out


async def test_set_shows_what_the_owner_applied(roost_settings: RoostSettings) -> None:
    """Hardware that can only come close (a prescaler, 5 % steps) did what it could: exit 0,
    and the line says what was applied."""

    async def coarse(device: Device, values: dict[str, JsonValue]) -> Mapping[str, JsonValue]:
        duty = values.get("duty")
        return {"duty": duty - duty % 5} if isinstance(duty, int) else values

    node = Node(roost_settings, service="test", node_id="n2")
    node.add_device("dimmer", FAN, on_set=coarse).update(duty=0)
    async with node:
        await node.wait_online(5)
        result = await roost(roost_settings, "set", "n2/dimmer", "duty=42")
        assert result.code == 0, result.err
        assert result.out.strip() == "n2/dimmer: duty applied as 40 %"
        exact = await roost(roost_settings, "set", "n2/dimmer", "duty=45")
        assert exact.code == 0, exact.err
        assert exact.out.strip() == "n2/dimmer: duty=45 %"


async def test_set_reports_the_owners_error(node: Node, roost_settings: RoostSettings) -> None:
    result = await roost(roost_settings, "set", "fan", "mode=turbo")
    assert result.code == 1
    assert "invalid_option" in result.err
    unknown = await roost(roost_settings, "set", "fan", "speed=3")
    assert unknown.code == 1
    assert "unknown_property" in unknown.err


async def test_set_times_out_when_the_device_does_not_answer(
    node: Node, roost_settings: RoostSettings
) -> None:
    result = await roost(roost_settings, "set", "fan", "label=hang", "--timeout", "0.5")
    assert result.code == 3
    assert "no answer from n1/fan" in result.err


async def test_unknown_device_and_bad_usage(node: Node, roost_settings: RoostSettings) -> None:
    missing = await roost(roost_settings, "get", "ghost")
    assert missing.code == 2
    assert "no device ghost" in missing.err
    bad = await roost(roost_settings, "set", "fan", "duty")
    assert bad.code == 2
    assert "prop=value" in bad.err


async def test_watch_prints_live_changes(node: Node, roost_settings: RoostSettings) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "roost.cli", "watch", "n1/*", "--count", "2", "--json",
        env=cli_env(roost_settings), stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stderr is not None
    assert process.stdout is not None
    ready = await asyncio.wait_for(process.stderr.readline(), 30)
    assert b"watching n1/*" in ready
    node.devices["fan"].update(duty=21)
    node.devices["fan"].set_available(False)
    out, _ = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0
    first, second = (json.loads(line) for line in out.decode().strip().splitlines())
    assert (first["ref"], first["changed"]) == ("n1/fan", {"duty": 21})
    assert (second["kind"], second["online"]) == ("availability", False)


@pytest.mark.parametrize("command", [("status",), ("get", "fan"), ("set", "fan", "duty=1")])
async def test_a_broker_that_is_not_there_is_one_clear_line(
    roost_settings: RoostSettings, command: tuple[str, ...]
) -> None:
    result = await roost(roost_settings, *command, port=free_port())
    assert result.code == 4
    assert "cannot reach the MQTT broker" in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert "Traceback" not in result.err
