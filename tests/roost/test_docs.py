"""docs/topics.md is the contract: it must name every code, kind and component the code has."""

from __future__ import annotations

from pathlib import Path

import pytest

from roost import discovery
from roost.errors import ErrorCode
from roost.models.meta import PropertyKind, PropertySpec
from roost.topics import (
    RESERVED_BLOBS,
    RESERVED_DEVICE_IDS,
    RESERVED_NODE_IDS,
    RESERVED_PROPS,
    Topics,
)

DOC = (Path(__file__).resolve().parents[2] / "docs" / "topics.md").read_text()
T = Topics()


@pytest.mark.parametrize("code", list(ErrorCode))
def test_every_error_code_is_documented(code: ErrorCode) -> None:
    assert f"| `{code.value}` |" in DOC


@pytest.mark.parametrize("kind", list(PropertyKind))
def test_every_kind_and_its_components_are_documented(kind: PropertyKind) -> None:
    assert f"| `{kind.value}` |" in DOC
    for component, _ in discovery.KINDS[kind]:
        assert f"`{component}`" in DOC


def test_every_property_field_is_documented() -> None:
    for field, info in PropertySpec.model_fields.items():
        if not info.exclude:
            assert f"`{field}`" in DOC, field


def test_reserved_names_are_documented() -> None:
    for name in RESERVED_NODE_IDS | RESERVED_DEVICE_IDS | RESERVED_PROPS | RESERVED_BLOBS:
        assert f"`{name}`" in DOC, name


def test_topic_shapes_in_the_table_are_what_the_code_builds() -> None:
    built = [
        T.node_availability("nodex"),
        T.node_info("nodex"),
        T.node_stats("nodex"),
        T.meta("nodex", "devx"),
        T.state("nodex", "devx"),
        T.availability("nodex", "devx"),
        T.set("nodex", "devx"),
        T.set("nodex", "devx", "propx"),
        T.ack("nodex", "devx"),
        T.error("nodex", "devx"),
        T.event("nodex", "devx"),
        T.blob("nodex", "devx", "propx"),
        T.request("nodex", "methx"),
        T.response("nodex", "methx"),
        T.discovery("compx", "nodex", "objx"),
    ]
    names = {
        "nodex": "<node>",
        "devx": "<device>",
        "propx": "<prop>",
        "methx": "<method>",
        "compx": "<component>",
        "objx": "<object>",
    }
    for topic in built:
        for placeholder, shown in names.items():
            topic = topic.replace(placeholder, shown)
        assert f"| `{topic}` |" in DOC, topic
