"""A roost service counts as installed when its extra is: in a real venv that has every
package of this one except smbus2 (the i2c extra), the demo leaves the i2c-bridge out and
`roost up` says so, and naming the i2c-bridge is a config error with the pip command."""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import sysconfig
import venv
from pathlib import Path

import pytest

from roost_supervisor.services import CATALOG
from roost_supervisor.settings import SERVICES

from .cli_process import clean_env, communicate

HIDDEN = "smbus2"
ROOST_MAIN = "from roost.cli.app import main; main()"
# The demo's plan, what it leaves out, and an app naming the i2c-bridge, as JSON.
PLAN = """
import json
from roost.errors import ConfigError
from roost_supervisor.services import demo_left_out, planned_apps
from roost_supervisor.settings import AppSpec, Settings, SupervisorSection

apps = SupervisorSection(apps={"bridge": AppSpec(service="i2c-bridge")})
try:
    planned_apps(Settings(supervisor=apps))
    error = None
except ConfigError as exc:
    error = str(exc)
print(json.dumps([sorted(planned_apps(Settings())), demo_left_out(Settings()), error]))
"""


@pytest.fixture(scope="module")
def without_smbus2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The python of a new venv whose site-packages links to everything of this one but
    smbus2's files (roost's editable install included)."""
    home = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(with_pip=False, symlinks=True).create(home)
    ours = Path(sysconfig.get_path("purelib"))
    theirs = Path(sysconfig.get_path("purelib", vars={"base": str(home), "platbase": str(home)}))
    hidden = importlib.metadata.distribution(HIDDEN)
    skip = {Path(str(f)).parts[0] for f in hidden.files or []}
    assert skip, "smbus2 lists no files"
    for entry in ours.iterdir():
        if entry.name not in skip:
            (theirs / entry.name).symlink_to(entry)
    return home / "bin" / "python"


async def run(python: Path, *args: str, cwd: Path) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        str(python),
        *args,
        cwd=cwd,
        env=clean_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await communicate(process, 90)
    assert process.returncode is not None
    return process.returncode, out, err


def test_every_service_is_installed_here() -> None:
    # The test venv has roost[all]: a service that is not is a catalogue or metadata fault.
    assert {name: info.missing() for name, info in CATALOG.items()} == {
        name: [] for name in SERVICES
    }


async def test_the_demo_leaves_out_a_service_whose_extra_is_missing(
    without_smbus2: Path, tmp_path: Path
) -> None:
    code, out, err = await run(without_smbus2, "-c", PLAN, cwd=tmp_path)
    assert code == 0, err
    planned, left_out, as_app = json.loads(out)
    assert set(planned) == set(SERVICES) - {"i2c-bridge"}
    missing = "i2c-bridge is not installed: smbus2>=0.4.3 missing (pip install 'roost[i2c]')"
    assert left_out == [missing]
    assert as_app == f"[supervisor.apps.bridge] {missing}"


async def test_roost_up_says_what_the_demo_leaves_out(without_smbus2: Path, tmp_path: Path) -> None:
    # A camera mistake makes `roost up` stop after planning, before any process starts.
    (tmp_path / "roost.toml").write_text(
        '[up]\nbroker = "own"\nport = 0\n\n[camera]\nnonsense = 1\n'
    )
    code, out, err = await run(without_smbus2, "-c", ROOST_MAIN, "up", cwd=tmp_path)
    assert code == 2, (out, err)
    assert (
        "roost up: left out: i2c-bridge is not installed: smbus2>=0.4.3 missing "
        "(pip install 'roost[i2c]')" in out.splitlines()
    )
    assert "app camera:" in err
    assert "app i2c-bridge" not in err


async def test_naming_a_service_whose_extra_is_missing_is_a_config_error(
    without_smbus2: Path, tmp_path: Path
) -> None:
    (tmp_path / "roost.toml").write_text(
        '[up]\nbroker = "own"\nport = 0\n\n[supervisor]\nservices = ["i2c-bridge", "recorder"]\n'
    )
    code, out, err = await run(without_smbus2, "-c", ROOST_MAIN, "up", cwd=tmp_path)
    assert code == 2, (out, err)
    assert err.strip() == (
        "roost: [supervisor] services: i2c-bridge is not installed: smbus2>=0.4.3 missing "
        "(pip install 'roost[i2c]')"
    )
    assert "broker" not in out
