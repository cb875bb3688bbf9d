"""pytest fixtures: a session broker, settings isolated per test, a connected bus.

Each test gets its own topic prefix (`t<n>`) and discovery prefix (`ha<n>`) on the
shared session broker, so retained messages of one test never reach another.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from roost.bus import Bus
from roost.settings import MqttSettings, NodeSettings, RoostSettings
from roost.testing.broker import Broker, BrokerUnavailable, MosquittoBroker, start_broker

_counter = itertools.count(1)


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """The session's broker (persistence off)."""
    try:
        broker = start_broker(tmp_path_factory.mktemp("mosquitto"))
    except BrokerUnavailable as exc:
        pytest.exit(str(exc), returncode=3)
    yield broker
    broker.stop()


@pytest.fixture
def own_mosquitto(tmp_path: Path) -> Iterator[MosquittoBroker]:
    """A broker of this test's own, for tests that restart, kill or reconfigure it."""
    broker = MosquittoBroker(tmp_path / "mosquitto")
    broker.start()
    yield broker
    broker.stop()


def settings_for(broker: Broker, tmp_path: Path, **mqtt: object) -> RoostSettings:
    n = next(_counter)
    options: dict[str, object] = {
        "host": broker.host,
        "port": broker.port,
        "prefix": f"t{n}",
        "discovery_prefix": f"ha{n}",
        "ha_birth_delay": (0.0, 0.05),
    }
    options.update(mqtt)
    return RoostSettings(
        mqtt=MqttSettings.model_validate(options),
        node=NodeSettings(data_dir=tmp_path / "data"),
    )


@pytest.fixture
def roost_settings(mosquitto: Broker, tmp_path: Path) -> RoostSettings:
    """Settings pointing at the session broker under a prefix of this test's own."""
    return settings_for(mosquitto, tmp_path)


@pytest_asyncio.fixture
async def bus(roost_settings: RoostSettings) -> AsyncIterator[Bus]:
    """A connected client, as a controller (CLI, web UI) would hold one."""
    async with Bus(roost_settings.mqtt, reconnect=False) as client:
        yield client
