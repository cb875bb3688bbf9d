"""`roost-detector`: watch cameras' frames for motion and objects."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator

import cv2

from roost.backoff import Backoff
from roost.errors import ConfigError, TopicError
from roost.message import Message
from roost.node import Node
from roost.service import run_service, run_until_signalled
from roost.topics import TopicKind
from roost_detector.engine import MODEL_ID, Engine
from roost_detector.feed import FRAME_BLOB, JPEG_BLOB
from roost_detector.plugins import ModelError, make_detector
from roost_detector.settings import CameraDetectConfig, Settings
from roost_detector.watch import CameraWatch

log = logging.getLogger("roost_detector")

SERVICE = "detector"
REPORT_INTERVAL = 10.0
CRASH_WINDOW = 60.0
MAX_CRASHES = 5


class DetectorService:
    """The node, the shared model and one `CameraWatch` per camera, each supervised."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        section = settings.detector
        cv2.setNumThreads(section.threads)
        try:
            detector = make_detector(section.model)
        except ModelError as exc:
            raise ConfigError(f"[detector.model]: {exc}") from None
        self.node = Node(settings, service=SERVICE)
        self.engine = Engine(self.node, detector)
        self.watches: dict[str, CameraWatch] = {}
        self._sources: dict[str, str] = {}  # "node/camera" → device id
        self._auto_added = 0
        self._refused: set[str] = set()  # refs told about (bounded)
        self._tasks: set[asyncio.Task[None]] = set()
        self._idle = asyncio.Event()

    # cameras ---------------------------------------------------------------------------
    def add_camera(self, device_id: str, ref: str, config: CameraDetectConfig) -> CameraWatch:
        source_node, _, source_camera = ref.partition("/")
        watch = CameraWatch(
            self.node, self.engine, device_id, source_node, source_camera,
            self.settings.detector, config,
        )  # fmt: skip
        self.watches[device_id] = watch
        self._sources[ref] = device_id
        self._spawn(watch)
        log.info("watching %s as %s", ref, device_id)
        return watch

    def _spawn(self, watch: CameraWatch) -> None:
        task = asyncio.create_task(self._supervise(watch), name=f"watch {watch.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _supervise(self, watch: CameraWatch) -> None:
        """Restart a failed watch with backoff; give up after a storm of crashes."""
        backoff = Backoff(initial=1.0, maximum=60.0)
        crashes: list[float] = []
        while True:
            try:
                await watch.run()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                now = time.monotonic()
                crashes = [t for t in crashes if now - t < CRASH_WINDOW] + [now]
                log.exception("watch %s failed", watch.id)
                watch.device.error("failed", f"{type(exc).__name__}: {exc}")
                if len(crashes) >= MAX_CRASHES:
                    log.error(
                        "watch %s failed %d times in a minute; stopped", watch.id, MAX_CRASHES
                    )
                    watch.device.set_available(False)
                    return
                await asyncio.sleep(backoff.next())

    def _configured(self) -> None:
        for device_id, config in self.settings.detector.cameras.items():
            if config.enabled:
                self.add_camera(device_id, config.source or f"camera/{device_id}", config)

    def _on_stream(self, message: Message) -> None:
        """A frame descriptor or JPEG: to its camera's feed; in auto mode a camera not
        watched yet is watched from this very message on."""
        try:
            parsed = self.node.topics.parse(message.topic)
        except TopicError:
            return
        if parsed.kind is not TopicKind.BLOB or parsed.node is None or parsed.device is None:
            return
        ref = f"{parsed.node}/{parsed.device}"
        device_id = self._sources.get(ref)
        if device_id is None:
            if not self.settings.detector.auto or parsed.node == self.node.id:
                return
            device_id = parsed.device
            if device_id in self.watches or device_id == MODEL_ID:
                device_id = f"{parsed.node}-{parsed.device}"[:64].rstrip("-")
            if device_id in self.watches:
                return
            if self._auto_added >= self.settings.detector.max_auto_cameras:
                # Any node can publish frames on as many device ids as it likes: each
                # watch costs a task, a device and CPU, so automatic ones are bounded.
                if ref not in self._refused:
                    if len(self._refused) < 1000:
                        self._refused.add(ref)
                    log.warning(
                        "not watching %s: already %d cameras found automatically "
                        "([detector] max_auto_cameras, or name it in [detector.cameras])",
                        ref,
                        self._auto_added,
                    )
                return
            self._auto_added += 1
            self.add_camera(device_id, ref, CameraDetectConfig(source=ref))
        assert parsed.prop is not None
        self.watches[device_id].feed.on_message(parsed.prop, message)

    # running ---------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[DetectorService]:
        self._configured()
        # Registered before the node connects, so the first connect makes them too. One
        # set of subscriptions routes every camera's stream (no second copy per camera).
        t = self.node.topics
        for leaf in (FRAME_BLOB, JPEG_BLOB):
            if self.settings.detector.auto:
                await self.node.bus.subscribe(f"{t.prefix}/+/+/{leaf}", self._on_stream, qos=0)
            else:
                for ref in self._sources:
                    source_node, _, camera = ref.partition("/")
                    topic = t.blob(source_node, camera, leaf)
                    await self.node.bus.subscribe(topic, self._on_stream, qos=0)
        async with self.node:
            try:
                yield self
            finally:
                for task in list(self._tasks):
                    task.cancel()
                await asyncio.gather(*self._tasks, return_exceptions=True)

    async def report(self) -> None:
        while True:
            await asyncio.sleep(REPORT_INTERVAL)
            skipped = sum(w.feed.skipped_total for w in self.watches.values())
            self.engine.report(skipped, len(self.watches))


async def serve(settings: Settings) -> None:
    service = DetectorService(settings)
    async with service.running():
        await run_until_signalled(service.report())


def main() -> None:
    run_service(SERVICE, Settings, serve)


if __name__ == "__main__":
    main()
