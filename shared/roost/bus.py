"""One managed MQTT 5 connection: reconnects, re-subscribes, pipelines publishes.

(Timeouts use `asyncio.timeout`, never `asyncio.wait_for`: on Python 3.11 the latter can
swallow a cancellation that arrives as the awaited thing completes.)

`Bus` is what every roost program holds. Subscriptions are registered once and made
again on every connect, each with an MQTT 5 subscription identifier so that a message is
handed only to the handlers of the subscriptions that matched it (Mosquitto sends one copy
per overlapping subscription). Publishes go through an `Outbox` drained by one writer
task that keeps up to `max_inflight` QoS 1 publishes awaiting their PUBACK at once, so a
burst costs one round trip rather than one per message.

Requests (`request`) and the retained-snapshot barrier (`sync`) use the client's own
reply topics under `roost/reply/<user>/`.

With `manual_ack=True` a subscription made with `subscribe(..., manual_ack=True)` leaves
the PUBACK to its handler (`bus.ack(message)`, e.g. once the message is stored), so a
persistent session gets the message again if the program dies first; every other
subscription is acknowledged as it is delivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import struct
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions
from pydantic import BaseModel, ValidationError
from pydantic_core import to_json

from roost.backoff import reconnect_backoff
from roost.errors import BusError, RequestTimeout, RoostError, TooLarge
from roost.message import Message
from roost.models.messages import Response
from roost.outbox import Outbox, Outgoing
from roost.packets import MQTT_MAX_PACKET, publish_size, topic_problem
from roost.settings import MqttSettings
from roost.topics import Topics

log = logging.getLogger("roost.bus")

Handler = Callable[[Message], None]
OnConnect = Callable[["Connection"], Awaitable[None]]
Preflight = Callable[[], Awaitable[None]]

PUBLISH_TIMEOUT = 15.0
MAX_ATTEMPTS = 3


def encode(payload: object) -> bytes:
    """Bytes as they are, text as UTF-8, models and everything else as compact JSON."""
    if isinstance(payload, bytes | bytearray | memoryview):
        return bytes(payload)
    if isinstance(payload, str):
        return payload.encode()
    if isinstance(payload, BaseModel):
        return payload.model_dump_json(by_alias=True).encode()
    return to_json(payload)


def publish_properties(
    *,
    expiry: int | None = None,
    response_topic: str | None = None,
    correlation_data: bytes | None = None,
) -> Properties | None:
    if expiry is None and response_topic is None and correlation_data is None:
        return None
    props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    if expiry is not None:
        props.MessageExpiryInterval = expiry
    if response_topic is not None:
        props.ResponseTopic = response_topic
    if correlation_data is not None:
        props.CorrelationData = correlation_data
    return props


@dataclass(eq=False)
class _Sub:
    id: int
    filter: str
    options: SubscribeOptions
    handlers: list[Handler] = field(default_factory=list)
    manual_ack: bool = False


@dataclass
class BusCounters:
    received: int = 0
    sent: int = 0
    errors: int = 0
    too_large: int = 0  # refused: over the broker's packet limit (also counted in errors)


class Subscription:
    """A handler registered for a topic filter; `remove()` undoes it."""

    def __init__(self, bus: Bus, sub: _Sub, handler: Handler) -> None:
        self._bus = bus
        self._sub = sub
        self._handler = handler

    @property
    def filter(self) -> str:
        return self._sub.filter

    async def remove(self) -> None:
        await self._bus._remove(self._sub, self._handler)


class Connection:
    """One live connection; handed to the on-connect hook to run a connect sequence."""

    def __init__(self, bus: Bus, client: aiomqtt.Client) -> None:
        self.bus = bus
        self.client = client

    async def subscribe_all(self) -> None:
        await asyncio.gather(*(self.subscribe(sub) for sub in list(self.bus._subs.values())))

    async def subscribe(self, sub: _Sub) -> None:
        props = Properties(PacketTypes.SUBSCRIBE)  # type: ignore[no-untyped-call]
        props.SubscriptionIdentifier = sub.id
        codes = await self.client.subscribe(sub.filter, options=sub.options, properties=props)
        for code in codes:
            value = code if isinstance(code, int) else code.value
            if value >= 0x80:
                log.error("broker refused subscription to %s: %s", sub.filter, code)

    async def unsubscribe(self, topic_filter: str) -> None:
        await self.client.unsubscribe(topic_filter)

    async def publish(self, item: Outgoing) -> None:
        if self.bus._refused(item):
            return
        await self.client.publish(
            item.topic,
            item.payload,
            qos=item.qos,
            retain=item.retain,
            properties=item.properties,
            timeout=PUBLISH_TIMEOUT,
        )
        self.bus.counters.sent += 1

    async def publish_many(self, items: Iterable[Outgoing]) -> None:
        """Publish in order with the bus's in-flight window; returns when all are acked."""
        window = asyncio.Semaphore(self.bus.settings.max_inflight)

        async def one(item: Outgoing) -> None:
            try:
                await self.publish(item)
            finally:
                window.release()

        tasks = []
        for item in items:
            await window.acquire()
            tasks.append(asyncio.create_task(one(item)))
        await asyncio.gather(*tasks)


class Bus:
    """A managed connection to the broker; use as `async with Bus(settings) as bus:`.

    With `reconnect=True` (services) entering returns at once and the bus keeps
    reconnecting with backoff; with `reconnect=False` (the CLI) entering connects or
    raises BusError with a line a person can act on. `preflight`, when given, runs before
    every attempt until the first connect succeeds: a BusError from it is retried like a
    failed connect, any other RoostError ends the bus for good (`failure`), unconnected.
    """

    def __init__(
        self,
        settings: MqttSettings,
        *,
        client_id: str | None = None,
        clean_start: bool = True,
        session_expiry: int = 0,
        will: aiomqtt.Will | None = None,
        on_connect: OnConnect | None = None,
        reconnect: bool = True,
        connect_timeout: float = 10.0,
        outbox_limit: int = 10_000,
        manual_ack: bool = False,
        receive_maximum: int | None = None,
        preflight: Preflight | None = None,
    ) -> None:
        self.settings = settings
        self.topics: Topics = settings.topics()
        self.client_id = client_id or f"roost-{uuid.uuid4().hex}"
        # The inbox is named by the login; an anonymous client gets a random name, never
        # its client id, which for a persistent session is a secret (roost.session).
        self.reply_user = settings.username or f"anon-{uuid.uuid4().hex}"
        self.counters = BusCounters()
        self.connected = asyncio.Event()
        self.disconnected = asyncio.Event()  # set from a loss until the next connect
        self.disconnected.set()
        self._clean_start = clean_start
        self._session_expiry = session_expiry
        self._will = will
        self._on_connect = on_connect
        self._reconnect = reconnect
        self._connect_timeout = connect_timeout
        self._manual_ack = manual_ack
        self._receive_maximum = receive_maximum
        self._preflight = preflight
        self.failure: RoostError | None = None  # why the bus gave up for good (preflight)
        self._generation = 0
        self._outbox = Outbox(outbox_limit)
        self._subs: dict[str, _Sub] = {}
        self._subs_by_id: dict[int, _Sub] = {}
        self._next_sub_id = 1
        self._conn: Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._inflight = 0
        self._drained = asyncio.Event()
        self._drained.set()
        self._pending: dict[bytes, asyncio.Future[Response]] = {}
        self._reply_sub: Subscription | None = None
        self._backoff = reconnect_backoff()
        self._connect_waiters: list[tuple[int, asyncio.Future[None]]] = []
        self.connects = 0
        self.broker_max_packet: int | None = None  # from the last CONNACK, if it said

    # life cycle ------------------------------------------------------------------------
    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def start(self) -> None:
        """Start connecting; without `reconnect`, wait for the connection or raise."""
        self._closing = False
        self._task = asyncio.create_task(self._run(), name=f"bus {self.client_id}")
        if not self._reconnect:
            await self._first_connect()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _first_connect(self) -> None:
        assert self._task is not None
        waiter = asyncio.create_task(self.connected.wait())
        done, _ = await asyncio.wait({waiter, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if waiter not in done:
            waiter.cancel()
            self._task.result()  # raises the BusError
            raise BusError("connection ended before it was made")

    async def wait_connected(self, timeout: float | None = None) -> None:
        try:
            async with asyncio.timeout(timeout):
                await self.connected.wait()
        except TimeoutError:
            raise BusError(f"no connection to the broker at {self._where()}") from None

    async def wait_connects(self, count: int, timeout: float | None = None) -> None:
        """Wait until the connect sequence has completed `count` times in all."""
        if self.connects >= count:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._connect_waiters.append((count, future))
        try:
            async with asyncio.timeout(timeout):
                await future
        except TimeoutError:
            raise BusError(f"connection {count} to {self._where()} did not happen") from None

    def _wake_connect_waiters(self) -> None:
        for count, future in list(self._connect_waiters):
            if self.connects >= count:
                self._connect_waiters.remove((count, future))
                if not future.done():
                    future.set_result(None)

    async def close(self, flush_timeout: float = 1.5) -> None:
        """Send what is queued (bounded by `flush_timeout`), then disconnect cleanly."""
        if self._task is None:
            return
        if self.connected.is_set():
            with contextlib.suppress(TimeoutError):
                await self.flush(flush_timeout)
        self._closing = True
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, BusError):
            await self._task
        self._task = None
        self.connected.clear()
        self.disconnected.set()
        for future in self._pending.values():
            if not future.done():
                future.cancel()

    async def flush(self, timeout: float | None = None) -> None:
        """Wait until everything queued so far has been acknowledged by the broker."""
        async with asyncio.timeout(timeout):
            await self._drained.wait()

    def _where(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    # connection loop -------------------------------------------------------------------
    def _client(self) -> aiomqtt.Client:
        s = self.settings
        props = None
        if self._session_expiry or self._receive_maximum:
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            if self._session_expiry:
                props.SessionExpiryInterval = self._session_expiry
            if self._receive_maximum:
                # How many QoS 1 messages the broker may send us before we acknowledge any.
                props.ReceiveMaximum = self._receive_maximum
        tls_params = None
        if s.tls:
            tls_params = aiomqtt.TLSParameters(
                ca_certs=str(s.ca_file) if s.ca_file else None,
                certfile=str(s.cert_file) if s.cert_file else None,
                keyfile=str(s.key_file) if s.key_file else None,
                cert_reqs=ssl.CERT_NONE if s.tls_insecure else ssl.CERT_REQUIRED,
            )
        client = aiomqtt.Client(
            s.host,
            s.port,
            username=s.username,
            password=s.password.get_secret_value() if s.password else None,
            identifier=self.client_id,
            protocol=aiomqtt.ProtocolVersion.V5,
            will=self._will,
            clean_start=self._clean_start,
            properties=props,
            keepalive=s.keepalive,
            timeout=self._connect_timeout,
            max_inflight_messages=s.max_inflight,
            tls_params=tls_params,
            tls_insecure=s.tls_insecure if s.tls else None,
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
        )
        # aiomqtt warns on every publish past this many pending; our window bounds them.
        client.pending_calls_threshold = s.max_inflight + 16
        if self._manual_ack:
            client._client.manual_ack_set(True)
        self._watch_connack(client)
        return client

    def _watch_connack(self, client: aiomqtt.Client) -> None:
        """Keep the broker's Maximum Packet Size from the CONNACK (aiomqtt drops it)."""
        inner: Any = client._client.on_connect

        def on_connect(
            paho: Any, userdata: Any, flags: Any, reason: Any, properties: Any = None
        ) -> None:
            limit = getattr(properties, "MaximumPacketSize", None) if properties else None
            self.broker_max_packet = limit if isinstance(limit, int) else None
            inner(paho, userdata, flags, reason, properties)

        client._client.on_connect = on_connect

    @property
    def max_packet(self) -> int:
        """The largest packet we may send: the broker's limit and `[mqtt] max_packet_bytes`."""
        limits = [MQTT_MAX_PACKET, self.broker_max_packet, self.settings.max_packet_bytes]
        return min(limit for limit in limits if limit)

    def fits(
        self, topic: str, payload: bytes, *, qos: int = 1, properties: Properties | None = None
    ) -> bool:
        """Whether a message goes through the broker's packet limit (False also for one
        that cannot be encoded at all)."""
        try:
            return publish_size(topic, len(payload), qos, properties) <= self.max_packet
        except (struct.error, ValueError):
            return False

    def _refused(self, item: Outgoing) -> bool:
        """Refuse `item` if the broker would close the connection for it — over the packet
        limit (TooLarge), or a topic MQTT forbids (U+0000, a wildcard, over 65535 bytes) —
        resolved with the error, counted, logged. Sent, it would go out again after every
        reconnect while it stays queued, and the connection would never get past it."""
        limit = self.max_packet
        error: BusError
        problem = topic_problem(item.topic)
        if problem is not None:
            error = BusError(f"cannot publish to {item.topic[:200]!r}: {problem}")
        else:
            try:
                size = publish_size(item.topic, len(item.payload), item.qos, item.properties)
            except (struct.error, ValueError) as exc:  # e.g. a property over 65535 bytes
                error = BusError(f"cannot encode a message to {item.topic[:200]!r}: {exc}")
            else:
                if size <= limit:
                    return False
                error = TooLarge(item.topic, size, limit)
                self.counters.too_large += 1
        self.counters.errors += 1
        log.error("%s", error)
        item.resolve(error)
        return True

    async def _run(self) -> None:
        backoff = self._backoff
        while True:
            error: BaseException | None = None
            fatal: RoostError | None = None
            try:
                if self._preflight is not None and self.connects == 0:
                    fatal = await self._run_preflight(self._preflight)
                if fatal is None:
                    await self._serve()
            except* Exception as group:
                error = group.exceptions[0]
                if not isinstance(error, aiomqtt.MqttError | OSError | BusError):
                    log.error("connection handling failed", exc_info=error)
            self.connected.clear()
            self.disconnected.set()
            self._conn = None
            if fatal is not None:
                self.failure = fatal
                log.error("not connecting to %s: %s", self._where(), fatal)
                return
            if self._closing:
                return
            reason = _reason(error)
            if not self._reconnect and self.connects == 0:
                raise BusError(
                    f"cannot reach the MQTT broker at {self._where()}: {reason} "
                    "(start mosquitto, or point ROOST_MQTT__HOST / ROOST_MQTT__PORT at one)"
                )
            if not self._reconnect:
                raise BusError(f"lost the MQTT broker at {self._where()}: {reason}")
            delay = backoff.next()
            log.warning("broker %s: %s; reconnecting in %.1f s", self._where(), reason, delay)
            await asyncio.sleep(delay)

    @staticmethod
    async def _run_preflight(preflight: Preflight) -> RoostError | None:
        """The check's verdict: None to connect, an error to give up; a BusError (no
        broker yet) propagates and is retried like a failed connect."""
        try:
            await preflight()
        except BusError:
            raise
        except RoostError as exc:
            return exc
        return None

    async def _serve(self) -> None:
        self._generation += 1
        async with self._client() as client:
            conn = Connection(self, client)
            self._conn = conn
            async with asyncio.TaskGroup() as group:
                group.create_task(self._dispatch(client), name="bus dispatch")
                # The writer runs during the connect sequence too: `sync()` and requests
                # made by the hook go through it.
                group.create_task(self._write(conn), name="bus writer")
                if self._on_connect is not None:
                    await self._on_connect(conn)
                else:
                    await conn.subscribe_all()
                self.connects += 1
                self._backoff.reset()  # the next loss starts again from a short delay
                self.disconnected.clear()
                self.connected.set()
                self._wake_connect_waiters()
                log.info("connected to %s as %s", self._where(), self.client_id)

    # receiving -------------------------------------------------------------------------
    async def _dispatch(self, client: aiomqtt.Client) -> None:
        generation = self._generation
        async for raw in client.messages:
            props = raw.properties
            ids = getattr(props, "SubscriptionIdentifier", None) if props else None
            message = Message(
                topic=raw.topic.value,
                payload=raw.payload if isinstance(raw.payload, bytes) else encode(raw.payload),
                qos=raw.qos,
                retain=bool(raw.retain),
                response_topic=getattr(props, "ResponseTopic", None) if props else None,
                correlation_data=getattr(props, "CorrelationData", None) if props else None,
                subscription_ids=tuple(ids) if ids else (),
                mid=raw.mid,
                connection=generation,
            )
            self.counters.received += 1
            manual = self.deliver(message)
            if self._manual_ack and not manual and message.qos:
                client._client.ack(message.mid, message.qos)

    def ack(self, message: Message) -> bool:
        """Acknowledge a message of a `manual_ack` subscription.

        False when the connection that delivered it is gone: the broker keeps an
        unacknowledged message in the session and delivers it again after the reconnect.
        """
        if not self._manual_ack or not message.qos:
            return True
        conn = self._conn
        if conn is None or message.connection != self._generation:
            return False
        conn.client._client.ack(message.mid, message.qos)
        return True

    def deliver(self, message: Message) -> bool:
        """Hand a message to the handlers of the subscriptions it matched; True if one of
        them acknowledges it itself (`manual_ack`)."""
        subs = [
            sub
            for i in message.subscription_ids
            if (sub := self._subs_by_id.get(i)) is not None
            and topic_matches(sub.filter, message.topic)
        ]
        if not subs:
            # No identifier, or one from a persistent session made by an earlier process
            # whose ids differ: route by matching instead.
            subs = [s for s in self._subs.values() if topic_matches(s.filter, message.topic)]
        manual = False
        for sub in subs:
            manual = manual or sub.manual_ack
            for handler in list(sub.handlers):
                try:
                    handler(message)
                except Exception:
                    self.counters.errors += 1
                    log.exception("handler for %s failed on %s", sub.filter, message.topic)
        return manual

    async def subscribe(
        self,
        topic_filter: str,
        handler: Handler,
        *,
        qos: int = 1,
        retain_as_published: bool = False,
        no_local: bool = False,
        retain_handling: int = 0,
        manual_ack: bool = False,
    ) -> Subscription:
        """Register `handler` for `topic_filter`, now and after every reconnect.

        Handlers run in the dispatch loop: they must be quick and never block; hand work
        to a queue or a task. With `manual_ack` (on a bus made with `manual_ack=True`) the
        handler's owner calls `ack(message)` for each message once it is safe.
        """
        if manual_ack and not self._manual_ack:
            raise ValueError("subscribe(manual_ack=True) needs Bus(manual_ack=True)")
        sub = self._subs.get(topic_filter)
        if sub is None:
            options = SubscribeOptions(
                qos=qos,
                noLocal=no_local,
                retainAsPublished=retain_as_published,
                retainHandling=retain_handling,
            )
            sub = _Sub(self._next_sub_id, topic_filter, options, manual_ack=manual_ack)
            self._next_sub_id += 1
            self._subs[topic_filter] = sub
            self._subs_by_id[sub.id] = sub
            sub.handlers.append(handler)
            if self._conn is not None:
                try:
                    await self._conn.subscribe(sub)
                except aiomqtt.MqttError as exc:
                    log.debug("subscribe %s deferred to reconnect: %s", topic_filter, exc)
        else:
            sub.handlers.append(handler)
            sub.manual_ack = sub.manual_ack or manual_ack
        return Subscription(self, sub, handler)

    async def _remove(self, sub: _Sub, handler: Handler) -> None:
        with contextlib.suppress(ValueError):
            sub.handlers.remove(handler)
        if sub.handlers or self._subs.get(sub.filter) is not sub:
            return
        del self._subs[sub.filter]
        del self._subs_by_id[sub.id]
        if self._conn is not None:
            with contextlib.suppress(aiomqtt.MqttError):
                await self._conn.unsubscribe(sub.filter)

    # sending ---------------------------------------------------------------------------
    def publish_nowait(
        self,
        topic: str,
        payload: object = b"",
        *,
        qos: int = 1,
        retain: bool = False,
        properties: Properties | None = None,
    ) -> bool:
        """Queue a publish; it goes out as soon as the connection allows. False if dropped."""
        return self._queue(Outgoing(topic, encode(payload), qos, retain, properties))

    async def publish(
        self,
        topic: str,
        payload: object = b"",
        *,
        qos: int = 1,
        retain: bool = False,
        properties: Properties | None = None,
        timeout: float | None = None,
    ) -> None:
        """Queue a publish and wait until the broker has it (PUBACK for QoS 1); raises
        TooLarge for a message over the broker's packet limit."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        item = Outgoing(topic, encode(payload), qos, retain, properties, waiters=[done])
        if not self._queue(item):
            if done.done():
                done.result()  # raises why it was refused
            raise BusError(f"outbox full ({self._outbox.limit}); dropped publish to {topic}")
        try:
            async with asyncio.timeout(timeout):
                await done
        except TimeoutError:
            raise BusError(f"publish to {topic} not acknowledged within {timeout} s") from None

    def _queue(self, item: Outgoing) -> bool:
        if self._refused(item):
            return False
        queued = self._outbox.put(item)
        if queued:
            self._drained.clear()
        else:
            log.warning("outbox full: dropped a message to %s", item.topic)
        return queued

    def discard_pending_retained(self) -> None:
        self._outbox.discard_retained()
        self._check_drained()

    @property
    def dropped(self) -> int:
        return self._outbox.dropped

    async def _write(self, conn: Connection) -> None:
        window = asyncio.Semaphore(self.settings.max_inflight)
        tasks: set[asyncio.Task[None]] = set()
        try:
            while True:
                item = await self._outbox.get()
                try:
                    await window.acquire()
                except asyncio.CancelledError:
                    self._outbox.put_front(item)
                    raise
                self._inflight += 1
                task = asyncio.create_task(self._send(conn, item, window))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        finally:
            for task in list(tasks):
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _send(self, conn: Connection, item: Outgoing, window: asyncio.Semaphore) -> None:
        try:
            if self._refused(item):  # queued before this connection's CONNACK said
                return
            await conn.publish(item)
        except asyncio.CancelledError:
            self._outbox.put_front(item)
            raise
        except (aiomqtt.MqttError, ValueError) as exc:
            self.counters.errors += 1
            item.attempts += 1
            if item.attempts >= MAX_ATTEMPTS or isinstance(exc, ValueError):
                log.error("giving up publishing to %s: %s", item.topic, exc)
                item.resolve(BusError(f"publish to {item.topic} failed: {exc}"))
            else:
                self._outbox.put_front(item)
        else:
            item.resolve()
        finally:
            window.release()
            self._inflight -= 1
            self._check_drained()

    def _check_drained(self) -> None:
        if self._inflight == 0 and len(self._outbox) == 0:
            self._drained.set()

    # requests and the snapshot barrier -------------------------------------------------
    async def _ensure_replies(self) -> None:
        if self._reply_sub is None:
            self._reply_sub = await self.subscribe(
                self.topics.replies(self.reply_user), self._on_reply, qos=1
            )

    def _on_reply(self, message: Message) -> None:
        key = message.correlation_data
        future = self._pending.get(key) if key is not None else None
        if future is None or future.done():
            return
        try:
            future.set_result(Response.model_validate_json(message.payload))
        except ValidationError as exc:
            future.set_exception(BusError(f"malformed response on {message.topic}: {exc}"))

    async def request(
        self, node: str, method: str, params: dict[str, Any] | None = None, *, timeout: float = 5.0
    ) -> Response:
        """Call `method` on `node` and wait for its response (MQTT 5 response topic)."""
        await self._ensure_replies()
        correlation = uuid.uuid4().bytes
        future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self._pending[correlation] = future
        try:
            props = publish_properties(
                response_topic=self.topics.reply(self.reply_user, f"response/{method}"),
                correlation_data=correlation,
            )
            body = {"id": correlation.hex(), "params": params or {}}
            self.publish_nowait(self.topics.request(node, method), body, properties=props)
            try:
                async with asyncio.timeout(timeout):
                    return await future
            except TimeoutError:
                raise RequestTimeout(
                    f"no response from {node} to {method} within {timeout:g} s "
                    f"(is the node online?)"
                ) from None
        finally:
            self._pending.pop(correlation, None)

    async def sync(self, timeout: float = 10.0) -> None:
        """Return once every retained message for the current subscriptions has arrived.

        Publishes a marker to our own reply topic after subscribing; the broker queues it
        behind the retained messages it is sending us, so its echo closes the snapshot.
        """
        await self._ensure_replies()
        correlation = uuid.uuid4().bytes
        future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self._pending[correlation] = future
        try:
            props = publish_properties(correlation_data=correlation)
            marker = {"id": correlation.hex(), "status": "ok", "data": None}
            self.publish_nowait(
                self.topics.reply(self.reply_user, "sync"), marker, properties=props
            )
            try:
                async with asyncio.timeout(timeout):
                    await future
            except TimeoutError:
                raise BusError(f"broker did not echo the sync marker in {timeout:g} s") from None
        finally:
            self._pending.pop(correlation, None)


def _reason(error: BaseException | None) -> str:
    if error is None:
        return "connection closed"
    text = str(error) or type(error).__name__
    cause = error.__cause__ or error.__context__
    if cause is not None and str(cause) and str(cause) not in text:
        text = f"{text} ({cause})"
    return text


def topic_matches(topic_filter: str, topic: str) -> bool:
    """MQTT topic filter matching (`+` one level, `#` the rest); `$` topics need their own;
    a shared subscription `$share/<group>/<filter>` matches as its filter."""
    if topic_filter.startswith("$share/"):
        topic_filter = topic_filter.split("/", 2)[2]
    if topic.startswith("$") and not topic_filter.startswith("$"):
        return False
    f_levels = topic_filter.split("/")
    t_levels = topic.split("/")
    for index, level in enumerate(f_levels):
        if level == "#":
            return True
        if index >= len(t_levels):
            return False
        if level != "+" and level != t_levels[index]:
            return False
    return len(f_levels) == len(t_levels)


__all__ = [
    "Bus",
    "BusCounters",
    "Connection",
    "Handler",
    "Message",
    "Subscription",
    "encode",
    "publish_properties",
    "topic_matches",
]
