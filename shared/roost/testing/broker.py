"""A real Mosquitto for tests: the binary from PATH on a free port, or testcontainers'
eclipse-mosquitto where there is no binary but a Docker engine answers."""

from __future__ import annotations

import getpass
import os
import selectors
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Protocol

READY_MARK = b" running"
SYSTEM_BINARY = Path("/usr/sbin/mosquitto")  # Debian's; not on a user's PATH
START_TIMEOUT = 10.0


class BrokerUnavailable(RuntimeError):
    """Neither a mosquitto binary nor a Docker engine: the message says what to install."""


class Broker(Protocol):
    host: str
    port: int

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def restart(self) -> None: ...
    def kill(self) -> None: ...


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class MosquittoBroker:
    """One mosquitto process; `restart()` keeps the port, `persistence` keeps retained."""

    def __init__(
        self,
        workdir: Path,
        *,
        port: int | None = None,
        persistence: bool = False,
        extra_config: str = "",
        binary: str | None = None,
    ) -> None:
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.workdir = workdir
        self.persistence = persistence
        self.extra_config = extra_config
        self.binary = binary or shutil.which("mosquitto") or str(SYSTEM_BINARY)
        self.process: subprocess.Popen[bytes] | None = None
        workdir.mkdir(parents=True, exist_ok=True)

    @property
    def log_path(self) -> Path:
        return self.workdir / "mosquitto.log"

    def config(self) -> str:
        lines = [
            f"listener {self.port} {self.host}",
            # Run as whoever started us: as root mosquitto would otherwise switch to the
            # `mosquitto` user and lose access to this test's files.
            f"user {getpass.getuser()}",
            "allow_anonymous true",
            f"persistence {'true' if self.persistence else 'false'}",
            f"persistence_location {self.workdir}/",
            "set_tcp_nodelay true",
            "max_queued_messages 100000",
            "max_queued_bytes 0",
            "max_inflight_messages 100",
            "log_dest stderr",
            f"log_dest file {self.log_path}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "connection_messages true",
            self.extra_config,
        ]
        return "\n".join(lines) + "\n"

    def start(self) -> None:
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(self.config())
        self.process = subprocess.Popen(
            [self.binary, "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        assert self.process.stderr is not None
        seen = b""
        deadline = time.monotonic() + START_TIMEOUT
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stderr, selectors.EVENT_READ)
            while READY_MARK not in seen:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not selector.select(remaining):
                    self.kill()
                    raise RuntimeError(f"mosquitto did not start in {START_TIMEOUT} s: {seen!r}")
                chunk = os.read(self.process.stderr.fileno(), 4096)
                if not chunk:
                    code = self.process.wait()
                    raise RuntimeError(f"mosquitto exited with {code}: {seen.decode()}")
                seen += chunk
        # From here on it logs to its file; our end of the pipe closes (it ignores SIGPIPE).
        self.process.stderr.close()

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""


class ContainerBroker:
    """testcontainers' eclipse-mosquitto, for machines with Docker but no mosquitto."""

    def __init__(self) -> None:
        from testcontainers.mqtt import MosquittoContainer

        self._container = MosquittoContainer()
        self.host = "127.0.0.1"
        self.port = 0

    def start(self) -> None:
        self._container.start()
        self.host = self._container.get_container_host_ip()
        self.port = int(self._container.get_exposed_port(self._container.MQTT_PORT))

    def stop(self) -> None:
        self._container.stop()

    def kill(self) -> None:
        self._container.stop()

    def restart(self) -> None:
        self._container.get_wrapped_container().restart()


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=2).ping()
    except Exception:
        return False
    return True


def start_broker(workdir: Path, **options: object) -> Broker:
    """A started broker: mosquitto from PATH, else a container, else BrokerUnavailable."""
    if shutil.which("mosquitto") or SYSTEM_BINARY.exists():
        broker: Broker = MosquittoBroker(workdir, **options)  # type: ignore[arg-type]
    elif _docker_answers():
        broker = ContainerBroker()
    else:
        raise BrokerUnavailable(
            "no mosquitto binary and no Docker engine: `apt-get install mosquitto` "
            "(or start Docker for testcontainers)"
        )
    broker.start()
    return broker
