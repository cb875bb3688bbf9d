"""Home Assistant MQTT discovery, one entity per property (works on HA 2024.1 and later).

`KINDS` is the whole mapping from a property kind to a Home Assistant component; each
builder adds what that component needs to the fields every entity shares.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from roost import __version__
from roost.models.meta import DeviceMeta, MethodSpec, PropertyKind, PropertySpec
from roost.topics import Topics

Payload = dict[str, Any]
SUPPORT_URL = "https://github.com/roost-iot/roost"
PRESS = "PRESS"


def unique_id(node: str, device: str, name: str) -> str:
    return f"roost_{node}_{device}_{name}"


def _object_id(*parts: str) -> str:
    return "_".join(parts).replace("-", "_")


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize()


def _state_value(prop: str) -> str:
    return f"{{{{ value_json.{prop} }}}}"


def _on_off(prop: str) -> str:
    return (
        f"{{% if value_json.{prop} is none %}}None"
        f"{{% elif value_json.{prop} %}}ON{{% else %}}OFF{{% endif %}}"
    )


@dataclass(frozen=True)
class Entity:
    """Where one property lives, for the builders."""

    topics: Topics
    node: str
    device: str
    prop: str
    spec: PropertySpec

    @property
    def state_topic(self) -> str:
        return self.topics.state(self.node, self.device)

    @property
    def command_topic(self) -> str:
        return self.topics.set(self.node, self.device, self.prop)


def _sensor(e: Entity) -> Payload:
    spec = e.spec
    out: Payload = {"state_topic": e.state_topic, "value_template": _state_value(e.prop)}
    if spec.kind is PropertyKind.NUMBER:
        out["state_class"] = spec.state_class or "measurement"
        if spec.precision is not None:
            out["suggested_display_precision"] = spec.precision
    elif spec.kind is PropertyKind.ENUM:
        out["device_class"] = "enum"
        out["options"] = list(spec.options or [])
    elif spec.state_class:
        out["state_class"] = spec.state_class
    return out


def _number(e: Entity) -> Payload:
    spec = e.spec
    out: Payload = {
        "state_topic": e.state_topic,
        "value_template": _state_value(e.prop),
        "command_topic": e.command_topic,
        "mode": "slider" if spec.min is not None and spec.max is not None else "box",
    }
    if spec.min is not None:
        out["min"] = spec.min
    if spec.max is not None:
        out["max"] = spec.max
    out["step"] = spec.step if spec.step is not None else 10 ** -(spec.precision or 0)
    return out


def _binary_sensor(e: Entity) -> Payload:
    return {
        "state_topic": e.state_topic,
        "value_template": _on_off(e.prop),
        "payload_on": "ON",
        "payload_off": "OFF",
    }


def _switch(e: Entity) -> Payload:
    return {
        "state_topic": e.state_topic,
        "value_template": _on_off(e.prop),
        "command_topic": e.command_topic,
        "payload_on": "ON",
        "payload_off": "OFF",
        "state_on": "ON",
        "state_off": "OFF",
    }


def _button(e: Entity) -> Payload:
    return {"command_topic": e.command_topic, "payload_press": PRESS}


def _text(e: Entity) -> Payload:
    return {
        "state_topic": e.state_topic,
        "value_template": _state_value(e.prop),
        "command_topic": e.command_topic,
        "max": e.spec.text_limit,
        "mode": "text",
    }


def _select(e: Entity) -> Payload:
    return {
        "state_topic": e.state_topic,
        "value_template": _state_value(e.prop),
        "command_topic": e.command_topic,
        "options": list(e.spec.options or []),
    }


def _image(e: Entity) -> Payload:
    return {"image_topic": e.topics.blob(e.node, e.device, e.prop), "content_type": "image/jpeg"}


def _event(e: Entity) -> Payload:
    types = list(e.spec.options or [])
    return {
        "state_topic": e.topics.event(e.node, e.device),
        "event_types": types,
        # Events of other types on the same topic render empty, which HA ignores.
        "value_template": (
            f"{{% if value_json.event_type in {types!r} %}}{{{{ value }}}}{{% endif %}}"
        ),
    }


Builder = Callable[[Entity], Payload]

# (component when read-only, component when settable) → builder
KINDS: dict[PropertyKind, tuple[tuple[str, Builder], tuple[str, Builder]]] = {
    PropertyKind.NUMBER: (("sensor", _sensor), ("number", _number)),
    PropertyKind.SWITCH: (("binary_sensor", _binary_sensor), ("switch", _switch)),
    PropertyKind.BUTTON: (("button", _button), ("button", _button)),
    PropertyKind.TEXT: (("sensor", _sensor), ("text", _text)),
    PropertyKind.ENUM: (("sensor", _sensor), ("select", _select)),
    PropertyKind.IMAGE: (("image", _image), ("image", _image)),
    PropertyKind.EVENT: (("event", _event), ("event", _event)),
}


def origin() -> Payload:
    return {"name": "roost", "sw_version": __version__, "support_url": SUPPORT_URL}


def node_device_block(node: str, service: str, version: str) -> Payload:
    return {
        "identifiers": [f"roost_{node}"],
        "name": f"roost {node}",
        "manufacturer": "roost",
        "model": service,
        "sw_version": version,
    }


def device_block(node: str, device: str, meta: DeviceMeta) -> Payload:
    block: Payload = {
        "identifiers": [f"roost_{node}_{device}"],
        "name": meta.name,
        "via_device": f"roost_{node}",
    }
    for key, value in (
        ("manufacturer", meta.manufacturer),
        ("model", meta.model),
        ("sw_version", meta.version),
        ("suggested_area", meta.suggested_area),
    ):
        if value:
            block[key] = value
    return block


def _common(
    component: str, uid: str, object_id: str, name: str, device: Payload, availability: list[str]
) -> Payload:
    return {
        "name": name,
        "unique_id": uid,
        "object_id": object_id,
        "default_entity_id": f"{component}.{object_id}",
        "device": device,
        "origin": origin(),
        "availability": [{"topic": topic} for topic in availability],
        "availability_mode": "all",
        "qos": 1,
    }


def device_configs(topics: Topics, node: str, device: str, meta: DeviceMeta) -> dict[str, Payload]:
    """Every discovery config of one device: topic → payload."""
    block = device_block(node, device, meta)
    availability = [topics.node_availability(node), topics.availability(node, device)]
    configs: dict[str, Payload] = {}
    for prop, spec in meta.properties.items():
        component, build = KINDS[spec.kind][1 if spec.accepts_commands else 0]
        entity = Entity(topics, node, device, prop, spec)
        payload = _common(
            component,
            unique_id(node, device, prop),
            _object_id(node, device, prop),
            spec.name or _label(prop),
            block,
            availability,
        )
        payload.update(build(entity))
        for key in ("unit", "device_class", "entity_category", "icon", "expire_after"):
            value = getattr(spec, key)
            if value is not None and not (key == "device_class" and "device_class" in payload):
                payload["unit_of_measurement" if key == "unit" else key] = value
        if spec.kind in (PropertyKind.IMAGE, PropertyKind.EVENT, PropertyKind.BUTTON):
            payload.pop("unit_of_measurement", None)
            payload.pop("expire_after", None)
        topic = topics.discovery(component, node, f"{device}_{prop}")
        configs[topic] = payload
    for method, method_spec in meta.methods.items():
        if _takes_no_params(method_spec):
            configs.update(
                _method_button(topics, node, method, method_spec, block, availability, device)
            )
    return configs


# The node's own device: its stats as diagnostic sensors.
STATS_SENSORS: dict[str, Payload] = {
    "uptime": {
        "unit_of_measurement": "s",
        "device_class": "duration",
        "state_class": "measurement",
    },
    "rss": {
        "unit_of_measurement": "B",
        "device_class": "data_size",
        "state_class": "measurement",
        "suggested_unit_of_measurement": "MB",
    },
    "cpu": {"unit_of_measurement": "%", "state_class": "measurement"},
    "loop_lag": {
        "unit_of_measurement": "ms",
        "device_class": "duration",
        "state_class": "measurement",
    },
    "messages_in": {"state_class": "total_increasing"},
    "messages_out": {"state_class": "total_increasing"},
    "errors": {"state_class": "total_increasing"},
}
STATS_EXPIRY = 90


def node_configs(
    topics: Topics, node: str, service: str, version: str, methods: dict[str, MethodSpec]
) -> dict[str, Payload]:
    block = node_device_block(node, service, version)
    availability = [topics.node_availability(node)]
    configs: dict[str, Payload] = {}
    for stat, extra in STATS_SENSORS.items():
        payload = _common(
            "sensor",
            unique_id(node, "stats", stat),
            _object_id(node, stat),
            _label(stat),
            block,
            availability,
        )
        payload.update(
            {
                "state_topic": topics.node_stats(node),
                "value_template": _state_value(stat),
                "entity_category": "diagnostic",
                "expire_after": STATS_EXPIRY,
                **extra,
            }
        )
        configs[topics.discovery("sensor", node, f"stats_{stat}")] = payload
    for method, spec in methods.items():
        if _takes_no_params(spec) and not spec.device:
            configs.update(_method_button(topics, node, method, spec, block, availability, None))
    return configs


def _takes_no_params(spec: MethodSpec) -> bool:
    params = spec.params or {}
    required = set(params.get("required", [])) - {"device"}
    return not required


def _method_button(
    topics: Topics,
    node: str,
    method: str,
    spec: MethodSpec,
    block: Payload,
    availability: list[str],
    device: str | None,
) -> dict[str, Payload]:
    owner = device or "info"
    object_id = _object_id(node, owner, method)
    payload = _common(
        "button",
        unique_id(node, owner, method),
        object_id,
        spec.name or _label(method),
        block,
        availability,
    )
    params: Payload = {"device": device} if device else {}
    payload["command_topic"] = topics.request(node, method)
    payload["payload_press"] = json.dumps(
        {"id": "homeassistant", "params": params}, separators=(",", ":")
    )
    return {topics.discovery("button", node, f"{owner}_{method}"): payload}
