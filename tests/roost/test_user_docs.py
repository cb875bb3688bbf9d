"""What users read (docs, README, code comments and messages, config templates) stands on
its own: it never points at notes users do not have, and every page that shows a `roost`
command says how `roost` gets on the PATH."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ["docs", "shared", "services", "tests", "mosquitto", "scripts"]
FILES = ["README.md", "Dockerfile", "compose.yaml", "pyproject.toml"]
# built from parts so that this file does not match itself
NOTES = re.compile(
    "|".join(
        [
            r"\bseed 0\d\d",
            r"\bseeds?/",
            r"\bseed's\b",
            "DESIGN" + r"\.md",
            "FIELD" + "-NOTES",
            "field " + "notes",
        ]
    ),
    re.IGNORECASE,
)
TEXT = {".md", ".py", ".js", ".toml", ".conf", ".yaml", ".sh", ".css", ".html", ""}


def user_files() -> list[Path]:
    found = [ROOT / name for name in FILES]
    for folder in SHIPPED:
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and path.suffix in TEXT and "__pycache__" not in path.parts:
                found.append(path)
    return sorted(found)


def test_nothing_cites_notes_users_do_not_have() -> None:
    cited = []
    for path in user_files():
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if NOTES.search(line):
                cited.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not cited, "\n".join(cited)


PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
COMMAND = re.compile(r"^(?:\S+\$ )?(?:[A-Z_]+=\S+ )*(\.venv/bin/)?roost(?:-[a-z0-9-]+)?(?: |$)")


def example_commands(page: Path) -> list[re.Match[str]]:
    """The lines of the page's code blocks that run `roost` or a `roost-<service>`."""
    found, inside = [], False
    for line in page.read_text().splitlines():
        if line.startswith("```"):
            inside = not inside
        elif inside and (match := COMMAND.match(line)):
            found.append(match)
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_pages_say_how_roost_gets_on_the_path(page: Path) -> None:
    commands = example_commands(page)
    if not commands:
        return
    # one way on every page: bare `roost`, and the page says where it comes from
    assert "source .venv/bin/activate" in page.read_text(), page
    assert not [m.string for m in commands if m.group(1)], page


def test_supervisor_examples_use_the_demos_apps() -> None:
    """`roost up` with no config runs roost's own services: the page's commands must name
    those, or they fail verbatim on the demo."""
    from roost_supervisor.settings import SERVICES

    page = (ROOT / "docs" / "services" / "supervisor.md").read_text()
    named = re.findall(r"(?:^\$ |`)roost (?:start|stop|restart|logs) ([a-z0-9-]+)", page, re.M)
    named += re.findall(r"roost/supervisor/([a-z0-9-]+)/(?:set|error)", page)
    named += re.findall(r'"app": "([a-z0-9-]+)"', page)
    assert named
    # `supervisor`: the supervisor's own log
    assert not [app for app in named if app not in (*SERVICES, "supervisor")], named
