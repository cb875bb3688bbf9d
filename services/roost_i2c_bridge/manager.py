"""One chip's manager: the single task that owns the chip's I/O.

The manager samples its chip at the device's interval and runs everything else the chip
is asked to do — commands from `/set`, calibration and other request methods — between
samples, one at a time, so no two conversations with one chip ever interleave (an EZO
would answer the wrong one). Readings go out when they moved past their deadband, and at
the live interval whatever they did.

A failed transaction (NACK, timeout, garbage) is retried with backoff; after
`offline_after` failures in a row the device goes `offline` and the chip is set up afresh
once it answers again (a chip that lost power lost its configuration). Other chips never
notice: each has its own manager, and the bus is only locked per transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import JsonValue
from pydantic_core import from_json

from roost.backoff import Backoff
from roost.bus import Subscription
from roost.device import Device
from roost.errors import CommandError, ErrorCode
from roost.message import Message
from roost.models.meta import DeviceMeta, PropertySpec
from roost.node import Node
from roost_i2c_bridge.drivers.base import ChipError, Driver, Method, Values
from roost_i2c_bridge.drivers.ezo import EzoSyntaxError

log = logging.getLogger("roost_i2c_bridge.manager")

T = TypeVar("T")
# What a chip that stopped answering properly looks like.
FAILURES = (OSError, ChipError, EzoSyntaxError, TimeoutError)


@dataclass(frozen=True)
class Tuning:
    """How a device is sampled and published (defaults from `[i2c]`, per device from its
    `[[i2c.devices]]` entry)."""

    interval: float = 5.0
    live_interval: float = 5.0
    heartbeat: float | None = 300.0
    offline_after: int = 3
    retry_max: float = 30.0
    timeout: float = 10.0
    precision: Mapping[str, int] = field(default_factory=dict)
    deadband: Mapping[str, float] = field(default_factory=dict)


@dataclass(eq=False)
class _Job:
    run: Callable[[], Awaitable[Any]]
    future: asyncio.Future[Any]


class ChipManager:
    """A chip's device and the task that drives it."""

    def __init__(
        self,
        node: Node,
        driver: Driver[Any],
        device_id: str,
        *,
        name: str,
        area: str | None = None,
        tuning: Tuning | None = None,
    ) -> None:
        self.node = node
        self.driver = driver
        self.id = device_id
        self.name = name
        self.area = area
        self.tuning = tuning or Tuning()
        self.device: Device | None = None
        self.ready = False
        self.failures = 0
        self.samples = 0
        self._jobs: asyncio.Queue[_Job] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._links: list[Subscription] = []
        self._published_at = -math.inf
        self._backoff = Backoff(initial=0.2, maximum=self.tuning.retry_max)
        self._loop = asyncio.get_running_loop()

    def __repr__(self) -> str:
        return f"ChipManager({self.id} at {self.driver.bus.name}/{self.driver.address:#04x})"

    @property
    def where(self) -> str:
        return f"{self.id} (bus {self.driver.bus.name}, {self.driver.address:#04x})"

    @property
    def available(self) -> bool:
        return self.device is not None and self.device.available

    # the device ------------------------------------------------------------------------
    def meta(self) -> DeviceMeta:
        driver, tuning = self.driver, self.tuning
        properties = driver.properties()
        for prop in (*tuning.precision, *tuning.deadband):
            if prop not in properties:
                log.warning("%s: config names %r, which it does not have", self.where, prop)
        tuned: dict[str, PropertySpec] = {}
        for prop, spec in properties.items():
            update: dict[str, Any] = {}
            if prop in tuning.precision:
                update["precision"] = tuning.precision[prop]
            if prop in tuning.deadband:
                update["deadband"] = tuning.deadband[prop]
            tuned[prop] = spec.model_copy(update=update) if update else spec
        identity = driver.identity
        return DeviceMeta(
            name=self.name,
            model=identity.model,
            manufacturer=driver.manufacturer,
            version=identity.firmware,
            suggested_area=self.area,
            properties=tuned,
        )

    async def start(self) -> None:
        """Bring the chip up, publish its device (online if it came up), start the task."""
        values: Values | None
        try:
            values = await self._guard(self._bring_up())
        except Exception as exc:
            self._report_unexpected(exc)
            log.warning("%s: answers, but setting it up failed: %s", self.where, _why(exc))
            self.failures = 1
            values = None
        device = self.node.add_device(
            self.id,
            self.meta(),
            on_set=self._on_set,
            heartbeat=self.tuning.heartbeat,
            available=values is not None,
        )
        self.device = device
        for method in self.driver.methods():
            device.add_method(
                method.name,
                self._method_handler(method),
                params=method.params,
                title=method.title,
                description=method.description,
            )
        if self.driver.methods():
            self.node.publish_device(device)  # again, now that its meta lists its methods
        if values is not None:
            self._publish(values, force=True)
        for link, ref in self.driver.links().items():
            await self._link(link, ref)
        self._task = asyncio.create_task(self._run(), name=f"manager {self.id}")
        log.info(
            "%s: %s %s", self.where, self.driver.identity.model, "online" if values else "offline"
        )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for sub in self._links:
            await sub.remove()
        self._links.clear()
        while not self._jobs.empty():
            job = self._jobs.get_nowait()
            if not job.future.done():
                job.future.cancel()

    async def remove(self) -> None:
        """Stop and clear the device's retained topics."""
        await self.stop()
        if self.device is not None and self.id in self.node.devices:
            await self.node.remove_device(self.id)

    # linked values ---------------------------------------------------------------------
    async def _link(self, link: str, ref: str) -> None:
        parts = ref.split("/")
        node_id, device_id, prop = ([self.node.id, *parts] if len(parts) == 2 else parts)[:3]
        topic = self.node.topics.state(node_id, device_id)

        def arrived(message: Message) -> None:
            try:
                state = from_json(message.payload) if message.payload else None
            except ValueError:
                return
            value = state.get(prop) if isinstance(state, dict) else None
            if isinstance(value, int | float) and not isinstance(value, bool):
                self.driver.on_link(link, float(value))

        self._links.append(await self.node.bus.subscribe(topic, arrived))

    # commands and methods ----------------------------------------------------------------
    async def submit(self, run: Callable[[], Awaitable[T]]) -> T:
        """Run `run` in the manager's task between samples; its result or its error."""
        if not self.available or not self.ready:
            raise CommandError(
                ErrorCode.UNAVAILABLE,
                f"{self.id} is not answering (bus {self.driver.bus.name}, "
                f"address {self.driver.address:#04x})",
            )
        job = _Job(run, self._loop.create_future())
        self._jobs.put_nowait(job)
        result: T = await job.future
        return result

    async def _on_set(self, device: Device, values: dict[str, JsonValue]) -> Values:
        result = await self.submit(lambda: self.driver.apply(values))
        return {**result, **self.driver.take_changes()}

    def _method_handler(self, method: Method) -> Callable[[Device, Any], Awaitable[JsonValue]]:
        async def handle(device: Device, params: Any) -> JsonValue:
            result = await self.submit(lambda: method.handler(params))
            changes = self.driver.take_changes()
            if changes:
                self._publish(changes, force=True)
            return result

        return handle

    async def _serve(self, job: _Job) -> None:
        try:
            result = await self._guard(job.run())
        except FAILURES as exc:
            self._failed(exc)
            error = CommandError(ErrorCode.FAILED, f"{self.id} did not answer: {_why(exc)}")
            if not job.future.done():
                job.future.set_exception(error)
        except Exception as exc:
            if not job.future.done():
                job.future.set_exception(exc)
        else:
            if not job.future.done():
                job.future.set_result(result)

    # the task --------------------------------------------------------------------------
    async def _guard(self, work: Awaitable[T]) -> T:
        return await asyncio.wait_for(work, self.tuning.timeout)

    async def _bring_up(self) -> Values:
        values = await self.driver.setup()
        self.ready = True
        values.update(await self.driver.sample())
        self.samples += 1
        return values

    async def _next_job(self, until: float) -> _Job | None:
        timeout = until - self._loop.time()
        if timeout <= 0:
            return self._jobs.get_nowait() if not self._jobs.empty() else None
        try:
            return await asyncio.wait_for(self._jobs.get(), timeout)
        except TimeoutError:
            return None

    async def _run(self) -> None:
        interval = self.tuning.interval
        next_at = self._loop.time() + (interval if self.ready else self._backoff.next())
        while True:
            job = await self._next_job(next_at)
            if job is not None:
                await self._serve(job)
                continue
            if self.driver.sleeping:
                next_at += interval
                continue
            try:
                if self.ready:
                    values = await self._guard(self.driver.sample())
                    self.samples += 1
                else:
                    values = await self._guard(self._bring_up())
            except Exception as exc:
                self._report_unexpected(exc)
                self._failed(exc)
                next_at = self._loop.time() + self._backoff.next()
                continue
            self._succeeded()
            self._publish(values)
            now = self._loop.time()
            next_at += interval
            if next_at < now:  # fell behind (a slow chip, a long command): do not burst
                next_at = now + interval

    def _report_unexpected(self, exc: BaseException) -> None:
        """An error that is not the chip misbehaving is a bug in its driver: log it with
        its traceback, then treat it as a failure like any other, so one broken driver
        costs one device, not the bridge."""
        if not isinstance(exc, FAILURES):
            log.error("%s: driver error", self.where, exc_info=exc)
            self.node.count_error()

    def _failed(self, exc: BaseException) -> None:
        self.failures += 1
        device = self.device
        limit = self.tuning.offline_after
        if self.failures < limit:
            log.info("%s: %s (try %d of %d)", self.where, _why(exc), self.failures, limit)
            return
        if self.failures == limit:
            log.warning("%s: %d failures in a row, last %s: offline", self.where, limit, _why(exc))
        self.ready = False  # set it up afresh once it answers: it may have lost power
        if device is not None:
            device.set_available(False)

    def _succeeded(self) -> None:
        if self.device is not None and not self.device.available:
            log.warning("%s: answers again: online", self.where)
            self.device.set_available(True)
        self.failures = 0
        self._backoff.reset()

    def _publish(self, values: Values, *, force: bool = False) -> None:
        device = self.device
        if device is None or not values:
            return
        known = {k: v for k, v in values.items() if k in device.values}
        now = self._loop.time()
        live = self.tuning.live_interval
        # The sample nearest the live interval's end publishes, not the first one after it:
        # samples and publishes drift by the time a reading takes.
        due = live - self.tuning.interval / 2
        if device.update(known, force=force):
            self._published_at = now
        elif live and now - self._published_at >= due:
            device.publish_state()
            self._published_at = now


def _why(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    return f"{type(exc).__name__}: {exc}"
