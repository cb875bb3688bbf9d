"""A persistent session's client id is a secret of the data dir: another client that
connects with the node's id (any login, or anyone in demo mode) cannot take it over."""

from __future__ import annotations

import stat
from pathlib import Path

import aiomqtt

from roost.bus import Bus
from roost.node import Node
from roost.session import session_client_id, session_path
from roost.settings import RoostSettings


def test_the_session_id_is_stable_per_data_dir_and_private(tmp_path: Path) -> None:
    first = session_client_id(tmp_path / "a", "recorder")
    assert first == session_client_id(tmp_path / "a", "recorder")
    assert first != session_client_id(tmp_path / "b", "recorder")
    assert first != session_client_id(tmp_path / "a", "event-engine")
    assert first.startswith("recorder-") and len(first) >= len("recorder-") + 22
    mode = stat.S_IMODE(session_path(tmp_path / "a", "recorder").stat().st_mode)
    assert mode == 0o600


def test_a_damaged_session_file_is_replaced(tmp_path: Path) -> None:
    path = session_path(tmp_path, "recorder")
    path.parent.mkdir(parents=True)
    path.write_text("x\n")
    made = session_client_id(tmp_path, "recorder")
    assert made != "recorder-x"
    assert made == session_client_id(tmp_path, "recorder")


async def test_connecting_with_the_node_id_does_not_kick_a_persistent_session(
    roost_settings: RoostSettings,
) -> None:
    node = Node(roost_settings, service="test", node_id="keeper", persistent_session=True)
    async with node:
        await node.wait_online(10)
        assert node.bus.client_id != node.id
        m = roost_settings.mqtt
        for clean in (True, False):
            async with aiomqtt.Client(
                m.host,
                m.port,
                identifier=node.id,
                protocol=aiomqtt.ProtocolVersion.V5,
                clean_start=clean,
            ) as intruder:
                await intruder.publish("x/y", b"1", qos=1)
        await node.bus.request(node.id, "ping", timeout=5)  # its own connection answers
        assert node.bus.connects == 1 and node.bus.connected.is_set()


async def test_the_session_id_never_appears_in_a_topic(roost_settings: RoostSettings) -> None:
    """Anonymous clients' reply inboxes are named at random: a node's first-connect sync
    marker must not publish its secret client id for every reader of the reply tree."""
    seen: list[str] = []
    async with Bus(roost_settings.mqtt, reconnect=False) as observer:
        await observer.subscribe(f"{roost_settings.mqtt.prefix}/#", lambda m: seen.append(m.topic))
        node = Node(roost_settings, service="test", node_id="quiet", persistent_session=True)
        async with node:
            await node.wait_online(10)
            await node.bus.request(node.id, "ping", timeout=5)
            await observer.sync()
        secret = node.bus.client_id.removeprefix("quiet-")
        assert seen and not [topic for topic in seen if secret in topic]
