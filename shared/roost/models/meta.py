"""Device meta: what a device is and how each of its properties behaves."""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from roost.topics import check_name

SCHEMA_VERSION = 1
DEFAULT_TEXT_LENGTH = 255


class PropertyKind(StrEnum):
    NUMBER = "number"
    SWITCH = "switch"
    BUTTON = "button"
    TEXT = "text"
    ENUM = "enum"
    IMAGE = "image"
    EVENT = "event"


class PropertySpec(BaseModel):
    """One property of a device. `deadband` and `min_interval` are the owner's publishing
    policy and never go on the wire."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    kind: PropertyKind
    name: str | None = None
    unit: str | None = None
    min: int | float | None = None
    max: int | float | None = None
    step: int | float | None = None
    precision: int | None = Field(default=None, ge=0, le=12)
    options: list[str] | None = None
    settable: bool = False
    device_class: str | None = None
    state_class: str | None = None
    expire_after: int | None = Field(default=None, gt=0)
    entity_category: Literal["config", "diagnostic"] | None = None
    icon: str | None = None
    max_length: int | None = Field(default=None, gt=0)
    out_of_range: Literal["clamp", "reject"] | None = None
    deadband: float = Field(default=0.0, ge=0, exclude=True)
    min_interval: float = Field(default=0.0, ge=0, exclude=True)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        kind = self.kind
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        if self.step is not None and not (self.step > 0 and math.isfinite(self.step)):
            raise ValueError("step must be a positive number")
        if kind in (PropertyKind.ENUM, PropertyKind.EVENT) and not self.options:
            raise ValueError(f"a {kind.value} property needs options")
        if kind in (PropertyKind.IMAGE, PropertyKind.EVENT) and self.settable:
            raise ValueError(f"a {kind.value} property cannot be settable")
        if kind is not PropertyKind.NUMBER and (
            self.min is not None or self.max is not None or self.step is not None
        ):
            raise ValueError("min, max and step belong to number properties")
        return self

    @property
    def accepts_commands(self) -> bool:
        return self.settable or self.kind is PropertyKind.BUTTON

    @property
    def in_state(self) -> bool:
        """Buttons, images and events never appear in the state object."""
        return self.kind not in (PropertyKind.BUTTON, PropertyKind.IMAGE, PropertyKind.EVENT)

    @property
    def text_limit(self) -> int:
        return self.max_length or DEFAULT_TEXT_LENGTH


class MethodSpec(BaseModel):
    """A request method: its human name, what it does and the JSON schema of its params."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str | None = None
    description: str | None = None
    params: dict[str, Any] | None = None
    device: bool = False


class DeviceMeta(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    schema_version: int = Field(default=SCHEMA_VERSION, alias="schema")
    name: str
    model: str | None = None
    manufacturer: str | None = None
    version: str | None = None
    suggested_area: str | None = None
    properties: dict[str, PropertySpec] = Field(default_factory=dict)
    events: list[str] = Field(default_factory=list)
    methods: dict[str, MethodSpec] = Field(default_factory=dict)

    @field_validator("properties")
    @classmethod
    def _names(cls, value: dict[str, PropertySpec]) -> dict[str, PropertySpec]:
        for prop, spec in value.items():
            check_name(prop, "blob" if spec.kind is PropertyKind.IMAGE else "property")
        return value

    @model_validator(mode="after")
    def _no_clash(self) -> Self:
        for method in self.methods:
            check_name(method, "method")
            if method in self.properties:
                raise ValueError(f"method {method!r} has the name of a property")
        return self

    def wire(self) -> dict[str, Any]:
        """The JSON object published on the meta topic."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)
