"""Session fixtures of the container tests: the tools (missing ones fail the test with
what to install, never a skip), the images built once, Podman's API socket."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .engine import INSTALL, Builds, PodmanService, build_images, missing_tools, run


@pytest.fixture(scope="session")
def images() -> Builds:
    """Every target of the Dockerfile, built from local base images."""
    missing = missing_tools()
    if missing:
        pytest.fail(f"container tools missing ({', '.join(missing)}): {INSTALL}", pytrace=False)
    return build_images()


@pytest.fixture(scope="session")
def engine(images: Builds, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PodmanService]:
    """Podman's API; at the end, the anonymous volumes the tests' containers left (each
    image declares /data a volume) are removed, and no volume that was there before."""
    before = set(run("podman", "volume", "ls", "--quiet").stdout.split())
    service = PodmanService(tmp_path_factory.mktemp("podman"))
    yield service
    service.stop()
    left = set(run("podman", "volume", "ls", "--quiet").stdout.split()) - before
    if left:
        run("podman", "volume", "rm", *sorted(left), check=False)
