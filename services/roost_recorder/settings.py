"""The `[recorder]` section: database, batching, retention, history and the InfluxDB sink."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator

from roost.settings import RoostSettings, Section

SERVICE = "recorder"


class InfluxSection(Section):
    """`[recorder.influxdb]`: the sink is on when `url` is set."""

    url: str | None = None
    org: str = "roost"
    bucket: str = "roost"
    token: SecretStr | None = None
    measurement: str = Field(default="roost", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    batch_size: int = Field(default=5000, ge=1, le=100_000)
    flush_interval: float = Field(default=1.0, gt=0, le=3600)
    timeout: float = Field(default=10.0, gt=0, le=600)
    retry_max: float = Field(default=60.0, gt=0, le=3600)
    max_backlog_mb: float = Field(default=256.0, gt=0)

    @field_validator("url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL, e.g. http://127.0.0.1:8086")
        return value

    @property
    def enabled(self) -> bool:
        return bool(self.url)


class RecorderSection(Section):
    database: Path | None = None
    batch_size: int = Field(default=500, ge=1, le=50_000)
    batch_interval: float = Field(default=0.2, gt=0, le=60)
    receive_maximum: int = Field(default=2000, ge=1, le=65535)
    session_expiry_days: float = Field(default=7, gt=0, le=49710)
    synchronous: Literal["full", "normal"] = "full"
    retention_raw_days: float = Field(default=14, gt=0)
    retention_1m_days: float = Field(default=90, gt=0)
    retention_10m_days: float = Field(default=1825, gt=0)
    retention_events_days: float = Field(default=90, gt=0)
    prune_interval: float = Field(default=600, gt=0)
    prune_chunk: int = Field(default=5000, ge=100)
    events: bool = True
    exclude: list[str] = Field(default_factory=list)
    max_payload: int = Field(default=65536, ge=256)
    max_points: int = Field(default=100_000, ge=100, le=5_000_000)
    # Series (a device's property, or its events) one node may make: a node that invents
    # property names or device ids cannot grow the database and memory without end.
    # A history, series or events query is stopped past this; queries over more than a
    # day wait in a lane of their own, so short ones are answered meanwhile.
    query_timeout: float = Field(default=10.0, gt=0, le=3600)
    max_series_per_node: int = Field(default=2000, ge=1, le=1_000_000)
    status_interval: float = Field(default=5.0, gt=0)
    influxdb: InfluxSection = Field(default_factory=InfluxSection)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.batch_size > self.receive_maximum:
            raise ValueError(
                f"batch_size {self.batch_size} is above receive_maximum {self.receive_maximum}: "
                "the broker would stop sending before a batch fills"
            )
        if not self.retention_raw_days <= self.retention_1m_days <= self.retention_10m_days:
            raise ValueError(
                "retention must grow with the tier: "
                "retention_raw_days <= retention_1m_days <= retention_10m_days"
            )
        return self


class Settings(RoostSettings):
    recorder: RecorderSection = Field(default_factory=RecorderSection)

    def database_path(self) -> Path:
        return self.recorder.database or self.data_path(SERVICE, "history.db")
