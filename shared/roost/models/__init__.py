"""Pydantic models for every payload of the topic contract."""

from roost.models.messages import (
    AckPayload,
    ErrorBody,
    ErrorPayload,
    EventPayload,
    EventPhase,
    Request,
    Response,
)
from roost.models.meta import DeviceMeta, MethodSpec, PropertyKind, PropertySpec
from roost.models.node import NodeInfo, NodeStats

__all__ = [
    "AckPayload",
    "DeviceMeta",
    "ErrorBody",
    "ErrorPayload",
    "EventPayload",
    "EventPhase",
    "MethodSpec",
    "NodeInfo",
    "NodeStats",
    "PropertyKind",
    "PropertySpec",
    "Request",
    "Response",
]
