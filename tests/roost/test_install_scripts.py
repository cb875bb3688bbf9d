"""scripts/lib.sh decides when pip runs: when the venv lacks the extras asked for or was
installed from another pyproject.toml or package set, and only then.

The venv's Python here is a stand-in that records how it is called, so the test checks
the shell's decisions in a fraction of a second with no network; scripts/test runs the
real pip through the same code every time.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STAND_IN = """#!/bin/sh
case "$1" in
  -c) echo "3.11.2 (stand-in)" ;;
  -m) echo "$*" >> "$(dirname "$0")/../../pip-calls"; [ ! -e "$(dirname "$0")/../../fail" ] ;;
esac
"""


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A checkout with the real lib.sh and pyproject.toml, two packages and a venv."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "lib.sh", tmp_path / "scripts" / "lib.sh")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    for package in ("shared/roost", "services/roost_demo"):
        (tmp_path / package).mkdir(parents=True)
        (tmp_path / package / "__init__.py").write_text("")
    python = tmp_path / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(STAND_IN)
    python.chmod(0o755)
    return tmp_path


def ensure_venv(checkout: Path, extras: str) -> list[str]:
    """Run `ensure_venv EXTRAS` as the scripts do; the pip commands it ran."""
    calls = checkout / "pip-calls"
    before = calls.read_text().splitlines() if calls.exists() else []
    subprocess.run(
        ["bash", "-c", f"set -euo pipefail; source scripts/lib.sh; ensure_venv {extras}"],
        cwd=checkout, check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    after = calls.read_text().splitlines() if calls.exists() else []
    return after[len(before) :]


def test_pip_runs_once_for_the_same_extras(checkout: Path) -> None:
    (first,) = ensure_venv(checkout, "all")
    assert first.startswith("-m pip install") and first.endswith("-e .[all]")
    assert ensure_venv(checkout, "all") == []


def test_the_test_extras_upgrade_a_run_venv_and_it_still_serves_run(checkout: Path) -> None:
    ensure_venv(checkout, "all")
    (upgrade,) = ensure_venv(checkout, "all,test")
    assert upgrade.endswith("-e .[all,test]")
    assert ensure_venv(checkout, "all") == []
    assert ensure_venv(checkout, "all,test") == []


def test_pip_runs_again_when_pyproject_or_the_packages_change(checkout: Path) -> None:
    ensure_venv(checkout, "all,test")
    (checkout / "services" / "roost_demo" / "parts.py").write_text("X = 1\n")
    assert ensure_venv(checkout, "all") == []  # sources: the editable install sees them
    pyproject = checkout / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"rich>=13",', '"rich>=14",'))
    (changed,) = ensure_venv(checkout, "all")
    assert changed.endswith("-e .[all]")
    (checkout / "services" / "roost_new").mkdir()
    (checkout / "services" / "roost_new" / "__init__.py").write_text("")
    assert len(ensure_venv(checkout, "all")) == 1
    # It reinstalled only [all]: the test extras need pip again.
    assert len(ensure_venv(checkout, "all,test")) == 1


def test_a_failed_pip_is_tried_again_next_time(checkout: Path) -> None:
    (checkout / "fail").touch()
    with pytest.raises(subprocess.CalledProcessError):
        ensure_venv(checkout, "all")
    (checkout / "fail").unlink()
    assert len(ensure_venv(checkout, "all")) == 1
    assert ensure_venv(checkout, "all") == []
