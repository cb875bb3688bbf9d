"""Config mistakes are one clear line naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from roost.errors import ConfigError
from roost.settings import load_settings
from roost_event_engine.settings import Settings


def load(tmp_path: Path, text: str) -> Settings:
    path = tmp_path / "roost.toml"
    path.write_text(text)
    return load_settings(Settings, path)


def test_groups_and_devices_from_a_file(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        """
        [event_engine]
        workers = 4
        repeat_windows = {"lamp.level" = 2.5}
        [event_engine.groups.house]
        [event_engine.groups.downstairs]
        members = ["lab/lamp"]
        parent = "house"
        [event_engine.devices.thermostat.properties.target]
        kind = "dial"
        min = 10
        max = 30
        [i2c]
        buses = ["sim"]
        """,
    )
    section = settings.event_engine
    assert section.workers == 4
    assert section.groups["downstairs"].parent == "house"
    assert section.devices["thermostat"].properties["target"].max == 30


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[event_engine.groups.a]\nparent = 'b'", "parent 'b' is not a group"),
        (
            "[event_engine.groups.a]\nparent = 'b'\n[event_engine.groups.b]\nparent = 'a'",
            "form a cycle",
        ),
        (
            "[event_engine.devices.x.properties.level]\nkind = 'dial'",
            "a dial needs min and max",
        ),
        ("[event_engine.devices.x.properties.on]\nkind = 'lamp'", "event_engine.devices.x"),
        ("[event_engine.devices.Bad_Id.properties.on]\nkind = 'switch'", "not a slug"),
        ("[event_engine]\nworkrs = 2", "event_engine.workrs: unknown key"),
        ("[event_engine]\nhttp_allow = ['ftp://x/']", "is not an http(s) URL"),
        ("[event_engine]\ntimezone = 'Mars/Olympus'", "not a known time zone"),
    ],
)
def test_mistakes_are_refused(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load(tmp_path, text)
    assert message in str(raised.value)
