"""Property names: `state` is a fine property (the supervisor's apps have one); only an
image property, whose name is a topic level of its own, must avoid the device topics."""

import pytest
from pydantic import ValidationError

from roost.errors import TopicError
from roost.models import DeviceMeta, PropertySpec
from roost.topics import TopicKind, Topics

T = Topics("roost", "homeassistant")


def test_state_is_a_valid_property_name() -> None:
    meta = DeviceMeta(
        name="App", properties={"state": PropertySpec(kind="enum", options=["a", "b"])}
    )
    assert "state" in meta.properties
    assert T.parse(T.set("n1", "app", "state")).kind is TopicKind.SET_PROP


@pytest.mark.parametrize("name", ["state", "meta", "availability", "set", "error", "event"])
def test_image_cannot_take_a_device_topic_name(name: str) -> None:
    with pytest.raises(ValidationError, match="reserved"):
        DeviceMeta(name="Cam", properties={name: PropertySpec(kind="image")})
    with pytest.raises(TopicError):
        T.blob("n1", "cam", name)


@pytest.mark.parametrize("name", ["ts", "id"])
def test_ts_and_id_stay_reserved(name: str) -> None:
    with pytest.raises(ValidationError, match="reserved"):
        DeviceMeta(name="X", properties={name: PropertySpec(kind="number")})


def test_state_topic_still_parses_as_state() -> None:
    assert T.parse("roost/n1/app/state").kind is TopicKind.STATE
