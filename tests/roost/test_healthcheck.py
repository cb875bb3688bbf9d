"""`python -m roost.healthcheck NODE`, the containers' health check: healthy only while the
node says `online` on the broker."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from roost.healthcheck import node_is_online
from roost.node import Node
from roost.settings import RoostSettings
from roost.testing.broker import Broker, free_port

ROOT = Path(__file__).resolve().parents[2]


async def healthcheck(settings: RoostSettings, node: str, **env: str) -> tuple[int, str]:
    """Run the health check as a container runs it: a process, settings from the env."""
    environ = {
        **os.environ,
        "ROOST_MQTT__HOST": settings.mqtt.host,
        "ROOST_MQTT__PORT": str(settings.mqtt.port),
        "ROOST_MQTT__PREFIX": settings.mqtt.prefix,
        **env,
    }
    environ.pop("ROOST_CONFIG", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "roost.healthcheck", node,
        env=environ, cwd=ROOT / "tests", stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, err.decode()


async def test_healthy_while_the_node_is_online_and_not_after(
    roost_settings: RoostSettings,
) -> None:
    assert await healthcheck(roost_settings, "n1") == (
        1,
        "roost healthcheck: node n1 is not online\n",
    )
    async with Node(roost_settings, service="test", node_id="n1") as node:
        await node.wait_online(5)
        assert await node_is_online(roost_settings, "n1")
        assert await healthcheck(roost_settings, "n1") == (0, "")
    assert not await node_is_online(roost_settings, "n1")
    assert await healthcheck(roost_settings, "n1") == (
        1,
        "roost healthcheck: node n1 is not online\n",
    )


async def test_the_configured_node_id_wins_over_the_default(
    roost_settings: RoostSettings,
) -> None:
    async with Node(roost_settings, service="test", node_id="shed-cam") as node:
        await node.wait_online(5)
        assert await healthcheck(roost_settings, "camera") == (
            1,
            "roost healthcheck: node camera is not online\n",
        )
        code, _ = await healthcheck(roost_settings, "camera", ROOST_NODE__ID="shed-cam")
        assert code == 0


async def test_an_unreachable_broker_is_unhealthy_with_a_reason(
    roost_settings: RoostSettings, mosquitto: Broker
) -> None:
    code, err = await healthcheck(roost_settings, "n1", ROOST_MQTT__PORT=str(free_port()))
    assert code == 1
    assert err.startswith("roost healthcheck: no answer from the broker")
