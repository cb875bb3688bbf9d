"""The broker under `roost init`'s configuration, attacked by every role.

The broker is a real Mosquitto run with the config `roost up` generates (mosquitto/roost.conf
with the password file and ACL `roost init` wrote), in demo mode (anonymous clients on
loopback) unless a test says otherwise. Each role — every node user, the controllers,
the clients, the viewer and anonymous — tries what it must not: write another node's
state, meta, availability, info or discovery, read what is not its own, make a node
answer onto a topic of the node's, take over a persistent session by its client id, and
start a second node with a live id. Every refusal is checked against a barrier (the
observer's own sync marker, sent after the attacker's publish was acknowledged), never
against the clock.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiomqtt
import pytest

from roost.bus import Bus, publish_properties
from roost.errors import BusError
from roost.liveness import DuplicateNode
from roost.models import DeviceMeta, PropertySpec
from roost.node import Node
from roost.settings import MqttSettings, NodeSettings, RoostSettings
from roost.testing import Watcher
from roost.testing.broker import MosquittoBroker
from roost.topics import Topics
from roost_supervisor.accounts import DEFAULT_USERS, initialise, load_users
from roost_supervisor.acl import Role
from roost_supervisor.broker import OwnBroker, find_template, mosquitto_binary
from roost_supervisor.launch import read_password

TOPICS = Topics("roost", "homeassistant")
VICTIM = "i2c-bridge"
ADMIN_SECRET = "admin.secret-for-tests"
METER = DeviceMeta(name="Meter", properties={"v": PropertySpec(kind="number")})


class GeneratedBroker(MosquittoBroker):
    """Mosquitto run with exactly the config `roost up` writes for its own broker."""

    def __init__(self, data: Path, *, anonymous: bool) -> None:
        super().__init__(data / "mosquitto")
        self.own = OwnBroker(
            data,
            self.port,
            binary=mosquitto_binary("mosquitto"),
            template=find_template(None),
            anonymous=anonymous,
        )

    def config(self) -> str:
        # As generated, plus stderr logging: start() waits for the "running" line there.
        return self.own.render() + "log_dest stderr\nlog_type information\n"


def _make(tmp: Path, *, anonymous: bool) -> tuple[GeneratedBroker, Path]:
    data = tmp / "data"
    report = initialise(data, TOPICS, add={"shell-script": Role.NODE}, anonymous=anonymous)
    assert report.admin_secret is not None
    (data / ADMIN_SECRET).write_text(report.admin_secret)
    broker = GeneratedBroker(data, anonymous=anonymous)
    broker.start()
    return broker, data


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GeneratedBroker, Path]]:
    broker, data = _make(tmp_path_factory.mktemp("demo"), anonymous=True)
    yield broker, data
    broker.stop()


def _password(data: Path, user: str | None) -> str | None:
    if user is None:
        return None
    if user == "admin":
        return (data / ADMIN_SECRET).read_text()
    return read_password(data, user)


def _mqtt(broker: MosquittoBroker, data: Path, user: str | None) -> MqttSettings:
    return MqttSettings(
        host=broker.host,
        port=broker.port,
        username=user,
        password=_password(data, user),
        keepalive=10,
    )


@contextlib.asynccontextmanager
async def login(
    secured: tuple[MosquittoBroker, Path], user: str | None, client_id: str | None = None
) -> AsyncIterator[Bus]:
    broker, data = secured
    async with Bus(_mqtt(broker, data, user), client_id=client_id, reconnect=False) as bus:
        yield bus


def _settings(secured: tuple[MosquittoBroker, Path], user: str) -> RoostSettings:
    broker, data = secured
    return RoostSettings(mqtt=_mqtt(broker, data, user), node=NodeSettings(data_dir=data))


def _users(data: Path) -> list[str]:
    return sorted({**DEFAULT_USERS, **load_users(data)})


ATTACKERS = [*sorted(user for user in DEFAULT_USERS if user != VICTIM), "shell-script", None]


def _forgeries() -> dict[str, str]:
    t = TOPICS
    return {
        "state": t.state(VICTIM, "meter"),
        "meta": t.meta(VICTIM, "meter"),
        "device availability": t.availability(VICTIM, "meter"),
        "availability": t.node_availability(VICTIM),
        "info": t.node_info(VICTIM),
        "discovery": t.discovery("sensor", VICTIM, "meter_v"),
        "response": t.response(VICTIM, "echo"),
    }


@pytest.mark.parametrize("attacker", ATTACKERS, ids=lambda u: u or "anonymous")
async def test_no_role_writes_another_nodes_topics(
    demo: tuple[GeneratedBroker, Path], attacker: str | None
) -> None:
    async with (
        login(demo, "admin") as observer,
        login(demo, "homeassistant") as ha,
        login(demo, attacker) as evil,
    ):
        own = await Watcher(observer, f"{TOPICS.prefix}/#").start()
        discovery = await Watcher(ha, f"{TOPICS.discovery_prefix}/#").start()
        forged = _forgeries()
        for topic in forged.values():
            await evil.publish(topic, b'{"forged": true}', retain=True)
        # The attacker's publishes were acknowledged (so handled) before these markers.
        await observer.sync()
        await ha.sync()
        seen = {m.topic for m in own.messages} | {m.topic for m in discovery.messages}
        assert not seen & set(forged.values()), sorted(seen & set(forged.values()))


@pytest.mark.parametrize(
    ("reader", "readable", "inbox"),
    [
        ("camera", False, False),
        ("shell-script", False, False),
        ("viewer", True, False),
        ("nodered", True, False),
        ("homeassistant", True, False),
        # Nodes that read everything also answer requests: they keep the reply tree.
        ("recorder", True, True),
        ("webui", True, True),
        (None, True, True),  # demo mode: anonymous reads like a viewer (loopback only)
    ],
    ids=lambda v: str(v),
)
async def test_what_each_role_may_read(
    demo: tuple[GeneratedBroker, Path], reader: str | None, readable: bool, inbox: bool
) -> None:
    async with login(demo, VICTIM) as victim, login(demo, reader) as spy:
        everything = await Watcher(spy, f"{TOPICS.prefix}/#").start()
        inboxes = await Watcher(spy, f"{TOPICS.prefix}/reply/admin/#").start()
        secret_topic = TOPICS.state(VICTIM, "meter")
        await victim.publish(secret_topic, b'{"v": 1}')
        await victim.publish(TOPICS.reply("admin", "answer/1"), b'{"id": 1, "status": "ok"}')
        await spy.sync()
        assert bool(everything.on(secret_topic)) is readable
        assert bool(inboxes.messages) is inbox


@pytest.mark.parametrize("asker", ["admin", "webui", None], ids=lambda u: u or "anonymous")
@pytest.mark.parametrize("how", ["response_topic", "reply_to"])
async def test_a_request_cannot_make_a_node_publish_on_its_own_topics(
    demo: tuple[GeneratedBroker, Path], asker: str | None, how: str
) -> None:
    node = Node(_settings(demo, VICTIM), service=VICTIM)
    node.add_device("meter", METER).update(v=1)

    async def echo(params: object) -> object:
        return {"echo": params}

    node.add_method("echo", echo)
    async with node, login(demo, "admin") as observer, login(demo, asker) as evil:
        await node.wait_online(10)
        watch = await Watcher(observer, f"{TOPICS.prefix}/#").start()
        mark = watch.mark()
        for aimed in (
            TOPICS.node_availability(VICTIM),
            TOPICS.state(VICTIM, "meter"),
            TOPICS.state("recorder", "database"),
        ):
            body: dict[str, object] = {"id": aimed, "params": {}}
            props = None
            if how == "reply_to":
                body["reply_to"] = aimed
            else:
                props = publish_properties(response_topic=aimed, correlation_data=b"x")
            await evil.publish(TOPICS.request(VICTIM, "echo"), body, properties=props)
            refused = await watch.wait_json(
                TOPICS.response(VICTIM, "echo"), lambda a, aimed=aimed: a["id"] == aimed
            )
            assert refused["error"]["code"] == "invalid_request"
        await observer.sync()
        hit = [m.topic for m in watch.messages[mark:] if not m.topic.startswith("roost/re")]
        assert hit == [], hit
        assert node.bus.connects == 1


@pytest.mark.parametrize("intruder", ["viewer", "admin", None], ids=lambda u: u or "anonymous")
@pytest.mark.parametrize("victim", ["recorder", "event-engine"])
async def test_no_login_can_take_over_a_persistent_session(
    demo: tuple[GeneratedBroker, Path], intruder: str | None, victim: str
) -> None:
    broker, data = demo
    node = Node(_settings(demo, victim), service=victim, persistent_session=True)
    node.add_device("meter", METER)
    async with node:
        await node.wait_online(10)
        for clean in (True, False):
            # The client id everyone knows (the node id) and the one the session used
            # before roost made it a secret: both name nothing of the node's.
            async with login(demo, intruder, client_id=victim) as evil:
                await evil.sync()
                assert evil.client_id == victim
            m = _mqtt(broker, data, intruder)
            async with aiomqtt.Client(
                m.host,
                m.port,
                identifier=victim,
                username=m.username,
                password=m.password.get_secret_value() if m.password else None,
                protocol=aiomqtt.ProtocolVersion.V5,
                clean_start=clean,
            ) as raw:
                await raw.publish(f"{TOPICS.prefix}/reply/x/y", b"1", qos=1)
        async with login(demo, "admin") as admin:
            answer = await admin.request(victim, "ping", timeout=5)
        assert answer.error is not None  # it answered: still connected
        assert node.bus.connects == 1 and node.bus.connected.is_set()


async def test_a_duplicate_node_is_refused_and_the_live_one_keeps_its_topics(
    demo: tuple[GeneratedBroker, Path],
) -> None:
    live = Node(_settings(demo, VICTIM), service=VICTIM)
    live.add_device("meter", METER).update(v=3)
    async with live, login(demo, "admin") as observer:
        await live.wait_online(10)
        own = await Watcher(observer, TOPICS.all_of_node(VICTIM)).start()
        mark = own.mark()
        retained = {m.topic: m.payload for m in own.messages if m.retain}
        assert retained[TOPICS.node_availability(VICTIM)] == b"online"
        twin = Node(_settings(demo, VICTIM), service=VICTIM)
        twin.add_device("other", METER)
        with pytest.raises(DuplicateNode, match=r"already live .*pid \d+"):
            async with asyncio.timeout(30), twin:
                await asyncio.Event().wait()
        await observer.sync()
        assert own.messages[mark:] == []
        assert live.bus.connects == 1
        async with login(demo, "viewer") as later:
            again = await Watcher(later, TOPICS.all_of_node(VICTIM)).start()
        assert {m.topic: m.payload for m in again.messages if m.retain} == retained


async def test_without_demo_mode_anonymous_clients_are_refused(tmp_path: Path) -> None:
    broker, data = _make(tmp_path, anonymous=False)
    try:
        with pytest.raises(BusError, match=r"(?i)not authori|refused"):
            async with login((broker, data), None):
                pass
        async with login((broker, data), "viewer") as viewer:
            await viewer.sync()
    finally:
        broker.stop()


def test_every_user_roost_init_made_is_an_attacker(demo: tuple[GeneratedBroker, Path]) -> None:
    """A new default user must join the attacks above, not slip past them."""
    _, data = demo
    assert set(_users(data)) - {VICTIM} == {a for a in ATTACKERS if a is not None}
