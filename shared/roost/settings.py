"""Settings shared by every service: a TOML file plus `ROOST_<SECTION>__<KEY>` variables.

The file is `$ROOST_CONFIG`, else `roost.toml` in the working directory (optional). The
environment wins over the file. A service subclasses `RoostSettings` and adds its own
section; sections of other services in a shared file are left alone, unknown sections and
keys are refused, and every mistake becomes one `ConfigError` line naming where it was.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from roost.errors import ConfigError
from roost.topics import NodeId, Topics, check_prefix

ENV_PREFIX = "ROOST_"
CONFIG_ENV = "ROOST_CONFIG"
DEFAULT_CONFIG = "roost.toml"

# Every section any roost program reads. A file shared by several services holds all of
# them; each service validates its own and skips the others, so a typo is still caught.
KNOWN_SECTIONS = frozenset(
    {
        "mqtt",
        "node",
        "log",
        "cli",
        "i2c",
        "camera",
        "detector",
        "event_engine",
        "supervisor",
        "recorder",
        "webui",
        "up",
    }
)


class Section(BaseModel):
    """Base of every settings section: unknown keys are refused."""

    model_config = ConfigDict(extra="forbid")


class MqttSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    tls: bool = False
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    tls_insecure: bool = False
    keepalive: int = Field(default=30, ge=5, le=3600)
    prefix: str = "roost"
    discovery_prefix: str = "homeassistant"
    discovery: bool = True
    ha_birth_delay: tuple[float, float] = (1.0, 5.0)
    max_command_bytes: int = Field(default=65536, ge=256)
    max_inflight: int = Field(default=100, ge=1, le=65535)
    # The largest packet this client sends (None: what the broker announces, else MQTT's
    # 256 MB); bigger messages are refused before they reach the broker.
    max_packet_bytes: int | None = Field(default=None, ge=1024)
    # What one answer to a request may hold; methods page (`next`) to stay below it.
    max_answer_bytes: int = Field(default=4 * 1024 * 1024, ge=4096)

    @field_validator("prefix", "discovery_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        return check_prefix(value)

    @field_validator("ha_birth_delay")
    @classmethod
    def _delay(cls, value: tuple[float, float]) -> tuple[float, float]:
        low, high = value
        if not 0 <= low <= high:
            raise ValueError("must be [low, high] seconds with 0 <= low <= high")
        return value

    def topics(self) -> Topics:
        return Topics(self.prefix, self.discovery_prefix)


class NodeSettings(Section):
    id: NodeId | None = None
    data_dir: Path = Path("data")


class LogSettings(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


class RoostSettings(BaseSettings):
    """`[mqtt]`, `[node]` and `[log]`; services subclass it and add their own section."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    mqtt: MqttSettings = Field(default_factory=MqttSettings)
    node: NodeSettings = Field(default_factory=NodeSettings)
    log: LogSettings = Field(default_factory=LogSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The file's values come in as init kwargs; the environment must win over them.
        return (env_settings, init_settings)

    def node_id(self, default: str) -> str:
        return self.node.id or default

    def data_path(self, *parts: str) -> Path:
        return self.node.data_dir.joinpath(*parts)


S = TypeVar("S", bound=RoostSettings)


def config_path() -> Path | None:
    """The config file to read, or None when the default one does not exist."""
    named = os.environ.get(CONFIG_ENV)
    if named:
        path = Path(named)
        if not path.is_file():
            raise ConfigError(f"config file {path} (from ${CONFIG_ENV}) does not exist")
        return path
    default = Path(DEFAULT_CONFIG)
    return default if default.is_file() else None


def read_config_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"config file {path}: {exc.strerror}") from None


def load_settings(cls: type[S], path: Path | None = None, **overrides: Any) -> S:
    """Read file and environment into `cls`; every mistake is one ConfigError line."""
    path = path if path is not None else config_path()
    data = read_config_file(path) if path is not None else {}
    where = str(path) if path is not None else "defaults"
    own = set(cls.model_fields)
    for section in list(data):
        if section in own:
            continue
        if section in KNOWN_SECTIONS:
            del data[section]  # another service's section in a shared file
            continue
        raise ConfigError(
            f"config file {where}: unknown section [{section}] (known: {', '.join(sorted(own))})"
        )
    data.update(overrides)
    try:
        return cls(**data)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, where)) from None


def _explain(exc: ValidationError, where: str) -> str:
    lines = []
    for error in exc.errors():
        loc = [str(part) for part in error["loc"] if part != "[key]"]  # a table's name
        key = ".".join(loc)
        env_name = _env_variable(loc)
        source = (
            f"environment variable {env_name}"
            if env_name is not None
            else f"config file {where}, key {key}"
        )
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key"
        elif "input" in error and not isinstance(error["input"], dict):
            message += f" (got {error['input']!r})"
        lines.append(f"{source}: {message}")
    return "; ".join(lines)


def _env_variable(loc: list[str]) -> str | None:
    """The `ROOST_…` variable that set the value at `loc`: the longest one that is set
    (`ROOST_I2C__SIM__TIME_OF_DAY` for i2c.sim.time_of_day, `ROOST_I2C__DEVICES` for an
    entry of a list given as JSON), else those set below it (a section's own check), else
    None: the value came from the file."""
    names = sorted(name.upper() for name in os.environ if name.upper().startswith(ENV_PREFIX))
    for end in range(len(loc), 0, -1):
        name = ENV_PREFIX + "__".join(part.upper() for part in loc[:end])
        if name in names:
            return name
    below = ENV_PREFIX + "".join(f"{part.upper()}__" for part in loc)
    return ", ".join(name for name in names if name.startswith(below)) or None
