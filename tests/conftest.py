from pathlib import Path

import pytest

pytest_plugins = ["roost.testing.plugin"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--perf", action="store_true", help="run the benchmarks in tests/perf")


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if "perf" in collection_path.parts and not config.getoption("--perf"):
        return True
    return None
