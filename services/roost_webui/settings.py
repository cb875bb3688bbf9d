"""The `[webui]` settings section."""

from __future__ import annotations

from pydantic import Field, IPvAnyAddress, SecretStr, field_validator

from roost.settings import RoostSettings, Section
from roost.topics import DeviceId, NodeId


class WebhookSection(Section):
    """One registration for `POST /api/event/<token>` (HTTP events for clients without MQTT)."""

    token: SecretStr = Field(min_length=16)
    name: str | None = None
    events: list[str] = Field(default_factory=lambda: ["trigger"], min_length=1)


class WebuiSection(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    public_url: str | None = None
    session_hours: float = Field(default=168.0, gt=0)
    secure_cookies: bool | None = None
    login_attempts: int = Field(default=5, ge=1)
    login_window: float = Field(default=300.0, gt=0)
    command_timeout: float = Field(default=5.0, gt=0)
    request_timeout: float = Field(default=10.0, gt=0)
    history_node: NodeId | None = None
    events_kept: int = Field(default=50, ge=1, le=1000)
    max_body: int = Field(default=65536, ge=1024)
    client_queue: int = Field(default=2000, ge=10)
    webhooks: dict[DeviceId, WebhookSection] = Field(default_factory=dict)
    # Addresses of reverse proxies whose X-Forwarded-For is believed (e.g. ["127.0.0.1"]
    # behind a Caddy on the same host); empty: the connection's own address counts.
    trusted_proxies: list[IPvAnyAddress] = Field(default_factory=list)

    @field_validator("public_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @property
    def cookies_secure(self) -> bool:
        if self.secure_cookies is not None:
            return self.secure_cookies
        return bool(self.public_url and self.public_url.startswith("https://"))


class Settings(RoostSettings):
    webui: WebuiSection = Field(default_factory=WebuiSection)
