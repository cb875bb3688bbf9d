"""How `roost up` gets a broker: an existing usable one, its own on the port, its own on a
free port when the port is taken by something else, and a secured network listener."""

from __future__ import annotations

import asyncio
import contextlib
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from roost.bus import Bus
from roost.errors import BusError
from roost.settings import MqttSettings
from roost.testing.broker import MosquittoBroker, free_port
from roost.topics import Topics
from roost_supervisor.accounts import initialise
from roost_supervisor.broker import BrokerPlan, plan_broker, probe
from roost_supervisor.launch import read_password
from roost_supervisor.settings import Settings, UpSection


@contextlib.asynccontextmanager
async def silent_server(port: int) -> AsyncIterator[None]:
    """Something on the port that is not MQTT: it accepts and says nothing."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    async with server:
        yield


def up_settings(data: Path, **up: object) -> Settings:
    return Settings.model_validate({"node": {"data_dir": str(data)}, "up": up})


@contextlib.asynccontextmanager
async def started(plan: BrokerPlan) -> AsyncIterator[BrokerPlan]:
    assert plan.own is not None
    await plan.own.start()
    try:
        yield plan
    finally:
        await plan.own.stop()


async def test_a_free_port_gets_roosts_own_broker(tmp_path: Path) -> None:
    data = tmp_path / "data"
    initialise(data, Topics())
    port = free_port()
    plan = await plan_broker(up_settings(data, port=port), data)
    assert plan.own is not None and plan.port == port and plan.credentials
    async with started(plan):
        conf = plan.own.conf_path.read_text()
        assert f"listener {port} 127.0.0.1" in conf
        assert f"password_file {data / 'secrets' / 'mosquitto.passwd'}" in conf
        assert "@DATA@" not in conf
        found = await probe("127.0.0.1", port)
        assert found.status == "mqtt"  # demo mode: anonymous on loopback
        mqtt = plan.mqtt(MqttSettings(), data)
        assert mqtt.username == "supervisor"
        async with Bus(mqtt, reconnect=False) as bus:
            await bus.sync()
    assert (await probe("127.0.0.1", port)).status == "free"


async def test_an_existing_broker_is_used(tmp_path: Path, mosquitto: MosquittoBroker) -> None:
    data = tmp_path / "data"
    initialise(data, Topics())
    plan = await plan_broker(up_settings(data, port=mosquitto.port), data)
    assert plan.own is None and plan.port == mosquitto.port
    assert "already listening" in plan.lines[0]


async def test_a_port_taken_by_something_else_moves_to_a_free_port(tmp_path: Path) -> None:
    data = tmp_path / "data"
    initialise(data, Topics())
    port = free_port()
    async with silent_server(port):
        plan = await plan_broker(up_settings(data, port=port), data)
    assert plan.own is not None and plan.port != port
    assert "not a usable MQTT broker" in plan.lines[0]
    assert f"ROOST_MQTT__PORT={plan.port}" in plan.lines[-1]


async def test_a_configured_broker_that_does_not_answer_is_an_error(tmp_path: Path) -> None:
    from roost_supervisor.broker import BrokerError

    settings = Settings.model_validate(
        {"node": {"data_dir": str(tmp_path)}, "mqtt": {"port": free_port()}}
    )
    with pytest.raises(BrokerError, match="cannot use the configured broker"):
        await plan_broker(settings, tmp_path)


async def test_secure_mode_refuses_anonymous_on_every_listener(tmp_path: Path) -> None:
    data = tmp_path / "data"
    initialise(data, Topics(), anonymous=False)
    network = free_port()
    settings = up_settings(
        data, broker="own", port=0, anonymous=False, listen=[f"127.0.0.1:{network}"]
    )
    plan = await plan_broker(settings, data)
    async with started(plan):
        for port in (plan.port, network):
            assert (await probe("127.0.0.1", port)).status == "refused"
            admin_less = MqttSettings(
                port=port, username="viewer", password=read_password(data, "viewer")
            )
            async with Bus(admin_less, reconnect=False) as bus:
                await bus.sync()
        with pytest.raises(BusError):
            async with Bus(MqttSettings(port=plan.port), reconnect=False):
                pass


async def test_a_broker_left_by_an_earlier_run_is_replaced(tmp_path: Path) -> None:
    data = tmp_path / "data"
    initialise(data, Topics())
    first = await plan_broker(up_settings(data, broker="own", port=0), data)
    assert first.own is not None
    await first.own.start()
    left = first.own.process
    assert left is not None
    # The `roost up` that started it died; the next one stops it and starts its own.
    second = await plan_broker(up_settings(data, broker="own", port=0), data)
    try:
        assert any(f"pid {left.pid}" in line for line in second.lines)
        assert left.poll() is not None
    finally:
        await first.own.stop()


def test_up_settings_refuse_anonymous_with_a_network_listener() -> None:
    with pytest.raises(ValueError, match="anonymous = false"):
        UpSection(listen=["0.0.0.0:1883"])


async def test_the_brokers_files_are_private_to_roosts_user(tmp_path: Path) -> None:
    """Its log and persistence file hold every client id, a persistent session's secret
    one too: nobody else on the machine may read them."""
    data = tmp_path / "data"
    initialise(data, Topics())
    plan = await plan_broker(up_settings(data, port=free_port()), data)
    assert plan.own is not None
    async with started(plan):
        async with Bus(plan.mqtt(MqttSettings(), data), reconnect=False) as bus:
            await bus.sync()
        assert stat.S_IMODE(plan.own.directory.stat().st_mode) == 0o700
