"""compose.yaml and the Dockerfile, checked statically in a second: every service has an
image target with its own extras, runs its console script, finds the broker as `mosquitto`,
and the camera's frame ring is shared with the detector. tests/containers builds and runs
them for real."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SCRIPTS = {
    name.removeprefix("roost-"): target
    for name, target in PYPROJECT["project"]["scripts"].items()
    if name.startswith("roost-")
}
EXTRAS = PYPROJECT["project"]["optional-dependencies"]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())


def stages() -> dict[str, tuple[str, str]]:
    """Each stage's name: the stage it starts FROM and its text."""
    parts = re.split(r"^FROM (\S+) AS (\S+)\n", DOCKERFILE, flags=re.M)
    return {
        name: (base, text)
        for base, name, text in zip(parts[1::3], parts[2::3], parts[3::3], strict=True)
    }


def test_every_service_has_an_image_target_with_its_own_extras() -> None:
    targets = stages()
    for service in SCRIPTS:
        assert service in targets, service
        base, stage = targets[service]
        venv_base, venv = targets[f"{service}-venv"]
        assert (base, venv_base) == ("runtime", "builder")
        installs = re.findall(r'--find-links /wheels[\s\\]*"roost\[([a-z0-9,-]+)\]"', venv)
        assert len(installs) == 1, service
        for extra in installs[0].split(","):
            assert extra in EXTRAS, f"{service} installs unknown extra {extra}"
        assert f"COPY --from={service}-venv /opt/roost /opt/roost" in stage
        assert f'CMD ["roost-{service}"]' in stage
        assert "USER 1000:1000" in stage
        assert f'CMD ["python", "-m", "roost.healthcheck", "{service}"]' in stage


def test_every_service_runs_in_compose_beside_the_broker() -> None:
    services = COMPOSE["services"]
    assert services["mosquitto"]["image"].startswith("eclipse-mosquitto:2")
    conf = services["mosquitto"]["volumes"][0].split(":")[0]
    assert (ROOT / conf).is_file()
    for service in SCRIPTS:
        spec = services[service]
        assert spec["build"] == {"context": ".", "target": service}
        assert spec["image"] == f"roost/{service}"
        assert spec["command"] == [f"roost-{service}"]
        assert "mosquitto" in spec["depends_on"]
        assert spec["environment"]["ROOST_MQTT__HOST"] == "mosquitto"
        assert spec["environment"]["ROOST_NODE__DATA_DIR"] == "/data"
        assert "roost-data:/data" in spec["volumes"]


def test_published_ports_are_on_loopback_only() -> None:
    for name, spec in COMPOSE["services"].items():
        for port in spec.get("ports", []):
            assert port.startswith("127.0.0.1:${ROOST_"), (name, port)
    assert COMPOSE["services"]["webui"]["environment"]["ROOST_WEBUI__HOST"] == "0.0.0.0"


def test_the_detector_shares_the_cameras_frame_ring() -> None:
    services = COMPOSE["services"]
    assert services["camera"]["ipc"] == "shareable"
    assert services["detector"]["ipc"] == "service:camera"
    assert "camera" in services["detector"]["depends_on"]


def test_the_image_leaves_out_what_it_does_not_need() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    for path in (".git", ".venv", "data", "test-artifacts"):
        assert path in ignored
    assert "imageio-ffmpeg" in stages()["camera-venv"][1]


def test_the_supervisor_container_runs_no_apps_but_backs_up_the_recorder() -> None:
    env = COMPOSE["services"]["supervisor"]["environment"]
    assert yaml.safe_load(env["ROOST_SUPERVISOR__SERVICES"]) == []
    assert yaml.safe_load(env["ROOST_SUPERVISOR__BACKUP__DATABASES"]) == ["recorder/history.db"]
