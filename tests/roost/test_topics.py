import pytest

from roost.errors import TopicError
from roost.topics import TopicKind, Topics

T = Topics("roost", "homeassistant")


@pytest.mark.parametrize(
    ("topic", "kind", "node", "device", "prop"),
    [
        (T.node_availability("n1"), TopicKind.NODE_AVAILABILITY, "n1", None, None),
        (T.node_info("n1"), TopicKind.NODE_INFO, "n1", None, None),
        (T.node_stats("n1"), TopicKind.NODE_STATS, "n1", None, None),
        (T.meta("n1", "d-1"), TopicKind.META, "n1", "d-1", None),
        (T.state("n1", "d-1"), TopicKind.STATE, "n1", "d-1", None),
        (T.availability("n1", "d-1"), TopicKind.AVAILABILITY, "n1", "d-1", None),
        (T.set("n1", "d-1"), TopicKind.SET, "n1", "d-1", None),
        (T.set("n1", "d-1", "duty"), TopicKind.SET_PROP, "n1", "d-1", "duty"),
        (T.error("n1", "d-1"), TopicKind.ERROR, "n1", "d-1", None),
        (T.event("n1", "d-1"), TopicKind.EVENT, "n1", "d-1", None),
        (T.blob("n1", "d-1", "snapshot"), TopicKind.BLOB, "n1", "d-1", "snapshot"),
        (T.request("n1", "history"), TopicKind.REQUEST, "n1", None, "history"),
        (T.response("n1", "history"), TopicKind.RESPONSE, "n1", None, "history"),
    ],
)
def test_every_topic_round_trips(
    topic: str, kind: TopicKind, node: str, device: str | None, prop: str | None
) -> None:
    parsed = T.parse(topic)
    assert (parsed.kind, parsed.node, parsed.device, parsed.prop) == (kind, node, device, prop)


def test_exact_strings_of_the_contract() -> None:
    assert T.state("i2c-bridge", "bme280-76") == "roost/i2c-bridge/bme280-76/state"
    assert T.set("n", "d", "duty") == "roost/n/d/set/duty"
    assert T.request("recorder", "history") == "roost/request/recorder/history"
    assert T.reply("cli-1", "response/history") == "roost/reply/cli-1/response/history"
    assert T.discovery("sensor", "n", "d_temp") == "homeassistant/sensor/n/d_temp/config"
    assert T.ha_status() == "homeassistant/status"


def test_discovery_and_reply_topics_parse() -> None:
    parsed = T.parse("homeassistant/number/n1/fan_duty/config")
    assert parsed.kind is TopicKind.DISCOVERY
    assert (parsed.component, parsed.node, parsed.object_id) == ("number", "n1", "fan_duty")
    assert T.parse("homeassistant/status").kind is TopicKind.HA_STATUS
    reply = T.parse("roost/reply/cli-1/response/history")
    assert (reply.kind, reply.node, reply.rest) == (TopicKind.REPLY, "cli-1", "response/history")


def test_multi_level_prefix() -> None:
    site = Topics("site-a/roost", "ha")
    assert site.state("n", "d") == "site-a/roost/n/d/state"
    assert site.parse("site-a/roost/n/d/state").device == "d"


@pytest.mark.parametrize(
    "bad_node",
    ["", "Upper", "under_score", "slash/y", "-lead", "trail-", "request", "reply", "a" * 65],
)
def test_bad_node_ids_are_refused(bad_node: str) -> None:
    with pytest.raises(TopicError):
        T.node_info(bad_node)


@pytest.mark.parametrize("bad_device", ["info", "stats", "availability", "x+y", "#", "Dev"])
def test_bad_device_ids_are_refused(bad_device: str) -> None:
    with pytest.raises(TopicError):
        T.state("n", bad_device)


@pytest.mark.parametrize("bad_prop", ["Duty", "1duty", "du-ty", "ts", "id", "a" * 65])
def test_bad_property_names_are_refused(bad_prop: str) -> None:
    with pytest.raises(TopicError):
        T.set("n", "d", bad_prop)


@pytest.mark.parametrize(
    "foreign",
    [
        "other/n/d/state",
        "roost/n/d/set/x/y",
        "roost/n/unknown",
        "roost/N/d/state",
        "homeassistant/x",
    ],
)
def test_foreign_topics_do_not_parse(foreign: str) -> None:
    with pytest.raises(TopicError):
        T.parse(foreign)


def test_bad_prefix_is_refused() -> None:
    with pytest.raises(TopicError):
        Topics("roost/#", "homeassistant")
