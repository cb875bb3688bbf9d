"""The `[supervisor]` and `[up]` sections: apps, health checks, host monitoring, backups,
and how `roost up` finds or starts a broker. Unknown keys are refused, so a typo in an
app's table is an error naming the app and the key, not a silently ignored setting."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import Field, field_validator, model_validator

from roost.errors import TopicError
from roost.settings import RoostSettings, Section
from roost.topics import check_device_id, check_name, check_node_id

# roost's own services that the supervisor can run by name (docs/services/supervisor.md).
SERVICES = ("i2c-bridge", "recorder", "event-engine", "camera", "detector", "webui")
# Device ids the supervisor itself uses beside its apps.
OWN_DEVICES = frozenset({"host", "backups"})
HOST_PORT = re.compile(r"^(?P<host>\[[0-9a-fA-F:]+\]|[^:\s]+):(?P<port>\d{1,5})$")


class _Health(Section):
    interval: float = Field(default=10.0, gt=0, description="seconds between checks")
    timeout: float = Field(default=5.0, gt=0, description="seconds one check may take")
    failures: int = Field(default=3, ge=1, description="consecutive failures before a restart")
    start_timeout: float = Field(
        default=60.0, gt=0, description="seconds a new process has to pass its first check"
    )


class ProcessHealth(_Health):
    """The process exists and is neither a zombie nor stopped (SIGSTOP)."""

    kind: Literal["process"]


class TcpHealth(_Health):
    """A TCP connection to host:port is accepted."""

    kind: Literal["tcp"]
    host: str = "127.0.0.1"
    port: int = Field(ge=1, le=65535)


class HttpHealth(_Health):
    """An HTTP GET of `url` answers with `status` (any 2xx or 3xx when not given)."""

    kind: Literal["http"]
    url: str
    status: int | None = Field(default=None, ge=100, le=599)

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("must be an http:// or https:// URL")
        return value


class AvailabilityHealth(_Health):
    """The app's own roost availability topic says `online` (default node: the app's)."""

    kind: Literal["availability"]
    node: str | None = None

    @field_validator("node")
    @classmethod
    def _node(cls, value: str | None) -> str | None:
        return None if value is None else _slug(value, check_node_id)


HealthSpec = Annotated[
    ProcessHealth | TcpHealth | HttpHealth | AvailabilityHealth, Field(discriminator="kind")
]
StopSignal = Literal["TERM", "INT", "HUP", "QUIT", "USR1", "USR2", "KILL"]
RestartPolicy = Literal["always", "on-failure", "never"]


class AppSpec(Section):
    """One app: a roost service by name, or any program."""

    service: str | None = Field(default=None, description="a roost service to run by name")
    node: str | None = Field(default=None, description="its roost node id, if it is a node")
    command: str | list[str] | None = None
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    cwd: Path | None = None
    autostart: bool = True
    restart: RestartPolicy = "on-failure"
    depends_on: list[str] = Field(default_factory=list)
    health: HealthSpec | None = None
    start_secs: float = Field(default=1.0, ge=0)
    stop_signal: StopSignal = "TERM"
    stop_timeout: float = Field(default=10.0, gt=0)
    backoff_initial: float = Field(default=1.0, ge=0)
    backoff_max: float = Field(default=60.0, gt=0)
    max_retries: int | None = Field(default=None, ge=0)
    reset_after: float = Field(default=60.0, ge=0)
    databases: list[Path] = Field(default_factory=list)

    @field_validator("service")
    @classmethod
    def _service(cls, value: str | None) -> str | None:
        if value is not None and value not in SERVICES:
            raise ValueError(f"unknown roost service {value!r} (known: {', '.join(SERVICES)})")
        return value

    @field_validator("node")
    @classmethod
    def _node(cls, value: str | None) -> str | None:
        return None if value is None else _slug(value, check_node_id)

    @field_validator("command")
    @classmethod
    def _command(cls, value: str | list[str] | None) -> str | list[str] | None:
        if value is not None and (not value or (isinstance(value, str) and not value.strip())):
            raise ValueError("must name a program")
        return value

    @field_validator("env")
    @classmethod
    def _env(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key):
                raise ValueError(f"{key!r} is not an environment variable name")
        return value

    @model_validator(mode="after")
    def _one_program(self) -> Self:
        if (self.service is None) == (self.command is None):
            raise ValueError("give exactly one of `service` (a roost service) or `command`")
        if self.backoff_max < self.backoff_initial:
            raise ValueError("backoff_max must not be below backoff_initial")
        health = self.health
        if isinstance(health, AvailabilityHealth) and health.node is None and not self.node_id:
            raise ValueError("an availability health check needs `node` (on the app or the check)")
        return self

    @property
    def node_id(self) -> str | None:
        """The roost node this app runs as, if it is one."""
        return self.node or self.service


class LogFiles(Section):
    max_bytes: int = Field(default=5_000_000, ge=10_000)
    backups: int = Field(default=3, ge=0, le=100)


class HostSection(Section):
    interval: float = Field(default=10.0, gt=0)
    disks: dict[str, Path] = Field(default_factory=dict)
    disk_low_percent: float = Field(default=10.0, ge=0, le=100)
    disk_low_bytes: int | None = Field(default=None, ge=0)

    @field_validator("disks")
    @classmethod
    def _names(cls, value: dict[str, Path]) -> dict[str, Path]:
        for name in value:
            _slug(name, check_name)
        return value


DEFAULT_EXCLUDE = (
    "supervisor/logs",
    "supervisor/run",
    "backups",
    "mosquitto/mosquitto.log",
    "mosquitto/mosquitto.pid",
    "mosquitto/mosquitto.conf",
    "webui/login-url",
    "camera/spool",
    "camera/archive",
)


class BackupSection(Section):
    interval: float = Field(default=86400.0, ge=0, description="0 turns scheduled backups off")
    keep: int = Field(default=7, ge=1)
    first_delay: float = Field(default=60.0, ge=0)
    dir: Path | None = None
    databases: list[Path] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=lambda: list(DEFAULT_EXCLUDE))
    include: list[Path] = Field(default_factory=list)


class SupervisorSection(Section):
    apps: dict[str, AppSpec] = Field(default_factory=dict)
    services: list[str] | None = None
    sample_interval: float = Field(default=5.0, gt=0)
    logs: LogFiles = Field(default_factory=LogFiles)
    host: HostSection = Field(default_factory=HostSection)
    backup: BackupSection = Field(default_factory=BackupSection)

    @field_validator("services")
    @classmethod
    def _services(cls, value: list[str] | None) -> list[str] | None:
        for name in value or []:
            if name not in SERVICES:
                raise ValueError(f"unknown roost service {name!r} (known: {', '.join(SERVICES)})")
        return value

    @field_validator("apps")
    @classmethod
    def _apps(cls, value: dict[str, AppSpec]) -> dict[str, AppSpec]:
        for name, app in value.items():
            _slug(name, check_device_id)
            if name in OWN_DEVICES:
                raise ValueError(f"app name {name!r} is used by the supervisor itself")
            for dep in app.depends_on:
                if dep not in value:
                    raise ValueError(f"app {name!r} depends on {dep!r}, which is not an app")
        check_acyclic({name: app.depends_on for name, app in value.items()})
        return value


class UpSection(Section):
    """How `roost up` gets a broker."""

    broker: Literal["auto", "own", "external"] = "auto"
    port: int = Field(default=1883, ge=0, le=65535)
    anonymous: bool = True
    listen: list[str] = Field(default_factory=list)
    mosquitto: str = "mosquitto"
    template: Path | None = None

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: list[str]) -> list[str]:
        for item in value:
            match = HOST_PORT.match(item)
            if match is None or not 1 <= int(match["port"]) <= 65535:
                raise ValueError(f"{item!r} is not host:port")
        return value

    @model_validator(mode="after")
    def _anonymous_only_on_loopback(self) -> Self:
        if self.listen and self.anonymous:
            raise ValueError(
                "a network listener needs anonymous = false: anonymous access is only "
                "allowed on a loopback-only broker (demo mode)"
            )
        return self


class Settings(RoostSettings):
    supervisor: SupervisorSection = Field(default_factory=SupervisorSection)
    up: UpSection = Field(default_factory=UpSection)


def check_acyclic(graph: dict[str, list[str]]) -> None:
    """Raise ValueError naming a dependency cycle, if there is one."""
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            cycle = [*path[path.index(name) :], name]
            raise ValueError(f"dependency cycle: {' -> '.join(cycle)}")
        if name in done:
            return
        for dep in graph.get(name, []):
            visit(dep, [*path, name])
        done.add(name)

    for name in graph:
        visit(name, [])


def _slug(value: str, check: Callable[[str], str]) -> str:
    try:
        return check(value)
    except TopicError as exc:
        raise ValueError(str(exc)) from None


__all__ = [
    "OWN_DEVICES",
    "SERVICES",
    "AppSpec",
    "AvailabilityHealth",
    "BackupSection",
    "HealthSpec",
    "HostSection",
    "HttpHealth",
    "LogFiles",
    "ProcessHealth",
    "Settings",
    "SupervisorSection",
    "TcpHealth",
    "UpSection",
    "check_acyclic",
]
