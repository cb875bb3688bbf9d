"""The node runtime: one service process, one MQTT client, the devices it owns.

On every connect it runs the sequence docs/topics.md gives: last will set; info; subscribe to its
`set` topics (retain-as-published), its requests and `homeassistant/status`; every meta,
state, device availability, blob and discovery config it owns; then `online`. On the
first connect it first reads back what is retained under its own topics, so it can clear
what it no longer owns (no ghost entities) and restore devices that ask for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import aiomqtt
from pydantic import BaseModel, JsonValue, ValidationError
from pydantic_core import from_json

from roost import __version__, discovery
from roost.bus import Bus, Connection, encode, publish_properties
from roost.clock import iso
from roost.coerce import coerce_command
from roost.device import Device, SetHandler
from roost.errors import CommandError, ErrorCode, TopicError
from roost.liveness import DuplicateNode, duplicate_message, live_node
from roost.message import Message
from roost.models.messages import AckPayload, ErrorBody, ErrorPayload, Request, Response
from roost.models.meta import DeviceMeta, MethodSpec
from roost.models.node import NodeInfo, NodeStats
from roost.outbox import Outgoing
from roost.procstats import LoopLag, ProcessSample
from roost.session import session_client_id
from roost.settings import RoostSettings
from roost.topics import REPLY_USER, TopicKind, check_device_id, check_name, check_node_id

log = logging.getLogger("roost.node")

NodeMethod = Callable[[Any], Awaitable[JsonValue]]
STATS_INTERVAL = 30.0
STATS_EXPIRY = 90
SESSION_EXPIRY = 7 * 24 * 3600
MAX_REPLY_TOPIC = 1024


@dataclass(frozen=True)
class _NodeMethod:
    handler: NodeMethod
    params: type[BaseModel] | None
    spec: MethodSpec


class Node:
    """A running service. Add devices and methods, then `async with node:`."""

    def __init__(
        self,
        settings: RoostSettings,
        *,
        service: str,
        node_id: str | None = None,
        version: str = __version__,
        persistent_session: bool = False,
        defer_cleanup: bool = False,
        stats_interval: float = STATS_INTERVAL,
    ) -> None:
        self.settings = settings
        self.service = service
        self.version = version
        self.id = check_node_id(node_id or settings.node_id(service))
        self.topics = settings.mqtt.topics()
        self.devices: dict[str, Device] = {}
        self.methods: dict[str, _NodeMethod] = {}
        self.readback: dict[str, bytes] = {}
        self.started = iso()
        self._started_at = time.monotonic()
        self._defer_cleanup = defer_cleanup
        self._read_back_done = False
        self._stats_interval = stats_interval
        self._device_methods: set[str] = set()
        self._errors = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._birth: asyncio.TimerHandle | None = None
        self._lag = LoopLag()
        self._proc = ProcessSample()
        self._running = False
        self._host: asyncio.Task[Any] | None = None
        self._unique = asyncio.Event()
        self.refused: DuplicateNode | None = None
        # A persistent session's client id is a secret of the data dir (roost.session):
        # nobody else can take the session over. Others are random, never reused.
        client_id = (
            session_client_id(settings.node.data_dir, self.id)
            if persistent_session
            else f"{self.id}-{uuid.uuid4().hex}"
        )
        self.bus = Bus(
            settings.mqtt,
            client_id=client_id,
            clean_start=not persistent_session,
            session_expiry=SESSION_EXPIRY if persistent_session else 0,
            will=aiomqtt.Will(
                self.topics.node_availability(self.id), b"offline", qos=1, retain=True
            ),
            on_connect=self._on_connect,
            preflight=self._refuse_duplicate,
        )

    def __repr__(self) -> str:
        return f"Node({self.id})"

    # building the node ---------------------------------------------------------------
    def add_device(
        self,
        device_id: str,
        meta: DeviceMeta,
        *,
        on_set: SetHandler | None = None,
        heartbeat: float | None = None,
        available: bool = True,
        restore: bool = False,
    ) -> Device:
        """Own a device: its meta, state, availability and discovery are published now
        (if connected) and on every connect. `on_set` applies validated commands."""
        check_device_id(device_id)
        if device_id in self.devices:
            raise ValueError(f"{self} already has a device {device_id!r}")
        device = Device(
            self,
            device_id,
            meta,
            on_set=on_set,
            heartbeat=heartbeat,
            available=available,
            restore=restore,
        )
        self.devices[device_id] = device
        if self._running:
            device.start()
            if device.restore:
                self._restore(device)
            self.publish_device(device)
            self._publish_info()
        return device

    def publish_device(self, device: Device) -> None:
        """(Re)publish meta, discovery, state and availability of one device."""
        for item in self._device_messages(device):
            self.bus.publish_nowait(
                item.topic, item.payload, qos=item.qos, retain=True, properties=item.properties
            )

    async def remove_device(self, device_id: str) -> None:
        """Stop owning a device and clear its retained meta, state, availability,
        blobs and discovery."""
        device = self.devices.pop(device_id)
        await device.stop()
        for topic in self._device_topics(device):
            self.bus.publish_nowait(topic, b"", retain=True)
        self._publish_info()

    def add_method(
        self,
        name: str,
        handler: NodeMethod,
        *,
        params: type[BaseModel] | None = None,
        title: str | None = None,
        description: str | None = None,
    ) -> None:
        """Serve `roost/request/<node>/<name>`; `handler(params)` returns the data."""
        check_name(name, "method")
        if name in self._device_methods:
            raise ValueError(f"method {name!r} is already a device method")
        spec = MethodSpec(
            name=title,
            description=description,
            params=params.model_json_schema() if params else None,
        )
        self.methods[name] = _NodeMethod(handler, params, spec)

    def register_device_method(self, name: str) -> None:
        check_name(name, "method")
        if name in self.methods:
            raise ValueError(f"method {name!r} is already a node method")
        self._device_methods.add(name)

    def info(self, state: str = "running") -> NodeInfo:
        return NodeInfo(
            service=self.service,
            version=self.version,
            host=socket.gethostname(),
            pid=os.getpid(),
            started=self.started,
            state="running" if state == "running" else "stopped",
            devices=sorted(self.devices),
            methods={name: method.spec for name, method in self.methods.items()},
        )

    def answer_budget(self) -> int:
        """Bytes a method's answer may take: `[mqtt] max_answer_bytes`, and below the
        broker's packet limit with room for the topic, properties and envelope."""
        return max(1024, min(self.settings.mqtt.max_answer_bytes, self.bus.max_packet - 2048))

    def count_error(self) -> None:
        self._errors += 1

    # life cycle ------------------------------------------------------------------------
    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
        if self.refused is not None:
            task = asyncio.current_task()
            if task is self._host and task is not None and task.cancelling():
                task.uncancel()  # the cancel was ours, to stop the body: it becomes this error
            raise self.refused from None

    async def start(self) -> None:
        """Start serving; returns at once, the connection follows (before the first
        connect, a live node with the same id makes this node refuse: see `refused`)."""
        self._running = True
        self._host = asyncio.current_task()
        await self._subscribe_own()
        for device in self.devices.values():
            device.start()
        self._lag.start()
        self._spawn(self._stats_loop(), "stats")
        await self.bus.start()

    async def stop(self) -> None:
        """info.state `stopped`, `offline`, a clean disconnect: within 2 s."""
        if not self._running:
            return
        self._running = False
        if self._birth is not None:
            self._birth.cancel()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(*(device.stop() for device in self.devices.values()))
        await self._lag.stop()
        if self.refused is None:  # a refused node never connected: the topics are another's
            self.publish_retained(self.topics.node_info(self.id), self.info("stopped"))
            self.publish_retained(self.topics.node_availability(self.id), "offline")
        await self.bus.close(flush_timeout=1.5)
        log.info("%s stopped", self)

    def _spawn(self, coro: Awaitable[Any], name: str) -> None:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        task.set_name(f"{self.id} {name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def wait_online(self, timeout: float | None = None) -> None:
        """Wait until the connect sequence has completed once."""
        await self.bus.wait_connected(timeout)

    async def confirmed_unique(self) -> None:
        """Return once the broker has been asked and no live node has this id (a second
        connection of this process, e.g. a persistent-session one, waits for this)."""
        await self._unique.wait()

    async def _refuse_duplicate(self) -> None:
        """Before the first connect: refuse to start when a live node with this id
        answers on the broker. Cancels the task that started the node; `async with node`
        then raises DuplicateNode (a ConfigError: the service exits with code 2)."""
        info = await live_node(self.settings.mqtt, self.id)
        if info is None:
            self._unique.set()
            return
        self.refused = DuplicateNode(duplicate_message(self.id, info, self.settings.mqtt))
        log.error("%s", self.refused)
        if self._host is not None and not self._host.done():
            self._host.cancel()
        raise self.refused

    # the connect sequence --------------------------------------------------------------
    async def _subscribe_own(self) -> None:
        """Register the node's subscriptions; the bus makes them on every connect."""
        for topic_filter in self.topics.node_sets(self.id):
            await self.bus.subscribe(topic_filter, self._on_set, retain_as_published=True)
        await self.bus.subscribe(
            self.topics.node_requests(self.id), self._on_request, retain_as_published=True
        )
        await self.bus.subscribe(self.topics.ha_status(), self._on_ha_status)

    async def _on_connect(self, conn: Connection) -> None:
        self.bus.discard_pending_retained()
        first = not self._read_back_done
        if first:
            await self._read_back()
            for device in self.devices.values():
                if device.restore:
                    self._restore(device)
        await conn.publish(self._retained(self.topics.node_info(self.id), self.info()))
        await conn.subscribe_all()
        if first and not self._defer_cleanup:
            await conn.publish_many(self._stale_clears())
        messages: list[Outgoing] = []
        for device in list(self.devices.values()):
            messages.extend(self._device_messages(device))
        messages.extend(self._node_discovery())
        await conn.publish_many(messages)
        await conn.publish(self._retained(self.topics.node_availability(self.id), "online"))
        self._publish_stats()
        log.info("%s online with %d devices", self, len(self.devices))

    async def _read_back(self) -> None:
        found: dict[str, bytes] = {}

        def collect(message: Message) -> None:
            if message.retain and message.payload:
                found[message.topic] = message.payload

        subs = [
            await self.bus.subscribe(self.topics.all_of_node(self.id), collect),
            await self.bus.subscribe(self.topics.node_discovery(self.id), collect),
        ]
        try:
            await self.bus.sync()
        finally:
            for sub in subs:
                await sub.remove()
        self.readback = found
        self._read_back_done = True

    def _restore(self, device: Device) -> None:
        raw = self.readback.get(self.topics.state(self.id, device.id))
        if raw is None:
            return
        try:
            state = from_json(raw)
        except ValueError:
            return
        if isinstance(state, dict):
            device.adopt(state)

    def _owned_topics(self) -> set[str]:
        owned = {
            self.topics.node_info(self.id),
            self.topics.node_availability(self.id),
            self.topics.node_stats(self.id),
        }
        for device in self.devices.values():
            owned.update(self._device_topics(device))
        if self.settings.mqtt.discovery:
            owned.update(topic for topic, _ in self._node_discovery_configs().items())
        return owned

    def _stale_clears(self) -> list[Outgoing]:
        owned = self._owned_topics()
        stale = []
        for topic in sorted(self.readback):
            if topic in owned:
                continue
            with contextlib.suppress(TopicError):
                kind = self.topics.parse(topic).kind
                if kind in (TopicKind.SET, TopicKind.SET_PROP, TopicKind.REQUEST):
                    continue  # a replayed command: the set handler reports and clears it
            stale.append(topic)
        for topic in stale:
            log.info("clearing %s: no longer owned", topic)
            del self.readback[topic]
        return [Outgoing(topic, b"", qos=1, retain=True) for topic in stale]

    async def clear_stale(self) -> int:
        """Clear retained topics found at start that the node does not own now.

        For nodes made with `defer_cleanup=True` (devices found by a scan); returns the
        number cleared.
        """
        clears = self._stale_clears()
        for item in clears:
            self.bus.publish_nowait(item.topic, b"", retain=True)
        return len(clears)

    # messages the node owns ----------------------------------------------------------
    def _retained(self, topic: str, payload: object, qos: int = 1) -> Outgoing:
        return Outgoing(topic, encode(payload), qos=qos, retain=True)

    def publish_retained(self, topic: str, payload: object, *, qos: int = 1) -> None:
        self.bus.publish_nowait(topic, payload, qos=qos, retain=True)

    def _publish_info(self) -> None:
        self.publish_retained(self.topics.node_info(self.id), self.info())

    def _device_topics(self, device: Device) -> set[str]:
        topics = {
            self.topics.meta(self.id, device.id),
            self.topics.state(self.id, device.id),
            self.topics.availability(self.id, device.id),
        }
        for prop, spec in device.meta.properties.items():
            if spec.kind.value == "image":
                topics.add(self.topics.blob(self.id, device.id, prop))
        if self.settings.mqtt.discovery:
            topics.update(discovery.device_configs(self.topics, self.id, device.id, device.meta))
        return topics

    def _device_messages(self, device: Device) -> list[Outgoing]:
        out = [self._retained(self.topics.meta(self.id, device.id), device.meta.wire())]
        if self.settings.mqtt.discovery:
            configs = discovery.device_configs(self.topics, self.id, device.id, device.meta)
            out.extend(self._retained(topic, payload) for topic, payload in configs.items())
        out.append(self._retained(self.topics.state(self.id, device.id), device.state_payload()))
        for prop, data in device.blobs.items():
            out.append(self._retained(self.topics.blob(self.id, device.id, prop), data, qos=0))
        out.append(
            self._retained(
                self.topics.availability(self.id, device.id),
                "online" if device.available else "offline",
            )
        )
        return out

    def _node_discovery_configs(self) -> dict[str, dict[str, Any]]:
        methods = {name: method.spec for name, method in self.methods.items()}
        return discovery.node_configs(self.topics, self.id, self.service, self.version, methods)

    def _node_discovery(self) -> list[Outgoing]:
        if not self.settings.mqtt.discovery:
            return []
        return [self._retained(t, p) for t, p in self._node_discovery_configs().items()]

    # Home Assistant birth --------------------------------------------------------------
    def _on_ha_status(self, message: Message) -> None:
        if message.payload.strip().lower() != b"online" or not self.settings.mqtt.discovery:
            return
        low, high = self.settings.mqtt.ha_birth_delay
        if self._birth is not None:
            self._birth.cancel()
        delay = random.uniform(low, high)
        log.info("Home Assistant came online; re-publishing discovery in %.1f s", delay)
        self._birth = asyncio.get_running_loop().call_later(delay, self._republish_for_ha)

    def _republish_for_ha(self) -> None:
        self._birth = None
        for item in self._node_discovery():
            self.bus.publish_nowait(item.topic, item.payload, retain=True)
        for device in self.devices.values():
            configs = discovery.device_configs(self.topics, self.id, device.id, device.meta)
            for topic, payload in configs.items():
                self.publish_retained(topic, payload)
            self.publish_retained(
                self.topics.availability(self.id, device.id),
                "online" if device.available else "offline",
            )
        self.publish_retained(self.topics.node_availability(self.id), "online")

    # stats -----------------------------------------------------------------------------
    async def _stats_loop(self) -> None:
        while True:
            await asyncio.sleep(self._stats_interval)
            if self.bus.connected.is_set():
                self._publish_stats()

    def stats(self) -> NodeStats:
        counters = self.bus.counters
        return NodeStats(
            uptime=round(time.monotonic() - self._started_at, 1),
            messages_in=counters.received,
            messages_out=counters.sent,
            errors=self._errors + counters.errors,
            rss=self._proc.rss(),
            cpu=round(self._proc.cpu(), 1),
            loop_lag=round(self._lag.take() * 1000, 1),
            ts=iso(),
        )

    def _publish_stats(self) -> None:
        self.bus.publish_nowait(
            self.topics.node_stats(self.id),
            self.stats(),
            qos=0,
            retain=True,
            properties=publish_properties(expiry=STATS_EXPIRY),
        )

    # errors ----------------------------------------------------------------------------
    def publish_error(
        self,
        device_id: str,
        code: ErrorCode | str,
        message: str,
        *,
        prop: str | None = None,
        request_id: str | int | None = None,
    ) -> None:
        """An error on `roost/<node>/<device>/error` and a log line."""
        self._errors += 1
        log.warning("%s/%s: %s: %s", self.id, device_id, code, message)
        payload = ErrorPayload(code=str(code), message=message, prop=prop, id=request_id, ts=iso())
        try:
            topic = self.topics.error(self.id, device_id)
        except TopicError:
            return  # a device id that cannot even form a topic: the log line is all we can do
        self.bus.publish_nowait(topic, payload.model_dump_json())

    def publish_ack(
        self, device_id: str, request_id: str | int, applied: Mapping[str, JsonValue]
    ) -> None:
        """The answer to an applied command that carried an id, on `…/<device>/ack`; queued
        after the state that shows it, so a client sees that state first."""
        payload = AckPayload(id=request_id, applied=dict(applied), ts=iso())
        self.bus.publish_nowait(self.topics.ack(self.id, device_id), payload.model_dump_json())

    def _unknown_device(self, device_id: str, message: Message) -> None:
        """A command to a device this node does not have. Nothing goes on that device's
        topics, which would make it look like a device to whoever reads them: a log line
        and the error count only (a retained one is still cleared)."""
        if message.retain and not message.payload:
            return  # the clearing of a retained one
        self._errors += 1
        log.warning("%s: ignored a command for %r, which it does not have", self.id, device_id)
        if message.retain:
            self.bus.publish_nowait(message.topic, b"", retain=True)

    # commands --------------------------------------------------------------------------
    def _on_set(self, message: Message) -> None:
        try:
            parsed = self.topics.parse(message.topic)
        except TopicError as exc:
            levels = message.topic.split("/")
            device_id = levels[len(self.topics.prefix.split("/")) + 1]
            if device_id in self.devices:
                self.publish_error(
                    device_id,
                    ErrorCode.INVALID_COMMAND,
                    str(exc),
                    request_id=_correlation(message),
                )
            else:
                self._unknown_device(device_id, message)
            return
        assert parsed.device is not None
        device_id = parsed.device
        request_id = _correlation(message)
        device = self.devices.get(device_id)
        if device is None:
            self._unknown_device(device_id, message)
            return
        if message.retain:
            if message.payload:
                self.publish_error(
                    device_id,
                    ErrorCode.RETAINED_COMMAND,
                    "commands must not be retained; ignored and cleared",
                    prop=parsed.prop,
                    request_id=request_id,
                )
                self.bus.publish_nowait(message.topic, b"", retain=True)
            return
        try:
            raw, request_id = self._parse_command(parsed.prop, message, request_id)
            values = {name: self._coerce(device, name, value) for name, value in raw.items()}
        except CommandError as exc:
            device.error(exc.code, exc.message, prop=exc.prop, request_id=request_id)
            return
        except Exception as exc:  # a bug in validation must not cost the command an answer
            log.exception("%s: reading a command on %s failed", self, message.topic)
            device.error(ErrorCode.FAILED, f"{type(exc).__name__}: {exc}", request_id=request_id)
            return
        device.submit_command(values, request_id)

    def _parse_command(
        self, prop: str | None, message: Message, request_id: str | int | None
    ) -> tuple[dict[str, Any], str | int | None]:
        """The command's raw `{prop: value}` and its id (from JSON `id` or correlation)."""
        limit = self.settings.mqtt.max_command_bytes
        if len(message.payload) > limit:
            raise CommandError(
                ErrorCode.PAYLOAD_TOO_LARGE,
                f"command of {len(message.payload)} bytes is over the {limit} byte limit",
                prop=prop,
            )
        try:
            text = message.text()
        except UnicodeDecodeError:
            raise CommandError(
                ErrorCode.INVALID_ENCODING, "command payload is not UTF-8", prop=prop
            ) from None
        if prop is not None:
            if not text.strip():
                raise CommandError(ErrorCode.INVALID_COMMAND, "empty command", prop=prop)
            return {prop: text.strip()}, request_id
        try:
            parsed = from_json(text, allow_inf_nan=False)
        except ValueError as exc:
            raise CommandError(ErrorCode.INVALID_JSON, f"command is not JSON: {exc}") from None
        if not isinstance(parsed, dict):
            raise CommandError(
                ErrorCode.INVALID_COMMAND,
                'a command is a JSON object of properties, e.g. {"duty": 40}',
            )
        given_id = parsed.pop("id", None)
        if isinstance(given_id, str | int) and not isinstance(given_id, bool):
            request_id = given_id
        if not parsed:
            raise CommandError(ErrorCode.INVALID_COMMAND, "command names no property")
        return parsed, request_id

    def _coerce(self, device: Device, name: str, value: Any) -> JsonValue:
        spec = device.meta.properties.get(name)
        if spec is None:
            raise CommandError(
                ErrorCode.UNKNOWN_PROPERTY,
                f"{device.id} has no property {name!r}",
                prop=name if _printable(name) else None,
            )
        return coerce_command(name, spec, value)

    # requests --------------------------------------------------------------------------
    def _on_request(self, message: Message) -> None:
        method = message.topic.rsplit("/", 1)[-1]
        if message.retain:
            if message.payload:
                log.warning("ignoring and clearing a retained request on %s", message.topic)
                self.bus.publish_nowait(message.topic, b"", retain=True)
            return
        try:
            request = Request.model_validate_json(message.payload)
        except ValidationError as exc:
            self._respond(message, method, None, None, _request_error(exc))
            return
        if self._answer_topic(message, method, request) is None:
            self._respond(message, method, request, None, self._refusal(message, request))
            return  # the method never runs for a requester that aims its answer elsewhere
        if method in self.methods:
            self._spawn(self._serve(message, method, request), f"request {method}")
        elif method in self._device_methods:
            self._serve_device(message, method, request)
        else:
            self._respond(
                message,
                method,
                request,
                None,
                CommandError(ErrorCode.UNKNOWN_METHOD, f"{self.id} has no method {method!r}"),
            )

    async def _serve(self, message: Message, method: str, request: Request) -> None:
        entry = self.methods[method]
        try:
            params: Any = (
                entry.params.model_validate(request.params) if entry.params else request.params
            )
        except ValidationError as exc:
            self._respond(message, method, request, None, _params_error(exc))
            return
        try:
            data = await entry.handler(params)
        except CommandError as exc:
            self._respond(message, method, request, None, exc)
        except Exception as exc:
            log.exception("%s: method %s failed", self, method)
            self._errors += 1
            self._respond(message, method, request, None, CommandError(ErrorCode.FAILED, f"{exc}"))
        else:
            self._respond(message, method, request, data, None)

    def _serve_device(self, message: Message, method: str, request: Request) -> None:
        device_id = request.params.get("device")
        device = self.devices.get(device_id) if isinstance(device_id, str) else None
        if device is None or method not in device.methods:
            error = CommandError(
                ErrorCode.INVALID_PARAMS,
                f"{method} needs params.device naming a device of {self.id} that has it",
            )
            self._respond(message, method, request, None, error)
            return
        entry = device.methods[method]
        params_in = {k: v for k, v in request.params.items() if k != "device"}
        try:
            params: Any = entry.params.model_validate(params_in) if entry.params else params_in
        except ValidationError as exc:
            self._respond(message, method, request, None, _params_error(exc))
            return
        future = device.submit_call(method, params)

        def done(fut: asyncio.Future[JsonValue]) -> None:
            if fut.cancelled():
                return
            error = fut.exception()
            if error is None:
                self._respond(message, method, request, fut.result(), None)
            elif isinstance(error, CommandError):
                self._respond(message, method, request, None, error)
            else:
                log.error("%s/%s: method %s failed: %s", self.id, device.id, method, error)
                self._errors += 1
                self._respond(
                    message, method, request, None, CommandError(ErrorCode.FAILED, str(error))
                )

        future.add_done_callback(done)

    def _respond(
        self,
        message: Message,
        method: str,
        request: Request | None,
        data: JsonValue,
        error: CommandError | None,
    ) -> None:
        request_id = request.id if request is not None else None
        response = (
            Response(id=request_id, status="ok", data=data)
            if error is None
            else Response(
                id=request_id,
                status="error",
                error=ErrorBody(code=str(error.code), message=error.message),
            )
        )
        if error is not None:
            log.info("%s: request %s refused: %s", self, method, error.message)
        asked = _asked(message, request)
        topic = self._answer_topic(message, method, request)
        if topic is None:  # aimed outside the reply space: answered at the default instead
            topic = self._response_topic(method)
            self._errors += 1
            log.warning(
                "%s: request %s asked for its answer at %r, outside the reply space: "
                "answered at %s",
                self,
                method[:80],
                asked[:200],
                topic,
            )
        if not topic:  # no such method can have a response topic: nowhere to answer
            self._errors += 1
            log.warning("%s: no response topic for a request to %r", self, method[:80])
            return
        properties = None
        if message.correlation_data is not None:
            properties = publish_properties(correlation_data=message.correlation_data)
        payload = response.model_dump_json(exclude_none=True).encode()
        if not self.bus.fits(topic, payload, properties=properties):
            # Sent as it is, the broker would drop the connection: say so instead.
            log.error("%s: the answer to %s is over the broker's packet limit", self, method)
            self._errors += 1
            too_large = ErrorBody(
                code=ErrorCode.TOO_LARGE,
                message=f"the answer of {len(payload)} bytes is over the broker's packet "
                f"limit of {self.bus.max_packet} bytes; ask for less (limit, a shorter range)",
            )
            response = Response(id=request_id, status="error", error=too_large)
            payload = response.model_dump_json(exclude_none=True).encode()
        self.bus.publish_nowait(topic, payload, properties=properties)

    def _answer_topic(self, message: Message, method: str, request: Request | None) -> str | None:
        """Where the answer goes: the MQTT 5 response topic or `reply_to` when it lies in
        the reply space (`<prefix>/reply/<user>/…`) or is this node's own response topic;
        the node's response topic when none is asked ("" when the method's name cannot form
        one); None for any other destination. A
        requester must never make a node publish with the node's rights on a topic the
        requester may not write (the node's availability, its state, its discovery)."""
        default = self._response_topic(method)
        asked = _asked(message, request)
        if not asked:
            return default
        if asked == default or _is_reply_topic(asked, self.topics.reply_base()):
            return asked
        return None

    def _response_topic(self, method: str) -> str:
        """This node's response topic for `method`; "" when no topic can hold the name."""
        try:
            return self.topics.response(self.id, method)
        except TopicError:
            return ""

    def _refusal(self, message: Message, request: Request | None) -> CommandError:
        return CommandError(
            ErrorCode.INVALID_REQUEST,
            f"response topic {_asked(message, request)[:200]!r} is outside the reply space "
            f"({self.topics.reply_base()}<user>/…): refused, answered here instead",
        )


def _correlation(message: Message) -> str | int | None:
    if message.correlation_data is None:
        return None
    try:
        return message.correlation_data.decode()
    except UnicodeDecodeError:
        return message.correlation_data.hex()


def _printable(name: object) -> bool:
    return isinstance(name, str) and len(name) <= 64 and name.isprintable()


def _asked(message: Message, request: Request | None) -> str:
    """The destination a request asks for: its MQTT 5 response topic, else `reply_to`."""
    return message.response_topic or (request.reply_to if request is not None else None) or ""


def _is_reply_topic(topic: str, base: str) -> bool:
    """`<base><user>/<rest>`: a user level and at least one more, none empty, no wildcard."""
    if not topic.startswith(base) or len(topic) > MAX_REPLY_TOPIC:
        return False
    levels = topic[len(base) :].split("/")
    return (
        len(levels) >= 2
        and REPLY_USER.match(levels[0]) is not None
        and all(levels)
        and not any(c in topic for c in "+#\0")
    )


def _request_error(exc: ValidationError) -> CommandError:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "request"
    return CommandError(ErrorCode.INVALID_REQUEST, f"{where}: {first['msg']}")


def _params_error(exc: ValidationError) -> CommandError:
    first = exc.errors()[0]
    where = ".".join(["params", *(str(part) for part in first["loc"])])
    return CommandError(ErrorCode.INVALID_PARAMS, f"{where}: {first['msg']}")
