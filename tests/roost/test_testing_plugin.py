"""The test harness itself: a real broker that restarts on its port, and a clear failure
when there is no broker to be had."""

from __future__ import annotations

from pathlib import Path

import pytest

from roost.bus import Bus
from roost.errors import BusError
from roost.testing import broker as broker_module
from roost.testing.broker import BrokerUnavailable, MosquittoBroker, start_broker
from roost.testing.plugin import settings_for


def test_no_binary_and_no_docker_is_one_line_saying_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(broker_module.shutil, "which", lambda _name: None)
    monkeypatch.setattr(broker_module, "SYSTEM_BINARY", tmp_path / "no-mosquitto")
    monkeypatch.setattr(broker_module, "_docker_answers", lambda: False)
    with pytest.raises(BrokerUnavailable) as caught:
        start_broker(tmp_path)
    message = str(caught.value)
    assert "apt-get install mosquitto" in message
    assert "\n" not in message


async def test_restart_keeps_the_port_and_stop_really_stops(
    own_mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    settings = settings_for(own_mosquitto, tmp_path)
    port = own_mosquitto.port
    own_mosquitto.restart()
    assert own_mosquitto.port == port
    async with Bus(settings.mqtt, reconnect=False) as bus:
        await bus.sync()
    own_mosquitto.stop()
    with pytest.raises(BusError, match="cannot reach the MQTT broker"):
        async with Bus(settings.mqtt, reconnect=False, connect_timeout=2):
            pass
