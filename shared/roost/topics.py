"""The topic contract in code: the only place roost forms or parses a topic string.

Every topic in docs/topics.md is built by a method of `Topics` and read back by
`Topics.parse`. Ids are checked on the way in, so a topic that breaks the contract is
never formed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator

from roost.errors import TopicError

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
REPLY_USER = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")

RESERVED_NODE_IDS = frozenset({"request", "response", "reply"})
RESERVED_DEVICE_IDS = frozenset({"availability", "info", "stats"})
# Property names are keys beside `ts` (state) and `id` (commands); an image property's
# name is also a topic level beside these.
DEVICE_LEVELS = ("meta", "state", "availability", "set", "ack", "error", "event")
RESERVED_PROPS = frozenset({"ts", "id"})
RESERVED_BLOBS = frozenset({*DEVICE_LEVELS, *RESERVED_PROPS})


def check_node_id(value: str) -> str:
    if not SLUG.match(value):
        raise TopicError(f"node id {value!r} is not a slug ([a-z0-9] and '-', at most 64)")
    if value in RESERVED_NODE_IDS:
        raise TopicError(f"node id {value!r} is reserved")
    return value


def check_device_id(value: str) -> str:
    if not SLUG.match(value):
        raise TopicError(f"device id {value!r} is not a slug ([a-z0-9] and '-', at most 64)")
    if value in RESERVED_DEVICE_IDS:
        raise TopicError(f"device id {value!r} is reserved")
    return value


def check_name(value: str, what: str = "property") -> str:
    """Property and method names: identifiers, so scripts can say `duty_onchange`."""
    if not NAME.match(value):
        raise TopicError(f"{what} name {value!r} must match [a-z][a-z0-9_]*, at most 64")
    if what == "property" and value in RESERVED_PROPS:
        raise TopicError(f"property name {value!r} is reserved")
    if what == "blob" and value in RESERVED_BLOBS:
        raise TopicError(f"image property name {value!r} is reserved (a device topic)")
    return value


# For pydantic models (config sections): the check runs as the field is validated, and its
# TopicError, a ValueError, becomes the validation error that names the key.
def _node_id(value: str) -> str:
    return check_node_id(value)


def _device_id(value: str) -> str:
    return check_device_id(value)


def _prop_name(value: str) -> str:
    return check_name(value)


NodeId = Annotated[str, AfterValidator(_node_id)]
DeviceId = Annotated[str, AfterValidator(_device_id)]
PropName = Annotated[str, AfterValidator(_prop_name)]


def check_prefix(value: str) -> str:
    if not value or any(not SLUG.match(level) for level in value.split("/")):
        raise TopicError(f"topic prefix {value!r} must be one or more slugs joined by '/'")
    return value


class TopicKind(StrEnum):
    NODE_AVAILABILITY = "node_availability"
    NODE_INFO = "info"
    NODE_STATS = "stats"
    META = "meta"
    STATE = "state"
    AVAILABILITY = "availability"
    SET = "set"
    SET_PROP = "set_prop"
    ACK = "ack"
    ERROR = "error"
    EVENT = "event"
    BLOB = "blob"
    REQUEST = "request"
    RESPONSE = "response"
    REPLY = "reply"
    DISCOVERY = "discovery"
    HA_STATUS = "ha_status"


@dataclass(frozen=True, slots=True)
class ParsedTopic:
    kind: TopicKind
    node: str | None = None
    device: str | None = None
    prop: str | None = None  # set/<prop>, a blob's name, or a request's method
    component: str | None = None  # discovery only
    object_id: str | None = None  # discovery only
    rest: str | None = None  # reply topics: what follows roost/reply/<user>/


@dataclass(frozen=True, slots=True)
class Topics:
    """Builds and parses every topic of the contract under one prefix."""

    prefix: str = "roost"
    discovery_prefix: str = "homeassistant"

    def __post_init__(self) -> None:
        check_prefix(self.prefix)
        check_prefix(self.discovery_prefix)

    # node ------------------------------------------------------------------------------
    def node_availability(self, node: str) -> str:
        return f"{self.prefix}/{check_node_id(node)}/availability"

    def node_info(self, node: str) -> str:
        return f"{self.prefix}/{check_node_id(node)}/info"

    def node_stats(self, node: str) -> str:
        return f"{self.prefix}/{check_node_id(node)}/stats"

    # device ----------------------------------------------------------------------------
    def _device(self, node: str, device: str, leaf: str) -> str:
        return f"{self.prefix}/{check_node_id(node)}/{check_device_id(device)}/{leaf}"

    def meta(self, node: str, device: str) -> str:
        return self._device(node, device, "meta")

    def state(self, node: str, device: str) -> str:
        return self._device(node, device, "state")

    def availability(self, node: str, device: str) -> str:
        return self._device(node, device, "availability")

    def set(self, node: str, device: str, prop: str | None = None) -> str:
        if prop is None:
            return self._device(node, device, "set")
        return self._device(node, device, f"set/{check_name(prop)}")

    def ack(self, node: str, device: str) -> str:
        return self._device(node, device, "ack")

    def error(self, node: str, device: str) -> str:
        return self._device(node, device, "error")

    def event(self, node: str, device: str) -> str:
        return self._device(node, device, "event")

    def blob(self, node: str, device: str, prop: str) -> str:
        return self._device(node, device, check_name(prop, "blob"))

    # request / response ----------------------------------------------------------------
    def request(self, node: str, method: str) -> str:
        return f"{self.prefix}/request/{check_node_id(node)}/{check_name(method, 'method')}"

    def response(self, node: str, method: str) -> str:
        return f"{self.prefix}/response/{check_node_id(node)}/{check_name(method, 'method')}"

    def reply(self, user: str, rest: str) -> str:
        if not REPLY_USER.match(user):
            raise TopicError(f"reply user {user!r} must match [A-Za-z0-9_.-]+")
        if not rest or "+" in rest or "#" in rest:
            raise TopicError(f"reply topic suffix {rest!r} is empty or has a wildcard")
        return f"{self.prefix}/reply/{user}/{rest}"

    def replies(self, user: str) -> str:
        """The filter a client reads its replies on."""
        if not REPLY_USER.match(user):
            raise TopicError(f"reply user {user!r} must match [A-Za-z0-9_.-]+")
        return f"{self.prefix}/reply/{user}/#"

    def reply_base(self) -> str:
        return f"{self.prefix}/reply/"

    # Home Assistant --------------------------------------------------------------------
    def discovery(self, component: str, node: str, object_id: str) -> str:
        if not re.match(r"^[a-z_]+$", component):
            raise TopicError(f"discovery component {component!r} is not a domain name")
        if not re.match(r"^[a-z0-9_-]+$", object_id):
            raise TopicError(f"discovery object id {object_id!r} has characters HA refuses")
        return f"{self.discovery_prefix}/{component}/{check_node_id(node)}/{object_id}/config"

    def ha_status(self) -> str:
        return f"{self.discovery_prefix}/status"

    # subscription filters --------------------------------------------------------------
    def all_of_node(self, node: str) -> str:
        return f"{self.prefix}/{check_node_id(node)}/#"

    def node_sets(self, node: str) -> tuple[str, str]:
        base = f"{self.prefix}/{check_node_id(node)}/+/set"
        return base, f"{base}/+"

    def node_requests(self, node: str) -> str:
        return f"{self.prefix}/request/{check_node_id(node)}/+"

    def node_discovery(self, node: str) -> str:
        return f"{self.discovery_prefix}/+/{check_node_id(node)}/+/config"

    def any_node(self, leaf: str) -> str:
        """`roost/+/<leaf>` for leaf in availability/info/stats."""
        return f"{self.prefix}/+/{leaf}"

    def any_device(self, leaf: str) -> str:
        """`roost/+/+/<leaf>` for leaf in meta/state/availability/event/ack/error."""
        return f"{self.prefix}/+/+/{leaf}"

    # parsing ---------------------------------------------------------------------------
    def parse(self, topic: str) -> ParsedTopic:
        """Classify a topic of the contract; raises TopicError for anything else."""
        if topic.startswith(self.discovery_prefix + "/"):
            return self._parse_discovery(topic)
        if not topic.startswith(self.prefix + "/"):
            raise TopicError(f"topic {topic!r} is outside prefix {self.prefix!r}")
        levels = topic[len(self.prefix) + 1 :].split("/")
        head = levels[0]
        if head in ("request", "response") and len(levels) == 3:
            kind = TopicKind.REQUEST if head == "request" else TopicKind.RESPONSE
            node, method = check_node_id(levels[1]), check_name(levels[2], "method")
            return ParsedTopic(kind, node=node, prop=method)
        if head == "reply" and len(levels) >= 3:
            return ParsedTopic(TopicKind.REPLY, node=levels[1], rest="/".join(levels[2:]))
        node = check_node_id(head)
        if len(levels) == 2:
            leaf_kind = {
                "availability": TopicKind.NODE_AVAILABILITY,
                "info": TopicKind.NODE_INFO,
                "stats": TopicKind.NODE_STATS,
            }.get(levels[1])
            if leaf_kind is None:
                raise TopicError(f"topic {topic!r} is not a node topic of the contract")
            return ParsedTopic(leaf_kind, node=node)
        device = check_device_id(levels[1])
        if len(levels) == 3:
            leaf = levels[2]
            fixed = {
                "meta": TopicKind.META,
                "state": TopicKind.STATE,
                "availability": TopicKind.AVAILABILITY,
                "set": TopicKind.SET,
                "ack": TopicKind.ACK,
                "error": TopicKind.ERROR,
                "event": TopicKind.EVENT,
            }.get(leaf)
            if fixed is not None:
                return ParsedTopic(fixed, node=node, device=device)
            return ParsedTopic(
                TopicKind.BLOB, node=node, device=device, prop=check_name(leaf, "blob")
            )
        if len(levels) == 4 and levels[2] == "set":
            prop = check_name(levels[3])
            return ParsedTopic(TopicKind.SET_PROP, node=node, device=device, prop=prop)
        raise TopicError(f"topic {topic!r} is not a device topic of the contract")

    def _parse_discovery(self, topic: str) -> ParsedTopic:
        levels = topic[len(self.discovery_prefix) + 1 :].split("/")
        if levels == ["status"]:
            return ParsedTopic(TopicKind.HA_STATUS)
        if len(levels) == 4 and levels[3] == "config":
            return ParsedTopic(
                TopicKind.DISCOVERY,
                node=check_node_id(levels[1]),
                component=levels[0],
                object_id=levels[2],
            )
        raise TopicError(f"topic {topic!r} is not a discovery topic roost writes")
