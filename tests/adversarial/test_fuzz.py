"""No message stops a service: every roost service, each in its own process, takes a
seeded barrage of hostile messages on every topic it subscribes to — state, meta, event,
availability, blobs, frame descriptors, `/set` and `/set/<prop>`, requests (bad params,
ids, response topics), `homeassistant/status` — retained and not. Afterwards every one
is still running and online, never went offline, answers valid requests and commands,
stays within twice its memory from before (or stops growing over the barrage's second
half), logged no traceback, and answered or reported the bad messages: an answer for
every request (never `failed`), an error for every refused command, a reject in the
recorder's figures for every unreadable state, a live feed in strict JSON. The recorder
and the event engine (persistent sessions) then come back after a restart.

`ROOST_FUZZ_SEED` replays another barrage; the volume per service is printed."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from roost.bus import Bus, publish_properties
from roost.message import Message
from roost.mirror import StateView
from roost.models import DeviceMeta
from roost.settings import MqttSettings
from roost.testing.broker import MosquittoBroker
from roost.topics import Topics

from .fleet import APP_NODE, SERVICES, Fleet, fleet
from .hostile import Hostile

SEED = int(os.environ.get("ROOST_FUZZ_SEED", "20261202"))
ROUNDS = 500  # per node: /set, /set/<prop> and requests
SHARED_ROUNDS = 3000  # states, metas, events, availability, blobs, frame descriptors
# Methods that stop a service when asked: an answer, not a crash, so not fuzzed.
DOING_WHAT_THEY_SAY = {"shutdown"}
RESTARTED = ["recorder", "event-engine"]  # persistent sessions: bad input comes back
FAKE = "fz"  # a node that publishes whatever it likes on its own topics
FAKE_DEVICES = ["cam", "probe", "x"]
START_TIMEOUT = 180.0
# Response topics the broker lets through (it disconnects a client that sends wildcards
# or U+0000 in one) and one our own bus refuses to encode.
BAD_REPLY_TOPICS = ["$SYS/x", "a/b", "roost/fz/x/state", "ünï/\u202e", "x" * 70_000]


async def until(view: StateView, check: Callable[[], bool], timeout: float, what: str) -> None:
    try:
        async with view.changes() as changes, asyncio.timeout(timeout):
            while not check():
                await changes.get()
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


def unreadable_state(payload: bytes) -> bool:
    """Certainly a reject for the recorder: not empty, and not a JSON object."""
    if not payload:
        return False
    try:
        return not isinstance(json.loads(payload), dict)
    except (ValueError, RecursionError):
        return True


class Replies:
    """Answers to our requests, by correlation data."""

    def __init__(self) -> None:
        self.answers: dict[bytes, dict[str, Any]] = {}
        self.arrived = asyncio.Event()

    def on_message(self, message: Message) -> None:
        if message.correlation_data is None:
            return
        try:
            self.answers[message.correlation_data] = json.loads(message.payload)
        except ValueError:
            self.answers[message.correlation_data] = {"unreadable": True}
        self.arrived.set()

    async def wait(self, keys: set[bytes], timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while not keys <= self.answers.keys():
                    self.arrived.clear()
                    await self.arrived.wait()


def strict_json(text: str | bytes) -> Any:
    """Parse as a browser's JSON.parse would: NaN and Infinity are not JSON."""

    def refuse(constant: str) -> Any:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


@contextlib.asynccontextmanager
async def live_feed(data: Path, port: int) -> AsyncIterator[tuple[list[str], httpx.AsyncClient]]:
    """A logged-in page: its live feed (read all along) and its HTTP client."""
    link = (data / "webui" / "login-url").read_text().strip()  # written before it is online
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=base) as http:
        login = await http.get(re.sub(r"^https?://[^/]+", "", link), follow_redirects=False)
        assert login.status_code == 303, login.text
        cookies = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
        received: list[str] = []
        headers = {"Cookie": cookies, "Origin": base}
        async with connect(f"ws://127.0.0.1:{port}/ws", additional_headers=headers) as ws:

            async def read() -> None:
                async for text in ws:
                    received.append(str(text))

            reader = asyncio.create_task(read())
            try:
                yield received, http
            finally:
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await reader


def settable(meta: DeviceMeta) -> list[str]:
    return [name for name, spec in meta.properties.items() if spec.settable]


def valid_command(meta: DeviceMeta) -> dict[str, Any] | None:
    """One command the device must take: a switch, an option, or a number in range."""
    for name, spec in meta.properties.items():
        if not spec.settable:
            continue
        kind = spec.kind.value
        if kind == "switch":
            return {name: False}
        if kind == "enum" and spec.options:
            return {name: spec.options[0]}
        if kind == "number":
            low = spec.min if spec.min is not None else 0
            return {name: low}
    return None


@pytest.mark.timeout(600)
async def test_no_message_stops_any_service(tmp_path: Path) -> None:
    broker = MosquittoBroker(tmp_path / "broker")
    broker.start()
    try:
        async with fleet(broker, tmp_path) as running:
            await barrage(running, broker)
    finally:
        broker.stop()


async def barrage(running: Fleet, broker: MosquittoBroker) -> None:
    rng = Hostile(SEED)
    settings = MqttSettings(host=broker.host, port=broker.port)
    async with Bus(settings, reconnect=False, outbox_limit=100_000) as bus:
        t: Topics = bus.topics
        view = StateView(t)
        await view.attach(bus)
        offline: Counter[str] = Counter()

        def on_availability(message: Message) -> None:
            node = message.topic.split("/")[-2]
            if node in SERVICES and message.payload != b"online":
                offline[node] += 1

        replies = Replies()
        await bus.subscribe(t.replies(bus.reply_user), replies.on_message)
        errors: Counter[str] = Counter()
        error_arrived = asyncio.Event()
        probe_answers: dict[str, Message] = {}
        states: Counter[str] = Counter()

        def on_state(message: Message) -> None:
            states["/".join(message.topic.split("/")[1:3])] += 1

        def on_error(message: Message) -> None:
            node = message.topic.split("/")[1]
            errors[node] += 1
            error_arrived.set()
            with contextlib.suppress(ValueError):
                request_id = json.loads(message.payload).get("id")
                if isinstance(request_id, str) and request_id.startswith("probe-"):
                    probe_answers[request_id] = message

        await bus.subscribe(t.any_device("error"), on_error)
        await bus.subscribe(t.any_device("state"), on_state)

        def nodes_ready() -> bool:
            for name in SERVICES:
                node = view.nodes.get(name)
                if node is None or not node.online or node.info is None:
                    return False
                if any(
                    d not in node.devices or node.devices[d].meta is None for d in node.info.devices
                ):
                    return False
            return True

        for service in running.services.values():
            assert service.alive(), f"{service.name} exited at start:\n{service.tail()}"
        await until(view, nodes_ready, START_TIMEOUT, "every service online")
        await bus.subscribe(t.any_node("availability"), on_availability)

        # A fake camera the web UI follows (an image property) and the detector reads.
        cam_meta = {"name": "cam", "properties": {"snapshot": {"kind": "image"}}}
        await bus.publish(t.meta(FAKE, "cam"), cam_meta, retain=True)
        await bus.sync()
        before = {name: s.rss() for name, s in running.services.items()}
        volume: Counter[str] = Counter()
        families: Counter[str] = Counter()
        expected_errors: Counter[str] = Counter()
        unreadable_states = 0
        asked: set[bytes] = set()
        reply_topic = t.reply(bus.reply_user, "fuzz")
        bad_reply_to = [
            reply_topic + "/a\u0000b",
            reply_topic + "/+",
            t.reply_base() + "x" * 70_000,
            t.node_availability("i2c-bridge"),
            "",
        ]

        oversized: list[str] = []

        def send(topic: str, payload: bytes, *, retain: bool = False, **props: Any) -> None:
            if len(payload) > 1024 * 1024:
                oversized.append(topic + (" (retained)" if retain else ""))
            qos = rng.rng.choice([0, 1, 1])
            properties = publish_properties(**props) if props else None
            bus.publish_nowait(topic, payload, qos=qos, retain=retain, properties=properties)

        async with live_feed(running.data, running.web_port) as (feed, page):
            # Each node's own inbound topics: commands and requests.
            for name in SERVICES:
                node = view.nodes[name]
                assert node.info is not None
                # Its devices' settable properties, and a device it does not have.
                targets = {"no-such-device": ["level"]}
                for device_id in node.info.devices:
                    meta = node.devices[device_id].meta
                    assert meta is not None
                    targets[device_id] = settable(meta) or list(meta.properties)
                methods = [m for m in node.info.methods if m not in DOING_WHAT_THEY_SAY]
                methods += ["no_such_method", "No-Such", "x" * 100]
                for n in range(ROUNDS):
                    device_id = rng.rng.choice(sorted(targets))
                    props = targets[device_id]
                    roll = rng.rng.random()
                    if roll < 0.35:
                        payload = rng.command(props)
                        retained = rng.rng.random() < 0.1
                        send(t.set(name, device_id), payload, retain=retained)
                        # A device the node does not have gets no answer at all: an
                        # error on its topics would make it look like a device.
                        if payload and not retained and device_id != "no-such-device":
                            expected_errors[name] += 1
                        families["set"] += 1
                    elif roll < 0.55 and props:
                        prop = rng.rng.choice(props)
                        send(
                            t.set(name, device_id, prop), rng.bare(), retain=rng.rng.random() < 0.1
                        )
                        families["set/<prop>"] += 1
                    else:
                        method = rng.rng.choice(methods)
                        key = f"fz-{name}-{n}".encode()
                        good_reply = rng.rng.random() < 0.85
                        reply = reply_topic if good_reply else rng.rng.choice(BAD_REPLY_TOPICS)
                        if rng.rng.random() < 0.1:
                            # No response topic: the answer goes to reply_to, if it is
                            # an allowed one, else to the response topic of the method.
                            reply_to = rng.rng.choice(bad_reply_to)
                            send(f"{t.prefix}/request/{name}/{method}", rng.request(reply_to, []))
                            families["request"] += 1
                            volume[name] += 1
                            continue
                        spec = node.info.methods.get(method)
                        schema = spec.params if spec is not None and spec.params else {}
                        names = list(schema.get("properties", {}))
                        body = rng.request(rng.rng.choice([None, reply_topic, reply]), names)
                        if good_reply:
                            asked.add(key)
                            send(f"{t.prefix}/request/{name}/{method}", body, response_topic=reply,
                                 correlation_data=key)  # fmt: skip
                        else:
                            topic = f"{t.prefix}/request/{name}/{method}"
                            send(topic, body, response_topic=reply, correlation_data=key)
                        families["request"] += 1
                    volume[name] += 1
                send(t.ha_status(), rng.rng.choice([b"online", b"offline", rng.garbage()]))
                families["homeassistant/status"] += 1

            async def quiesce(tag: str) -> None:
                """Return once every node has read all we sent (its answer comes after)."""
                keys = set()
                for name in SERVICES:
                    key = f"{tag}-{name}".encode()
                    keys.add(key)
                    props = publish_properties(response_topic=reply_topic, correlation_data=key)
                    bus.publish_nowait(t.request(name, "no_such_method"), b"{}", properties=props)
                await replies.wait(keys, 60)

            # What every consumer reads: states, metas, events, availability, blobs. In two
            # halves: the RSS after the first is the warm level the second must keep to.
            shared = 0
            warm: dict[str, int] = {}
            for n in range(SHARED_ROUNDS):
                if n == SHARED_ROUNDS // 2:
                    await bus.flush(120)
                    await quiesce("warm")
                    warm = {name: s.rss() for name, s in running.services.items()}
                fake = rng.rng.choice(FAKE_DEVICES)
                retain = rng.rng.random() < 0.3
                roll = rng.rng.random()
                if roll < 0.35:
                    payload = rng.state(["level", "mode", "snapshot"])
                    send(t.state(FAKE, fake), payload, retain=retain)
                    unreadable_states += unreadable_state(payload)
                    families["state"] += 1
                elif roll < 0.5:
                    send(t.meta(FAKE, fake), rng.meta(), retain=retain)
                    families["meta"] += 1
                elif roll < 0.65:
                    send(t.event(FAKE, fake), rng.event())
                    families["event"] += 1
                elif roll < 0.72:
                    send(t.availability(FAKE, fake), rng.availability(), retain=retain)
                    families["availability"] += 1
                elif roll < 0.77:
                    owner = rng.rng.choice([FAKE, APP_NODE])
                    send(t.node_availability(owner), rng.availability(), retain=retain)
                    families["node availability"] += 1
                elif roll < 0.82:
                    leaf = rng.rng.choice(["info", "stats"])
                    send(f"{t.prefix}/{FAKE}/{leaf}", rng.garbage(), retain=retain)
                    families["info/stats"] += 1
                elif roll < 0.84:
                    send(t.blob(FAKE, "cam", "snapshot"), rng.garbage(), retain=retain)
                    families["blob"] += 1
                elif roll < 0.86:
                    # On many device ids too: the detector watches each as a camera.
                    cam = rng.rng.choice(["cam", f"cam-{rng.rng.randint(1, 40)}"])
                    send(t.blob(FAKE, cam, "jpeg"), rng.jpeg())
                    families["jpeg"] += 1
                elif roll < 0.9:
                    # The detector's state as the camera follows it (forged, not retained).
                    send(t.state("detector", "demo"), rng.state(["motion", "person"]))
                    families["forged detector state"] += 1
                else:
                    # Frame descriptors: the fake camera's, and forged for the real one.
                    cam_node, cam = rng.rng.choice([(FAKE, "cam"), ("camera", "demo")])
                    send(t.blob(cam_node, cam, "frame"), rng.descriptor())
                    families["frame descriptor"] += 1
                shared += 1
            await bus.flush(120)
            await quiesce("done")
            consumers = {
                "recorder": shared,
                "event-engine": shared,
                "webui": shared,
                "detector": families["frame descriptor"] + families["jpeg"],
                "supervisor": families["node availability"],
                "camera": families["forged detector state"],
            }
            for name, count in consumers.items():
                volume[name] += count
            print(f"\nfuzz seed {SEED}: messages per service {dict(volume)}")
            print(f"by kind {dict(families)}; total {sum(families.values())}")
            print(f"messages over 1 MB to: {oversized}")

            for name, service in running.services.items():
                assert service.alive(), f"{name} died:\n{service.tail()}"

            # Every request answered (valid reply space), bad or not.
            await replies.wait(asked, 60)
            unanswered = asked - replies.answers.keys()
            assert not unanswered, f"{len(unanswered)} requests got no answer"
            codes = Counter(
                (key.decode()[3:].rsplit("-", 1)[0], answer.get("error", {}).get("code", "ok"))
                for key, answer in replies.answers.items()
                if key in asked
            )
            print(f"answers by node and code: {dict(sorted(codes.items()))}")
            failed = {
                key: answer["error"]["message"]
                for key, answer in replies.answers.items()
                if key in asked and answer.get("error", {}).get("code") == "failed"
            }
            assert not failed, f"internal errors instead of a clear refusal: {failed}"

            # Still answering: a request and a valid command per node.
            probes: dict[str, bytes] = {}
            commands: dict[str, str] = {}
            marks: dict[str, int] = {}
            for name in SERVICES:
                key = f"probe-{name}".encode()
                probes[name] = key
                probe = publish_properties(response_topic=reply_topic, correlation_data=key)
                bus.publish_nowait(
                    t.request(name, "no_such_method"), b'{"id": 1}', properties=probe
                )
                node = view.nodes[name]
                for device in node.devices.values():
                    command = valid_command(device.meta) if device.meta else None
                    if command is not None:
                        commands[name] = f"{name}/{device.id}"
                        marks[name] = states[commands[name]]
                        command["id"] = f"probe-{name}"
                        bus.publish_nowait(t.set(name, device.id), command)
                        break
            await replies.wait(set(probes.values()), 30)
            for name, key in probes.items():
                answer = replies.answers.get(key)
                assert answer is not None, f"{name} stopped answering requests"
                assert answer["error"]["code"] == "unknown_method", answer

            def commands_answered() -> bool:
                return all(
                    f"probe-{name}" in probe_answers or states[ref] > marks[name]
                    for name, ref in commands.items()
                )

            await until(view, commands_answered, 30, f"answers to the commands {commands}")

            # Bad commands were each answered with an error; unreadable states rejected.
            try:
                async with asyncio.timeout(60):
                    while any(errors[n] < expected_errors[n] for n in expected_errors):
                        error_arrived.clear()
                        await error_arrived.wait()
            except TimeoutError:
                raise AssertionError(f"errors {dict(errors)} for {dict(expected_errors)}") from None
            status = await recorder_status(view, unreadable_states)
            assert status["errors"] >= unreadable_states

            # The web UI's live feed kept going, a page could parse all of it, and the
            # API still answers for every device, the fake ones too.
            assert feed, "the live feed sent nothing"
            for text in feed:
                strict_json(text)
            assert (await page.get("/healthz")).status_code == 200
            devices = await page.get("/api/devices")
            assert devices.status_code == 200, devices.text[:300]
            strict_json(devices.content)
            for fake in FAKE_DEVICES:
                one = await page.get(f"/api/devices/{FAKE}/{fake}")
                assert one.status_code in (200, 404), one.text[:300]
            blob = await page.get(f"/api/blobs/{FAKE}/cam/snapshot")
            assert blob.status_code in (200, 404), blob.text[:300]

        # Alive, online all along, within the memory bound, and nothing went unhandled.
        for name, service in running.services.items():
            assert service.alive(), f"{name} died:\n{service.tail()}"
            assert view.nodes[name].online, f"{name} is not online"
            assert offline[name] == 0, f"{name} went offline {offline[name]} times"
            # Within twice the RSS from before; or, if a burst of large messages raised it
            # more, not growing any further over the second half of the barrage.
            rss = service.rss()
            figures = f"{name}: RSS {before[name]} -> {warm[name]} (half way) -> {rss}"
            assert rss < 2 * before[name] or rss < 1.2 * warm[name], figures
            assert rss < 3 * before[name], figures
            log = service.log.read_text(errors="replace")
            assert "Traceback" not in log, f"{name} logged an unhandled error:\n{service.tail(60)}"
        print("RSS before/half way/after (MB): " + ", ".join(
            f"{n} {before[n] / 2**20:.0f}/{warm[n] / 2**20:.0f}/{s.rss() / 2**20:.0f}"
            for n, s in running.services.items()
        ))  # fmt: skip

        # The consumers with persistent sessions come back after a restart, with every
        # retained bad message and their queued sessions to read again.
        for name in RESTARTED:
            assert await running.stop(name) == 0
            await until(view, lambda: view.nodes[name].online is False, 30, f"{name} off")  # noqa: B023
            service = await running.start(name)
            await until(view, lambda: bool(view.nodes[name].online), 60, f"{name} back")  # noqa: B023
            key = f"again-{name}".encode()
            probe = publish_properties(response_topic=reply_topic, correlation_data=key)
            bus.publish_nowait(t.request(name, "no_such_method"), b"{}", properties=probe)
            await replies.wait({key}, 30)
            assert key in replies.answers, f"{name} answers nothing after a restart"
            assert service.alive()


async def recorder_status(view: StateView, at_least: int) -> dict[str, Any]:
    def state() -> dict[str, Any]:
        node = view.nodes.get("recorder")
        device = node.devices.get("database") if node else None
        return device.state if device else {}

    await until(
        view, lambda: state().get("errors", 0) >= at_least, 60, f"{at_least} recorder rejects"
    )
    return state()
