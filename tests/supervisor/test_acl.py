"""`roost init`'s users, password file and ACL, enforced by a real Mosquitto."""

from __future__ import annotations

import contextlib
import shutil
import stat
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from roost.bus import Bus
from roost.errors import BusError
from roost.models import DeviceMeta, PropertySpec
from roost.node import Node
from roost.secrets import load_admin_record, verify_secret
from roost.settings import MqttSettings, NodeSettings, RoostSettings
from roost.testing import Watcher
from roost.testing.broker import MosquittoBroker
from roost.topics import Topics
from roost_supervisor import passwd
from roost_supervisor.accounts import acl_path, initialise, passwd_path
from roost_supervisor.acl import Role
from roost_supervisor.launch import read_password

TOPICS = Topics("roost", "homeassistant")


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[MosquittoBroker, Path]]:
    """A broker run with the password file and ACL `roost init` wrote (demo mode)."""
    data = tmp_path_factory.mktemp("acl") / "data"
    report = initialise(data, TOPICS, add={"shell-script": Role.NODE})
    assert report.admin_secret is not None
    (data / "admin.secret-for-tests").write_text(report.admin_secret)
    broker = MosquittoBroker(
        data / "mosquitto",
        extra_config=f"password_file {passwd_path(data)}\nacl_file {acl_path(data)}\n",
    )
    broker.start()
    yield broker, data
    broker.stop()


def mqtt(broker: MosquittoBroker, user: str | None, password: str | None) -> MqttSettings:
    return MqttSettings(
        host=broker.host, port=broker.port, username=user, password=password, keepalive=10
    )


@contextlib.asynccontextmanager
async def client(secured: tuple[MosquittoBroker, Path], user: str | None) -> AsyncIterator[Bus]:
    broker, data = secured
    if user == "admin":
        password = (data / "admin.secret-for-tests").read_text()
    else:
        password = read_password(data, user) if user else None
    async with Bus(mqtt(broker, user, password), reconnect=False) as bus:
        yield bus


def test_files_are_private_and_hashed(secured: tuple[MosquittoBroker, Path]) -> None:
    _, data = secured
    secrets = data / "secrets"
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o700
    for path in secrets.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    entries = passwd.parse(passwd_path(data).read_text())
    assert {"supervisor", "i2c-bridge", "recorder", "admin", "viewer", "shell-script"} <= set(
        entries
    )
    recorder = read_password(data, "recorder")
    assert recorder is not None and recorder not in passwd_path(data).read_text()
    assert passwd.verify_password(recorder, entries["recorder"])
    admin = (data / "admin.secret-for-tests").read_text()
    record = load_admin_record(data)
    assert record is not None and verify_secret(admin, record)
    assert admin not in "".join(p.read_text() for p in secrets.iterdir())


@pytest.mark.skipif(shutil.which("mosquitto_passwd") is None, reason="needs mosquitto_passwd")
def test_hash_format_matches_mosquitto_passwd(tmp_path: Path) -> None:
    path = tmp_path / "pw"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(path), "alice", "s3cret"], check=True)
    hashed = passwd.parse(path.read_text())["alice"]
    assert hashed.startswith("$7$101$")
    assert passwd.verify_password("s3cret", hashed)
    assert not passwd.verify_password("other", hashed)
    assert passwd.hash_password("s3cret").split("$")[:3] == hashed.split("$")[:3]


async def test_wrong_password_is_refused(secured: tuple[MosquittoBroker, Path]) -> None:
    broker, _ = secured
    with pytest.raises(BusError):
        async with Bus(mqtt(broker, "recorder", "not-its-password"), reconnect=False):
            pass


async def test_a_node_cannot_write_another_nodes_topics(
    secured: tuple[MosquittoBroker, Path],
) -> None:
    async with (
        client(secured, "admin") as admin,
        client(secured, "i2c-bridge") as bridge,
        Watcher(admin, "roost/#") as seen,
    ):
        await bridge.publish("roost/recorder/history/state", {"forged": True}, retain=True)
        await bridge.publish("roost/recorder/history/set", {"x": 1})
        await bridge.publish("roost/recorder/history/ack", {"id": "x", "applied": {}})
        # a node answers commands on its own devices' ack topics
        await bridge.publish("roost/i2c-bridge/pca9685-40/ack", {"id": "y", "applied": {}})
        await bridge.publish("roost/i2c-bridge/bme280-76/state", {"temperature": 21})
        await seen.wait_for(topic="roost/i2c-bridge/bme280-76/state")
        topics = {m.topic for m in seen.messages}
        assert "roost/recorder/history/state" not in topics
        assert "roost/recorder/history/set" not in topics
        assert "roost/recorder/history/ack" not in topics
        assert "roost/i2c-bridge/pca9685-40/ack" in topics


async def test_nodes_write_only_their_own_discovery(
    secured: tuple[MosquittoBroker, Path],
) -> None:
    async with client(secured, "homeassistant") as ha, client(secured, "camera") as camera:
        async with Watcher(ha, "homeassistant/#") as seen:
            await camera.publish("homeassistant/sensor/recorder/x/config", {"forged": 1})
            await camera.publish("homeassistant/sensor/camera/demo_fps/config", {"ok": 1})
            await seen.wait_for(topic="homeassistant/sensor/camera/demo_fps/config")
            assert not seen.on("homeassistant/sensor/recorder/x/config")
        await ha.publish("homeassistant/sensor/camera/demo_fps/config", b"", retain=True)


async def test_controllers_command_viewers_only_read(
    secured: tuple[MosquittoBroker, Path],
) -> None:
    async with (
        client(secured, "i2c-bridge") as bridge,
        client(secured, "viewer") as viewer,
        client(secured, "event-engine") as engine,
    ):
        async with Watcher(bridge, "roost/i2c-bridge/+/set") as sets:
            await viewer.publish("roost/i2c-bridge/pca9685-40/set", {"ch0_duty": 1})
            await viewer.publish("roost/viewer/x/state", {"forged": 1}, retain=True)
            await engine.publish("roost/i2c-bridge/pca9685-40/set", {"ch0_duty": 2})
            got = await sets.wait_json("roost/i2c-bridge/pca9685-40/set")
            assert got == {"ch0_duty": 2}
            assert len(sets.messages) == 1
        async with Watcher(viewer, "roost/#") as seen:
            await bridge.publish("roost/i2c-bridge/bme280-76/state", {"t": 1}, retain=True)
            await seen.wait_for(topic="roost/i2c-bridge/bme280-76/state")
            assert not seen.on("roost/viewer/x/state")
        await bridge.publish("roost/i2c-bridge/bme280-76/state", b"", retain=True)


async def test_requests_and_replies_work_through_the_acl(
    secured: tuple[MosquittoBroker, Path],
) -> None:
    """A node serves a method to the admin CLI: the request reaches only the node it is
    for, and the answer reaches the admin's reply inbox (Bus.sync uses it too)."""
    broker, data = secured
    settings = RoostSettings(
        mqtt=mqtt(broker, "i2c-bridge", read_password(data, "i2c-bridge")),
        node=NodeSettings(data_dir=data),
    )
    node = Node(settings, service="i2c-bridge")
    node.add_device("probe", DeviceMeta(name="P", properties={"v": PropertySpec(kind="number")}))

    async def echo(params: object) -> object:
        return {"echo": params}

    node.add_method("echo", echo)
    async with node, client(secured, "admin") as admin, client(secured, "camera") as camera:
        await node.wait_online(10)
        response = await admin.request("i2c-bridge", "echo", {"a": 1})
        assert response.ok and response.data == {"echo": {"a": 1}}
        await admin.sync()
        await camera.sync()  # a node's own inbox works too
        # A node may not call another node's methods (only controllers command).
        async with Watcher(admin, "roost/request/#") as requests:
            await camera.publish("roost/request/i2c-bridge/echo", {"id": 1, "params": {}})
            await admin.publish("roost/request/recorder/history", {"id": 2, "params": {}})
            await requests.wait_for(topic="roost/request/recorder/history")
            assert not requests.on("roost/request/i2c-bridge/echo")


async def test_anonymous_clients_are_clients_in_demo_mode(
    secured: tuple[MosquittoBroker, Path],
) -> None:
    async with client(secured, None) as anonymous, client(secured, "i2c-bridge") as bridge:
        await anonymous.sync()
        async with Watcher(anonymous, "roost/#") as seen:
            await anonymous.publish("roost/i2c-bridge/bme280-76/state", {"forged": 1})
            await anonymous.publish("roost/i2c-bridge/pca9685-40/set/ch0_duty", "40")
            await bridge.publish("roost/i2c-bridge/ok/state", {"v": 1})
            await seen.wait_for(topic="roost/i2c-bridge/ok/state")
            assert seen.on("roost/i2c-bridge/pca9685-40/set/ch0_duty")
            assert not seen.on("roost/i2c-bridge/bme280-76/state")


def test_init_again_keeps_passwords_and_rotate_replaces_one(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    first = initialise(data, TOPICS)
    assert first.admin_secret is not None
    recorder = read_password(data, "recorder")
    again = initialise(data, TOPICS)
    assert again.admin_secret is None and again.created == []
    assert read_password(data, "recorder") == recorder
    rotated = initialise(data, TOPICS, rotate=["recorder", "admin"])
    assert sorted(rotated.rotated) == ["admin", "recorder"]
    assert read_password(data, "recorder") != recorder
    assert rotated.admin_secret is not None and rotated.admin_secret != first.admin_secret
    entries = passwd.parse(passwd_path(data).read_text())
    new_recorder = read_password(data, "recorder")
    assert new_recorder is not None
    assert passwd.verify_password(new_recorder, entries["recorder"])
    assert passwd.verify_password(rotated.admin_secret, entries["admin"])
    acl = acl_path(data).read_text()
    assert "user recorder\n" in acl and "pattern readwrite roost/reply/%u/#" in acl
