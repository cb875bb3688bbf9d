"""Stand-ins for the services the web UI shows: small nodes on the real broker that
publish and answer the same interfaces as the real services (docs/services/*.md), with
values and failures a test can set exactly.

- `greenhouse`: node `i2c-bridge` with the demo greenhouse's `bme280-76` and `pca9685-40`
  (four channels here, not sixteen) and `ezo-pmp-67`, whose dose refuses out-of-range
  values and whose `fail` text makes the owner raise.
- `recorder`: node `recorder` serving `history` from known points.
- `supervisor`: node `supervisor` with app devices, the host device and `logs`.
- `engine`: node `event-engine` with the engine device, `log` and `script_error` events.
- `camera` / `detector`: node `camera` device `demo` with a JPEG `snapshot`; node
  `detector` device `demo` with Frigate-shaped events and the best snapshot.

The real services together are driven in tests/e2e/test_demo.py; these let the page
tests reach every state and error path quickly and deterministically.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, JsonValue

from roost.device import Device
from roost.errors import CommandError, ErrorCode
from roost.models import DeviceMeta, PropertySpec
from roost.node import Node
from roost.settings import RoostSettings
from roost_event_engine.runlog import LogEntry

CHANNELS = 4


def bme280_meta() -> DeviceMeta:
    return DeviceMeta(
        name="BME280 greenhouse air",
        model="BME280",
        manufacturer="Bosch",
        suggested_area="greenhouse",
        properties={
            "temperature": PropertySpec(
                kind="number", unit="°C", precision=2, device_class="temperature"
            ),
            "humidity": PropertySpec(kind="number", unit="%", precision=1, device_class="humidity"),
            "pressure": PropertySpec(
                kind="number", unit="hPa", precision=1, device_class="pressure"
            ),
        },
    )


def pca9685_meta() -> DeviceMeta:
    props: dict[str, PropertySpec] = {}
    for ch in range(CHANNELS):
        props[f"ch{ch}_duty"] = PropertySpec(
            kind="number", unit="%", min=0, max=100, step=0.1, settable=True
        )
        props[f"ch{ch}_on"] = PropertySpec(kind="switch", settable=True)
    # clamped to its range like the real driver's (a dial), not refused
    props["frequency"] = PropertySpec(
        kind="number", unit="Hz", min=24, max=1526, step=1, settable=True
    )
    return DeviceMeta(
        name="PCA9685 PWM outputs",
        model="PCA9685",
        manufacturer="NXP",
        suggested_area="greenhouse",
        properties=props,
    )


def pump_meta() -> DeviceMeta:
    return DeviceMeta(
        name="EZO-PMP dosing pump",
        model="EZO-PMP",
        manufacturer="Atlas Scientific",
        suggested_area="reservoir",
        properties={
            "dose_ml": PropertySpec(
                kind="number",
                unit="mL",
                min=0,
                max=50,
                step=0.1,
                settable=True,
                out_of_range="reject",
            ),
            "mode": PropertySpec(
                kind="enum", options=["idle", "dose", "continuous"], settable=True
            ),
            "label": PropertySpec(kind="text", settable=True, max_length=24),
            "prime": PropertySpec(kind="button"),
            "dosed_total": PropertySpec(kind="number", unit="mL", precision=1),
        },
    )


async def _pump_set(device: Device, values: dict[str, JsonValue]) -> Mapping[str, JsonValue]:
    if values.get("label") == "fail":
        raise CommandError(ErrorCode.FAILED, "pump did not answer (stand-in)", prop="label")
    if values.get("label") == "slow":
        await asyncio.sleep(2)  # a chip that takes its time (longer than a short timeout)
    return {k: v for k, v in values.items() if k != "prime"}


async def _pwm_set(device: Device, values: dict[str, JsonValue]) -> Mapping[str, JsonValue]:
    """Like the PCA9685: a duty is 12 bits, so what is reported is the nearest of 4096; a
    frequency is 25 MHz / 4096 / a whole prescaler (1000 Hz asked gives 1017 Hz)."""
    applied: dict[str, JsonValue] = {}
    for prop, value in values.items():
        if prop.endswith("_duty") and isinstance(value, int | float):
            applied[prop] = round(round(value * 40.95) / 40.95, 4)
        elif prop == "frequency" and isinstance(value, int | float):
            applied[prop] = round(25e6 / (4096 * round(25e6 / (4096 * value))))
        else:
            applied[prop] = value
    return applied


@dataclass
class Greenhouse:
    node: Node
    air: Device
    pwm: Device
    pump: Device


def greenhouse(settings: RoostSettings) -> Greenhouse:
    node = Node(settings, service="i2c-bridge", node_id="i2c-bridge")
    air = node.add_device("bme280-76", bme280_meta())
    air.update(temperature=21.5, humidity=55.0, pressure=1013.2)
    pwm = node.add_device("pca9685-40", pca9685_meta(), on_set=_pwm_set)
    initial: dict[str, JsonValue] = {"frequency": 200}
    for ch in range(CHANNELS):
        initial[f"ch{ch}_duty"] = 0
        initial[f"ch{ch}_on"] = False
    pwm.update(initial)
    pump = node.add_device("ezo-pmp-67", pump_meta(), on_set=_pump_set)
    pump.update(dose_ml=0, mode="idle", label="nutrients", dosed_total=0.0)
    return Greenhouse(node, air, pwm, pump)


# recorder -------------------------------------------------------------------------------------
class HistoryParams(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    device: str
    prop: str
    from_: float | str = Field(default=0, alias="from")
    to: float | str | None = None
    step: float | None = None


# Each property's series: its level and how far a day swings it.
SERIES = {"temperature": (20.0, 5.0), "humidity": (60.0, 12.0), "pressure": (1013.0, 4.0)}


def known_value(ts: float, prop: str = "temperature") -> float:
    """The stand-in recorder's series: a daily wave with a slow hourly ripple."""
    level, swing = SERIES.get(prop, (50.0, 20.0))
    day = math.sin(ts / 86400 * 2 * math.pi)
    hour = math.sin(ts / 3600 * 2 * math.pi)
    return round(level + swing * day + swing / 5 * hour, 3)


@dataclass
class Recorder:
    node: Node
    requests: list[dict[str, Any]] = field(default_factory=list)
    known: set[str] = field(default_factory=set)


def recorder(settings: RoostSettings, known: set[str]) -> Recorder:
    """Serves `history` for `known` "node/device/prop" keys; others: unknown_property."""
    node = Node(settings, service="recorder", node_id="recorder")
    rec = Recorder(node, known=known)

    async def history(params: HistoryParams) -> JsonValue:
        rec.requests.append(params.model_dump())
        if f"{params.device}/{params.prop}" not in rec.known:
            raise CommandError(
                ErrorCode.UNKNOWN_PROPERTY, f"no history for {params.device} {params.prop}"
            )
        now = time.time()
        start = float(params.from_) if not isinstance(params.from_, str) else now - 3600
        if start < 0:
            start = now + start
        end = now if params.to is None or isinstance(params.to, str) else float(params.to)
        step = params.step or 60.0
        points: list[JsonValue] = []
        t = start - start % step
        while t <= end:
            mean = known_value(t, params.prop)
            if params.step:
                points.append([round(t, 3), mean - 0.5, mean + 0.5, mean, mean, 10])
            else:
                points.append([round(t, 3), mean])
            t += step
        return {"points": points}

    node.add_method("history", history, params=HistoryParams, description="stand-in history")
    return rec


# supervisor --------------------------------------------------------------------------------------
APP_STATES = ["stopped", "starting", "running", "stopping", "crashed", "backoff", "failed"]


APP_STATE = "state"  # the supervisor's app devices call it so


def app_meta(name: str) -> DeviceMeta:
    return DeviceMeta(
        name=name,
        model="app",
        manufacturer="roost",
        properties={
            APP_STATE: PropertySpec(kind="enum", options=APP_STATES),
            "pid": PropertySpec(kind="number"),
            "uptime": PropertySpec(kind="number", unit="s", precision=0),
            "restarts": PropertySpec(kind="number"),
            "exit_code": PropertySpec(kind="number"),
            "cpu": PropertySpec(kind="number", unit="%", precision=1),
            "rss": PropertySpec(kind="number", unit="B"),
            "reason": PropertySpec(kind="text"),
            "start": PropertySpec(kind="button"),
            "stop": PropertySpec(kind="button"),
            "restart": PropertySpec(kind="button"),
        },
    )


class LogsParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    app: str
    lines: int = 100


@dataclass
class Supervisor:
    node: Node
    apps: dict[str, Device]


def supervisor(settings: RoostSettings, apps: list[str]) -> Supervisor:
    node = Node(settings, service="supervisor", node_id="supervisor")

    async def act(device: Device, values: dict[str, JsonValue]) -> Mapping[str, JsonValue]:
        state = dict(device.values)
        if values.get("stop"):
            return {APP_STATE: "stopped", "pid": None, "uptime": None, "exit_code": 0}
        if values.get("start") or values.get("restart"):
            before = state.get("restarts")
            restarts = (before if isinstance(before, int) else 0) + (
                1 if values.get("restart") else 0
            )
            return {APP_STATE: "running", "pid": 4242, "uptime": 0, "restarts": restarts}
        return {}

    devices = {}
    for index, app in enumerate(apps):
        device = node.add_device(app, app_meta(app), on_set=act)
        device.update(
            {APP_STATE: "running"},
            pid=1000 + index,
            uptime=3600 + index,
            restarts=0,
            exit_code=None,
            cpu=1.5,
            rss=24_000_000,
        )
        devices[app] = device
    host = node.add_device(
        "host",
        DeviceMeta(
            name="host",
            properties={
                "disk_free": PropertySpec(kind="number", unit="GB", precision=1),
                "memory_used": PropertySpec(kind="number", unit="%", precision=0),
                "load": PropertySpec(kind="number", precision=2),
            },
        ),
    )
    host.update(disk_free=42.0, memory_used=38, load=0.42)

    async def logs(params: LogsParams) -> JsonValue:
        if params.app not in devices:
            raise CommandError(ErrorCode.INVALID_PARAMS, f"no app {params.app!r}")
        lines: list[JsonValue] = [f"{params.app}: log line {i}" for i in range(params.lines)]
        return {"lines": lines}

    node.add_method("logs", logs, params=LogsParams)
    return Supervisor(node, devices)


# event engine ------------------------------------------------------------------------------------
class LogParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = 100


@dataclass
class Engine:
    node: Node
    device: Device


def engine(settings: RoostSettings) -> Engine:
    node = Node(settings, service="event-engine", node_id="event-engine")
    device = node.add_device(
        "engine",
        DeviceMeta(
            name="Event engine",
            properties={
                "events_per_s": PropertySpec(kind="number", precision=1),
                "queue": PropertySpec(kind="number"),
                "dropped": PropertySpec(kind="number"),
                "errors": PropertySpec(kind="number"),
                "workers": PropertySpec(kind="number"),
                "script_event": PropertySpec(kind="event", options=["script_error"]),
            },
            events=["script_error"],
        ),
    )
    device.update(events_per_s=2.0, queue=0, dropped=0, errors=1, workers=2)

    async def log(params: LogParams) -> JsonValue:
        # the real engine's entries (oldest first), so the page reads what it will get
        entries = [
            LogEntry(
                ts="2026-01-01T12:00:00.000Z",
                trigger={
                    "kind": "change",
                    "device": "i2c-bridge/bme280-76",
                    "changes": {"temperature": 21.5},
                },
                functions=["devices/i2c-bridge/bme280-76.js:temperature_onchange"],
                sent=[{"set": "i2c-bridge/pca9685-40", "values": {"ch0_duty": 0}}],
                duration_ms=0.8,
            ),
            LogEntry(
                ts="2026-01-01T12:00:01.000Z",
                trigger={
                    "kind": "change",
                    "device": "i2c-bridge/pca9685-40",
                    "changes": {"ch0_duty": 35.0},
                },
                functions=["fan.js:ch0_duty_onchange"],
                duration_ms=1.2,
                error="ReferenceError: nope is not defined",
            ),
        ]
        return {"entries": [e.model_dump(mode="json") for e in entries[-params.limit :]]}

    node.add_method("log", log, params=LogParams)
    return Engine(node, device)


# camera and detector -----------------------------------------------------------------------------
def jpeg(label: str, shade: int = 90) -> bytes:
    frame = np.full((240, 320, 3), shade, dtype=np.uint8)
    cv2.rectangle(frame, (120, 60), (200, 220), (40, 160, 240), -1)
    cv2.putText(frame, label, (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 255, 255), 2)
    ok, data = cv2.imencode(".jpg", frame)
    assert ok
    return bytes(data.tobytes())


@dataclass
class Cameras:
    camera_node: Node
    camera: Device
    detector_node: Node
    detector: Device


def cameras(settings: RoostSettings) -> Cameras:
    camera_node = Node(settings, service="camera", node_id="camera")
    camera = camera_node.add_device(
        "demo",
        DeviceMeta(
            name="Demo camera",
            model="synthetic",
            properties={
                "enabled": PropertySpec(kind="switch", settable=True),
                "fps": PropertySpec(
                    kind="number", unit="fps", min=1, max=30, step=1, settable=True
                ),
                "snapshot_interval": PropertySpec(
                    kind="number", unit="s", min=1, max=3600, step=1, settable=True
                ),
                "recording": PropertySpec(kind="switch"),
                "snapshot": PropertySpec(kind="image"),
            },
        ),
    )
    camera.update(enabled=True, fps=5, snapshot_interval=5, recording=False)
    camera.publish_blob("snapshot", jpeg("camera 1"))
    detector_node = Node(settings, service="detector", node_id="detector")
    detector = detector_node.add_device(
        "demo",
        DeviceMeta(
            name="Detections demo",
            properties={
                "person": PropertySpec(kind="number"),
                "motion": PropertySpec(kind="switch"),
                "occupied": PropertySpec(kind="switch"),
                "detection": PropertySpec(kind="event", options=["person"]),
                "snapshot": PropertySpec(kind="image"),
            },
            events=["person"],
        ),
    )
    detector.update(person=0, motion=False, occupied=False)
    return Cameras(camera_node, camera, detector_node, detector)


def detect_person(detector: Device, score: float = 0.87) -> str:
    """A detection in Frigate's shape, picture first as roost's detector does it."""
    now = time.time()
    data = {
        "label": "person",
        "score": score,
        "top_score": score,
        "box": [120, 60, 200, 220],
        "start": now,
        "end": None,
        "camera": "camera/demo",
    }
    detector.publish_blob("snapshot", jpeg("person", 60))
    event_id = detector.emit("person", data, phase="start")
    detector.update(person=1, motion=True, occupied=True)
    return event_id
