"""One distribution: the library and every service package, in a wheel as in the tree."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_wheel_carries_the_library_and_every_service(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", str(tmp_path / "dist"), str(ROOT)],
        check=True, capture_output=True,
    )  # fmt: skip
    (wheel,) = (tmp_path / "dist").glob("roost-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    services = {p.name for p in (ROOT / "services").iterdir() if (p / "__init__.py").exists()}
    assert {"roost", *services} <= tops
    assert "roost/py.typed" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "roost = roost.cli.app:main" in zipfile.ZipFile(wheel).read(entry_points).decode()

    # Installed from the wheel into a venv of its own, it imports and runs.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [python, "-m", "pip", "install", "-q", "--no-deps", str(wheel)],
        check=True, capture_output=True,
    )  # fmt: skip
    deps = sysconfig.get_paths()["purelib"]  # this venv's dependencies, not its roost
    probe = "import roost, roost.node; print(roost.__file__)"
    result = subprocess.run(
        [python, "-c", probe], env={"PYTHONPATH": deps}, check=True, capture_output=True, text=True
    )
    assert str(venv) in result.stdout
