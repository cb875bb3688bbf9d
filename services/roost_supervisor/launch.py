"""What an app is started with: its command line, its environment and its directory.

Every app learns where the broker is and where the data dir is through roost's own
environment variables, so a roost service started by the supervisor finds the same broker
and files as the supervisor, whatever the working directory. A roost node also gets its
own broker user and password (from `roost init`); the supervisor's own credentials are
never passed on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from roost.secrets import secrets_dir
from roost.settings import MqttSettings
from roost_supervisor.services import service_command
from roost_supervisor.settings import AppSpec

# Inherited variables an app must not get: they belong to the supervisor itself.
PRIVATE = ("ROOST_MQTT__USERNAME", "ROOST_MQTT__PASSWORD", "ROOST_NODE__ID")


@dataclass(frozen=True)
class Launch:
    argv: list[str]
    env: dict[str, str]
    cwd: Path | None


def password_path(data_dir: Path, user: str) -> Path:
    return secrets_dir(data_dir) / f"{user}.password"


def read_password(data_dir: Path, user: str) -> str | None:
    try:
        return password_path(data_dir, user).read_text().strip() or None
    except FileNotFoundError:
        return None


class Launcher:
    """Builds each app's `Launch` afresh at every start (a rotated password is picked up
    by the next restart)."""

    def __init__(
        self,
        mqtt: MqttSettings,
        data_dir: Path,
        *,
        config: Path | None = None,
        credentials: bool = True,
        base_env: dict[str, str] | None = None,
    ) -> None:
        self.mqtt = mqtt
        self.credentials = credentials
        self.data_dir = data_dir.resolve()
        self.config = config.resolve() if config is not None else None
        self.base_env = dict(os.environ if base_env is None else base_env)

    def argv(self, spec: AppSpec) -> list[str]:
        if spec.service is not None:
            program = service_command(spec.service)
        elif isinstance(spec.command, list):
            program = list(spec.command)
        else:
            program = [str(spec.command)]
        return [*program, *spec.args]

    def launch(self, spec: AppSpec) -> Launch:
        env = {k: v for k, v in self.base_env.items() if k not in PRIVATE}
        env.update(self._roost_env())
        node = spec.node_id
        if node is not None:
            if spec.node is not None:
                env["ROOST_NODE__ID"] = spec.node
            password = read_password(self.data_dir, node) if self.credentials else None
            if password is not None:
                env["ROOST_MQTT__USERNAME"] = node
                env["ROOST_MQTT__PASSWORD"] = password
        env.update(spec.env)
        cwd = spec.cwd.resolve() if spec.cwd is not None else None
        return Launch(self.argv(spec), env, cwd)

    def _roost_env(self) -> dict[str, str]:
        m = self.mqtt
        env = {
            "ROOST_MQTT__HOST": m.host,
            "ROOST_MQTT__PORT": str(m.port),
            "ROOST_MQTT__PREFIX": m.prefix,
            "ROOST_MQTT__DISCOVERY_PREFIX": m.discovery_prefix,
            "ROOST_MQTT__DISCOVERY": "true" if m.discovery else "false",
            "ROOST_NODE__DATA_DIR": str(self.data_dir),
            # Python apps write their output as it happens, not in 8 kB blocks.
            "PYTHONUNBUFFERED": "1",
        }
        if m.tls:
            env["ROOST_MQTT__TLS"] = "true"
            env["ROOST_MQTT__TLS_INSECURE"] = "true" if m.tls_insecure else "false"
            for key, path in (("CA_FILE", m.ca_file), ("CERT_FILE", m.cert_file)):
                if path is not None:
                    env[f"ROOST_MQTT__{key}"] = str(path.resolve())
        if self.config is not None:
            env["ROOST_CONFIG"] = str(self.config)
        return env
