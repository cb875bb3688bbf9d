"""Each image of the Dockerfile, checked with container-structure-test and hadolint: runs as
uid 1000 from /data, its console script as the command, its health check; holds its own
service's extras and no other service's, no test-only package, no pip, wheel or source."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from .engine import ROOT, SERVICES, TOOLS, Builds, PodmanService, image_size, run

pytestmark = pytest.mark.timeout(2400)  # the first test waits for every image to build

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
EXTRAS: dict[str, list[str]] = PYPROJECT["project"]["optional-dependencies"]
# The import name of each third-party package a service extra brings.
MODULES = {
    "smbus2": "smbus2",
    "aiosqlite": "aiosqlite",
    "influxdb-client": "influxdb_client",
    "dukpy": "dukpy",
    "croniter": "croniter",
    "httpx": "httpx",
    "opencv-python-headless": "cv2",
    "numpy": "numpy",
    "onnxruntime": "onnxruntime",
    "starlette": "starlette",
    "uvicorn": "uvicorn",
    "websockets": "websockets",
}
# What only the tests use: none of it may ship.
TEST_ONLY = ["pytest", "playwright", "mypy", "ruff", "onnx", "skimage", "testcontainers", "pip"]
IMAGE_EXTRAS = {"i2c-bridge": ["i2c"], "detector": ["detector", "onnx"]}


def requirement_name(requirement: str) -> str:
    for stop in "[<>=!~; ":
        requirement = requirement.split(stop)[0]
    return requirement


def expected_modules(service: str) -> list[str]:
    """The extras' import names this service's image must hold (and no other)."""
    names = {
        requirement_name(r) for extra in IMAGE_EXTRAS.get(service, [service]) for r in EXTRAS[extra]
    }
    return sorted(MODULES[n] for n in names)


def structure(service: str) -> dict[str, Any]:
    """The container-structure-test config of one service's image."""
    modules = sorted(set(MODULES.values()))
    find = (
        "import importlib.util as u, sys;print(' '.join(m for m in sys.argv[1:] if u.find_spec(m)))"
    )
    return {
        "schemaVersion": "2.0.0",
        "metadataTest": {
            "user": "1000:1000",
            "workdir": "/data",
            "volumes": ["/data"],
            "cmd": [f"roost-{service}"],
            "entrypoint": [],
            "envVars": [{"key": "ROOST_NODE__DATA_DIR", "value": "/data"}],
        },
        "fileExistenceTests": [
            {
                "name": "console script",
                "path": f"/opt/roost/bin/roost-{service}",
                "shouldExist": True,
                "isExecutableBy": "any",
            },
            *(
                {"name": f"no {p}", "path": p, "shouldExist": False}
                for p in ("/wheels", "/src", "/opt/roost/bin/pip", "/root/.cache/pip")
            ),
        ],
        "commandTests": [
            {
                "name": "/data is roost's and writable",
                "command": "sh",
                "args": ["-c", "stat -c %u:%g /data && touch /data/.written"],
                "expectedOutput": ["^1000:1000\n$"],
            },
            {
                "name": "runs as roost",
                "command": "id",
                "args": ["-un"],
                "expectedOutput": ["^roost\n$"],
            },
            {
                "name": "its own extras, no other service's",
                "command": "python",
                "args": ["-c", find, *modules],
                "expectedOutput": [f"^{' '.join(expected_modules(service))}\n$"],
            },
            {
                "name": "no test-only package",
                "command": "python",
                "args": ["-c", find, *TEST_ONLY],
                "expectedOutput": ["^\n$"],
            },
            {
                "name": "its command and the health check import",
                "command": "python",
                "args": [
                    "-c",
                    f"import roost.healthcheck, roost_{service.replace('-', '_')}.__main__",
                ],
            },
            *own_tests(service),
        ],
    }


def own_tests(service: str) -> list[dict[str, Any]]:
    """What one service needs beyond Python packages."""
    if service == "camera":  # the h264 writer's encoder
        return [{"name": "ffmpeg encodes h264", "command": "ffmpeg",
                 "args": ["-hide_banner", "-encoders"], "expectedOutput": ["libx264"]}]  # fmt: skip
    return []


def test_the_dockerfile_is_hadolint_clean_at_warning_level() -> None:
    out = run(
        TOOLS / "hadolint", "--failure-threshold", "warning", ROOT / "Dockerfile", check=False
    )
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize("service", SERVICES)
def test_the_image_holds_its_service_and_nothing_else(
    service: str, engine: PodmanService, tmp_path: Path
) -> None:
    config = tmp_path / f"{service}.yaml"
    config.write_text(yaml.safe_dump(structure(service)))
    out = run(TOOLS / "container-structure-test", "test", "--image", f"roost/{service}",
              "--config", config, "--output", "text", env=engine.env, check=False)  # fmt: skip
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-2000:]


def test_the_i2c_bridge_image_is_a_fraction_of_the_cameras(images: Builds) -> None:
    sizes = {s: image_size(f"roost/{s}") for s in SERVICES}
    (ROOT / "test-artifacts").mkdir(exist_ok=True)
    (ROOT / "test-artifacts" / "image-sizes.json").write_text(json.dumps(sizes, indent=2))
    print({s: f"{b / 1e6:.0f} MB" for s, b in sizes.items()})
    assert sizes["i2c-bridge"] < sizes["camera"] / 2, sizes
