"""The broker `roost up` uses: the one configured, one already listening, or its own.

Its own is Mosquitto with roost's config (`mosquitto.conf` in this package, `@DATA@`
replaced by the data dir), the password file and ACL from `roost init`, persistence under
`data/mosquitto/`, on 127.0.0.1:1883, or on a free port when 1883 is taken by something
that is not a usable broker (the services then get that port through ROOST_MQTT__PORT).
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
from dataclasses import dataclass, field
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Literal

import psutil

from roost.bus import Bus
from roost.errors import BusError
from roost.settings import MqttSettings
from roost_supervisor.accounts import acl_path, broker_pid_path, initialised, passwd_path
from roost_supervisor.launch import read_password
from roost_supervisor.process import wait_gone
from roost_supervisor.settings import HOST_PORT, Settings

log = logging.getLogger("roost_supervisor.broker")

LOOPBACK = "127.0.0.1"
START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0
PROBE_TIMEOUT = 3.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


class BrokerError(Exception):
    """No usable broker: the message says what was tried and what to do."""


def find_template(explicit: Path | None) -> Traversable:
    """roost's Mosquitto config: `[up] template`, else the one this package ships."""
    if explicit is None:
        return files("roost_supervisor").joinpath("mosquitto.conf")
    if not explicit.is_file():
        raise BrokerError(
            f"[up] template {explicit} is not a file; remove the setting to use roost's own, "
            "or point [mqtt] host/port at a broker"
        )
    return explicit


def mosquitto_binary(name: str) -> str:
    found = shutil.which(name) or (
        f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None
    )
    if found is None:
        raise BrokerError(
            f"no `{name}` to start a broker with: apt-get install mosquitto (scripts/run does), "
            "or point [mqtt] host/port at a broker"
        )
    return found


@dataclass(frozen=True)
class Probe:
    status: Literal["free", "mqtt", "refused", "foreign"]
    detail: str


async def probe(
    host: str, port: int, *, username: str | None = None, password: str | None = None
) -> Probe:
    """What answers on host:port: nothing, a broker that lets us in (and echoes our own
    message back, so it is really usable), a broker that refuses us, or something else."""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), PROBE_TIMEOUT)
    except (OSError, TimeoutError):
        return Probe("free", f"nothing listens on {host}:{port}")
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    settings = MqttSettings(host=host, port=port, username=username, password=password)
    try:
        async with Bus(settings, reconnect=False, connect_timeout=PROBE_TIMEOUT) as bus:
            await bus.sync(PROBE_TIMEOUT)
    except BusError as exc:
        text = str(exc)
        refused = any(word in text.lower() for word in ("authori", "password", "user name"))
        return Probe("refused" if refused else "foreign", _short(text))
    who = f"as {username}" if username else "anonymously"
    return Probe("mqtt", f"an MQTT broker lets us in {who}")


def _short(text: str) -> str:
    return text.split(" (start mosquitto")[0]


@dataclass
class OwnBroker:
    """Mosquitto run by `roost up`, in its own session, stopped when `roost up` ends."""

    data_dir: Path
    port: int
    binary: str
    template: Traversable
    anonymous: bool = True
    listen: list[str] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None

    @property
    def directory(self) -> Path:
        return self.data_dir / "mosquitto"

    @property
    def conf_path(self) -> Path:
        return self.directory / "mosquitto.conf"

    @property
    def log_path(self) -> Path:
        return self.directory / "mosquitto.log"

    def render(self) -> str:
        text = self.template.read_text().replace("@DATA@", str(self.data_dir))
        text, found = re.subn(
            r"(?m)^listener\s+1883\s+127\.0\.0\.1\s*$", f"listener {self.port} {LOOPBACK}", text
        )
        if found != 1:
            raise BrokerError(f"{self.template} has no `listener 1883 127.0.0.1` line to use")
        if initialised(self.data_dir):
            for key, path in (
                ("password_file", passwd_path(self.data_dir)),
                ("acl_file", acl_path(self.data_dir)),
            ):
                text, found = re.subn(rf"(?m)^#\s*{key}\s.*$", f"{key} {path}", text)
                if not found:
                    text += f"\n{key} {path}\n"
        elif not self.anonymous:
            raise BrokerError("anonymous access is off but `roost init` has made no users yet")
        if not self.anonymous:
            text = re.sub(r"(?m)^allow_anonymous\s+true\s*$", "allow_anonymous false", text)
        extra = ["", "# Added by roost up:"]
        for item in self.listen:
            match = HOST_PORT.match(item)
            assert match is not None  # the settings checked it
            extra.append(f"listener {match['port']} {match['host'].strip('[]')}")
        extra.append(f"pid_file {broker_pid_path(self.data_dir)}")
        # As root Mosquitto would switch to the `mosquitto` user and lose the data dir.
        extra.append(f"user {getpass.getuser()}")
        return text.rstrip("\n") + "\n" + "\n".join(extra) + "\n"

    async def start(self) -> None:
        # Its log and persistence file name every client id, including a persistent
        # session's secret one (roost.session): readable by roost's user only.
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.directory.chmod(0o700)
        self.conf_path.write_text(self.render())
        stderr_path = self.directory / "mosquitto.stderr"
        with stderr_path.open("wb") as stderr:
            self.process = await asyncio.to_thread(
                subprocess.Popen,
                [self.binary, "-c", str(self.conf_path)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,
            )
        deadline = asyncio.get_running_loop().time() + START_TIMEOUT
        while True:
            if self.process.poll() is not None:
                raise BrokerError(
                    f"mosquitto exited with code {self.process.returncode}: "
                    f"{_tail(stderr_path) or _tail(self.log_path)}"
                )
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection(LOOPBACK, self.port)
                writer.close()
                return
            if asyncio.get_running_loop().time() > deadline:
                await self.stop()
                raise BrokerError(f"mosquitto did not listen on port {self.port} in time")
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)  # it saves the retained state on the way out
        if await wait_gone([process.pid], STOP_TIMEOUT):
            process.kill()
        await asyncio.to_thread(process.wait)
        broker_pid_path(self.data_dir).unlink(missing_ok=True)


def _tail(path: Path, lines: int = 5) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return ""


async def stop_stale(data_dir: Path) -> int | None:
    """Stop roost's own broker left running by an earlier `roost up` of this data dir
    (its pid file names a live mosquitto); its pid, or None."""
    path = broker_pid_path(data_dir)
    try:
        pid = int(path.read_text().strip())
        process = psutil.Process(pid)
        conf = str(data_dir / "mosquitto" / "mosquitto.conf")
        if not process.name().startswith("mosquitto") or conf not in process.cmdline():
            return None
    except (OSError, ValueError, psutil.Error):
        return None
    log.warning("roost's broker from an earlier run (pid %d) is still running: stopping it", pid)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if await wait_gone([pid], STOP_TIMEOUT):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    path.unlink(missing_ok=True)
    return pid


@dataclass
class BrokerPlan:
    """Where the services connect, whether they log in, and what to tell the user."""

    host: str
    port: int
    credentials: bool
    own: OwnBroker | None = None
    lines: list[str] = field(default_factory=list)

    def mqtt(self, base: MqttSettings, data_dir: Path) -> MqttSettings:
        """The supervisor's own connection settings for this broker."""
        update: dict[str, object] = {"host": self.host, "port": self.port}
        if self.credentials and base.username is None:
            password = read_password(data_dir, "supervisor")
            if password is not None:
                update.update(username="supervisor", password=password)
        if not self.credentials:
            update.update(username=None, password=None)
        return MqttSettings.model_validate({**base.model_dump(), **update})


async def plan_broker(settings: Settings, data_dir: Path) -> BrokerPlan:
    up, mqtt = settings.up, settings.mqtt
    user = mqtt.username or "supervisor"
    password = (
        mqtt.password.get_secret_value() if mqtt.password else read_password(data_dir, "supervisor")
    )
    configured = bool({"host", "port"} & mqtt.model_fields_set)
    if up.broker == "external" or (up.broker == "auto" and configured):
        return await _external(mqtt.host, mqtt.port, user, password)
    if up.broker == "own":
        stale = await stop_stale(data_dir)
        return await _own(settings, data_dir, up.port, stale=stale, reason=None)
    stale = await stop_stale(data_dir)
    if up.port == 0:
        return await _own(settings, data_dir, 0, stale=stale, reason=None)
    found = await probe(LOOPBACK, up.port, username=user, password=password)
    if found.status == "free":
        return await _own(settings, data_dir, up.port, stale=stale, reason=None)
    where = f"{LOOPBACK}:{up.port}"
    if found.status == "mqtt":
        return BrokerPlan(
            LOOPBACK,
            up.port,
            credentials=True,
            lines=[
                f"broker: using the MQTT broker already listening on {where} (not started by "
                "roost: its own config applies; roost's ACL and persistence settings do not)"
            ],
        )
    if found.status == "refused":
        anonymous = await probe(LOOPBACK, up.port)
        if anonymous.status == "mqtt":
            return BrokerPlan(
                LOOPBACK,
                up.port,
                credentials=False,
                lines=[
                    f"broker: using the MQTT broker already listening on {where}, anonymously "
                    "(it does not know roost's users; not started by roost)"
                ],
            )
    reason = f"{where} is taken by something that is not a usable MQTT broker ({found.detail})"
    return await _own(settings, data_dir, 0, stale=stale, reason=reason)


async def _external(host: str, port: int, user: str, password: str | None) -> BrokerPlan:
    where = f"{host}:{port}"
    found = await probe(host, port, username=user, password=password)
    if found.status == "mqtt":
        return BrokerPlan(
            host, port, credentials=True, lines=[f"broker: using {where} as configured"]
        )
    if found.status == "refused":
        anonymous = await probe(host, port)
        if anonymous.status == "mqtt":
            return BrokerPlan(
                host,
                port,
                credentials=False,
                lines=[f"broker: using {where} as configured, anonymously ({found.detail})"],
            )
    raise BrokerError(f"cannot use the configured broker {where}: {found.detail}")


async def _own(
    settings: Settings, data_dir: Path, port: int, *, stale: int | None, reason: str | None
) -> BrokerPlan:
    up = settings.up
    if port == 0:
        port = free_port()
    elif (await probe(LOOPBACK, port)).status != "free":
        reason = reason or f"{LOOPBACK}:{port} is taken"
        port = free_port()
    broker = OwnBroker(
        data_dir,
        port,
        binary=mosquitto_binary(up.mosquitto),
        template=find_template(up.template),
        anonymous=up.anonymous,
        listen=list(up.listen),
    )
    lines = []
    if stale is not None:
        lines.append(f"broker: stopped roost's broker left running by an earlier run (pid {stale})")
    mode = (
        "anonymous clients allowed on loopback only (demo mode)"
        if up.anonymous
        else "every client must log in"
    )
    started = f"broker: starting Mosquitto on {LOOPBACK}:{port} ({mode}; config {broker.conf_path})"
    if reason is not None:
        started = f"broker: {reason}; starting Mosquitto on {LOOPBACK}:{port} instead"
    lines.append(started)
    for item in up.listen:
        lines.append(f"broker: also listening on {item} (passwords required)")
    if port != 1883:
        lines.append(
            f"broker: services get ROOST_MQTT__PORT={port}; tools need it too: "
            f"mosquitto_sub -p {port} -t 'roost/#' -v, ROOST_MQTT__PORT={port} roost ps"
        )
    return BrokerPlan(LOOPBACK, port, credentials=True, own=broker, lines=lines)
