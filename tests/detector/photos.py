"""Real photos for the detector tests, from packages (nothing is fetched from the web).

- a standing person: `person.jpg` of Debian's `darknet` package (the installed file, or
  the package fetched with `apt-get download` and unpacked into a cache);
- a face: scikit-image's bundled `data.astronaut()`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest

INSTALLED = Path("/usr/share/darknet/data/person.jpg")
MEMBER = "./usr/share/darknet/data/person.jpg"


def cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "roost-tests"


def _run(*command: str, cwd: Path) -> None:
    subprocess.run(command, cwd=cwd, check=True, capture_output=True, timeout=300)


def person_jpg() -> Path:
    if INSTALLED.is_file():
        return INSTALLED
    cached = cache_dir() / "person.jpg"
    if cached.is_file():
        return cached
    cached.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        try:
            try:
                _run("apt-get", "download", "darknet", cwd=work)
            except subprocess.CalledProcessError:
                if os.geteuid() != 0:
                    raise
                _run("apt-get", "update", "-qq", cwd=work)  # a machine with no package lists
                _run("apt-get", "download", "darknet", cwd=work)
            [deb] = work.glob("darknet_*.deb")
            _run("dpkg-deb", "-x", str(deb), "unpacked", cwd=work)
        except (subprocess.SubprocessError, OSError, ValueError) as exc:
            pytest.fail(f"cannot get person.jpg from Debian's darknet package: {exc}")
        shutil.copyfile(work / "unpacked" / MEMBER, cached)
    return cached


def astronaut() -> npt.NDArray[np.uint8]:
    from skimage import data

    rgb = data.astronaut()
    return np.ascontiguousarray(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), dtype=np.uint8)


def person() -> npt.NDArray[np.uint8]:
    image = cv2.imread(str(person_jpg()), cv2.IMREAD_COLOR)
    assert image is not None
    return np.asarray(image, dtype=np.uint8)
