"""Settings: file and environment, and one clear line for every mistake."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import Field

from roost.errors import ConfigError
from roost.settings import RoostSettings, Section, load_settings


class I2cSection(Section):
    buses: list[str | int] = Field(default_factory=lambda: ["sim"])
    interval: float = 5.0


class I2cSettings(RoostSettings):
    i2c: I2cSection = Field(default_factory=I2cSection)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("ROOST_CONFIG", "ROOST_MQTT__PORT", "ROOST_MQTT__HOST", "ROOST_I2C__BUSES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def test_defaults_without_any_file() -> None:
    settings = load_settings(RoostSettings)
    assert (settings.mqtt.host, settings.mqtt.port, settings.mqtt.prefix) == (
        "127.0.0.1",
        1883,
        "roost",
    )
    assert settings.node_id("recorder") == "recorder"
    assert settings.node.data_dir == Path("data")


def test_file_then_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "roost.toml").write_text(
        '[mqtt]\nport = 1999\nhost = "broker"\n[i2c]\nbuses = [1]\n[recorder]\nanything = 1\n'
    )
    monkeypatch.setenv("ROOST_MQTT__PORT", "1884")
    monkeypatch.setenv("ROOST_I2C__BUSES", '["sim", 1]')
    settings = load_settings(I2cSettings)
    assert settings.mqtt.port == 1884
    assert settings.mqtt.host == "broker"
    assert settings.i2c.buses == ["sim", 1]


def test_roost_config_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "elsewhere.toml"
    path.write_text('[node]\nid = "pi-2"\n')
    monkeypatch.setenv("ROOST_CONFIG", str(path))
    assert load_settings(RoostSettings).node_id("i2c-bridge") == "pi-2"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[mqtt]\nport = 'abc'\n", "key mqtt.port: Input should be a valid integer"),
        ("[mqtt]\nport = 70000\n", "key mqtt.port"),
        ("[mqtt]\nprot = 1\n", "key mqtt.prot: unknown key"),
        ("[mqqt]\nport = 1\n", "unknown section [mqqt]"),
        ("[mqtt\nport = 1\n", "line 1"),
        ("[node]\nid = 'Bad_Id'\n", "key node.id"),
        ("[mqtt]\nprefix = 'a/#'\n", "key mqtt.prefix"),
        ("[log]\nlevel = 'loud'\n", "key log.level"),
        ("[i2c]\ninterval = 'often'\n", "key i2c.interval"),
    ],
)
def test_broken_files_give_one_line_naming_file_and_key(
    tmp_path: Path, text: str, fragment: str
) -> None:
    (tmp_path / "roost.toml").write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_settings(I2cSettings)
    message = str(caught.value)
    assert "\n" not in message
    assert "roost.toml" in message
    assert fragment in message


def test_a_wrong_environment_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROOST_MQTT__PORT", "x")
    with pytest.raises(ConfigError, match="environment variable ROOST_MQTT__PORT"):
        load_settings(RoostSettings)


def test_a_missing_named_file_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROOST_CONFIG", "/nonexistent/roost.toml")
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(RoostSettings)
