"""A node's own retained topics: info (what runs) and stats (how it runs)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from roost.models.meta import SCHEMA_VERSION, MethodSpec


class NodeInfo(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    schema_version: int = Field(default=SCHEMA_VERSION, alias="schema")
    service: str
    version: str
    host: str
    pid: int
    started: str
    state: Literal["running", "stopped"]
    devices: list[str] = Field(default_factory=list)
    methods: dict[str, MethodSpec] = Field(default_factory=dict)


class NodeStats(BaseModel):
    model_config = ConfigDict(extra="ignore")

    uptime: float
    messages_in: int
    messages_out: int
    errors: int
    rss: int
    cpu: float
    loop_lag: float
    ts: str
