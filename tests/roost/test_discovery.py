"""Home Assistant discovery: the fields each component needs, for every property kind."""

from __future__ import annotations

from typing import Any

import pytest

from roost import discovery
from roost.models import DeviceMeta, MethodSpec, PropertySpec
from roost.topics import Topics

from .nodes import FAN

T = Topics("roost", "homeassistant")
CONFIGS = discovery.device_configs(T, "n1", "fan", FAN)


def config(component: str, prop: str) -> dict[str, Any]:
    return CONFIGS[T.discovery(component, "n1", f"fan_{prop}")]


@pytest.mark.parametrize(
    ("prop", "component"),
    [
        ("duty", "number"),
        ("power", "switch"),
        ("rpm", "sensor"),
        ("running", "binary_sensor"),
        ("mode", "select"),
        ("label", "text"),
        ("note", "sensor"),
        ("reset", "button"),
        ("snapshot", "image"),
        ("alarm", "event"),
    ],
)
def test_every_kind_has_the_fields_home_assistant_needs(prop: str, component: str) -> None:
    payload = config(component, prop)
    assert payload["unique_id"] == f"roost_n1_fan_{prop}"
    assert payload["object_id"] == f"n1_fan_{prop}"
    assert payload["default_entity_id"] == f"{component}.n1_fan_{prop}"
    assert payload["name"]
    assert payload["device"]["identifiers"] == ["roost_n1_fan"]
    assert payload["device"]["via_device"] == "roost_n1"
    assert payload["device"]["name"] == "Fan"
    assert payload["origin"]["name"] == "roost"
    assert payload["availability_mode"] == "all"
    assert [a["topic"] for a in payload["availability"]] == [
        "roost/n1/availability",
        "roost/n1/fan/availability",
    ]
    if component in ("number", "switch", "select", "text", "button"):
        assert payload["command_topic"] == f"roost/n1/fan/set/{prop}"
    else:
        assert "command_topic" not in payload
    if component in ("sensor", "binary_sensor", "number", "switch", "select", "text"):
        assert payload["state_topic"] == "roost/n1/fan/state"
        assert prop in payload["value_template"]


def test_number_carries_range_step_and_unit() -> None:
    duty = config("number", "duty")
    assert (duty["min"], duty["max"], duty["step"], duty["mode"]) == (0, 100, 1, "slider")
    assert duty["unit_of_measurement"] == "%"


def test_sensor_units_and_classes() -> None:
    meta = DeviceMeta(
        name="Air",
        properties={
            "temperature": PropertySpec(
                kind="number", unit="°C", device_class="temperature", precision=2, expire_after=60
            )
        },
    )
    payload = discovery.device_configs(T, "n1", "air", meta)[
        T.discovery("sensor", "n1", "air_temperature")
    ]
    assert payload["unit_of_measurement"] == "°C"
    assert payload["device_class"] == "temperature"
    assert payload["state_class"] == "measurement"
    assert payload["suggested_display_precision"] == 2
    assert payload["expire_after"] == 60


def test_switch_and_binary_sensor_map_booleans() -> None:
    switch = config("switch", "power")
    assert (switch["payload_on"], switch["payload_off"]) == ("ON", "OFF")
    assert (switch["state_on"], switch["state_off"]) == ("ON", "OFF")
    assert "ON" in switch["value_template"] and "OFF" in switch["value_template"]


def test_select_enum_sensor_image_event_button() -> None:
    assert config("select", "mode")["options"] == ["auto", "manual"]
    assert config("text", "label")["max"] == 16
    image = config("image", "snapshot")
    assert image["image_topic"] == "roost/n1/fan/snapshot"
    assert image["content_type"] == "image/jpeg"
    event = config("event", "alarm")
    assert event["state_topic"] == "roost/n1/fan/event"
    assert event["event_types"] == ["stall", "overheat"]
    assert config("button", "reset")["payload_press"] == "PRESS"
    ro_enum = DeviceMeta(name="E", properties={"phase": PropertySpec(kind="enum", options=["a"])})
    sensor = discovery.device_configs(T, "n1", "e", ro_enum)[T.discovery("sensor", "n1", "e_phase")]
    assert (sensor["device_class"], sensor["options"]) == ("enum", ["a"])


def test_node_device_carries_its_diagnostics() -> None:
    configs = discovery.node_configs(
        T,
        "n1",
        "test",
        "1.0",
        {"reload": MethodSpec(), "history": MethodSpec(params={"required": ["prop"]})},
    )
    rss = configs[T.discovery("sensor", "n1", "stats_rss")]
    assert rss["state_topic"] == "roost/n1/stats"
    assert rss["entity_category"] == "diagnostic"
    assert rss["device"]["identifiers"] == ["roost_n1"]
    assert rss["availability"] == [{"topic": "roost/n1/availability"}]
    assert rss["expire_after"] == 90
    button = configs[T.discovery("button", "n1", "info_reload")]
    assert button["command_topic"] == "roost/request/n1/reload"
    # A method that needs parameters is not a button.
    assert T.discovery("button", "n1", "info_history") not in configs


def test_object_ids_are_valid_entity_ids() -> None:
    configs = discovery.device_configs(T, "i2c-bridge", "bme280-76", FAN)
    for payload in configs.values():
        assert "-" not in payload["object_id"]
        assert payload["default_entity_id"].split(".")[1] == payload["object_id"]
