"""Which apps run: configured ones, named services, or every installed service (demo)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from roost.errors import ConfigError
from roost.settings import load_settings
from roost_supervisor import services
from roost_supervisor.launch import Launcher
from roost_supervisor.services import CATALOG, planned_apps, service_command
from roost_supervisor.settings import (
    AppSpec,
    AvailabilityHealth,
    Settings,
    SupervisorSection,
)


def test_no_config_runs_every_installed_service() -> None:
    apps = planned_apps(Settings())
    assert set(apps) == {n for n, i in CATALOG.items() if i.installed()}
    for name, spec in apps.items():
        assert spec.service == name
        assert isinstance(spec.health, AvailabilityHealth)


def test_a_configured_service_gets_its_defaults() -> None:
    section = SupervisorSection(apps={"rec": AppSpec(service="recorder", node="rec")})
    apps = planned_apps(Settings(supervisor=section))
    assert set(apps) == {"rec"}
    assert isinstance(apps["rec"].health, AvailabilityHealth)
    assert apps["rec"].health.node == "rec"
    assert apps["rec"].databases == [Path("recorder/history.db")]


def test_service_command_is_this_installation() -> None:
    argv = service_command("recorder")
    assert Path(argv[0]).parent == Path(sys.executable).parent or argv[0] == sys.executable


def test_apps_get_the_broker_and_data_dir_but_not_the_supervisors_login(
    tmp_path: Path,
) -> None:
    from roost.settings import MqttSettings

    mqtt = MqttSettings(host="10.0.0.2", port=1884, username="supervisor", password="s")
    secrets = tmp_path / "data" / "secrets"
    secrets.mkdir(parents=True)
    (secrets / "probe.password").write_text("pw\n")
    base = {"ROOST_MQTT__PASSWORD": "leak", "ROOST_NODE__ID": "supervisor", "PATH": "/bin"}
    launcher = Launcher(mqtt, tmp_path / "data", base_env=base)
    plain = launcher.launch(AppSpec(command="sleep", args=["1"]))
    assert plain.argv == ["sleep", "1"]
    assert plain.env["ROOST_MQTT__HOST"] == "10.0.0.2" and plain.env["ROOST_MQTT__PORT"] == "1884"
    assert plain.env["ROOST_NODE__DATA_DIR"] == str((tmp_path / "data").resolve())
    assert "ROOST_MQTT__PASSWORD" not in plain.env and "ROOST_NODE__ID" not in plain.env
    node = launcher.launch(AppSpec(command=["python3", "x.py"], node="probe", env={"A": "1"}))
    assert node.env["ROOST_MQTT__USERNAME"] == "probe"
    assert node.env["ROOST_MQTT__PASSWORD"] == "pw"
    assert node.env["ROOST_NODE__ID"] == "probe" and node.env["A"] == "1"
    anonymous = Launcher(mqtt, tmp_path / "data", base_env=base, credentials=False)
    assert "ROOST_MQTT__USERNAME" not in anonymous.launch(AppSpec(command="x", node="probe")).env


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[supervisor.apps.a]\ncommand = "x"\nservice = "recorder"\n', "exactly one"),
        ('[supervisor.apps.a]\ncommand = "x"\ndepends_on = ["b"]\n', "not an app"),
        (
            '[supervisor.apps.a]\ncommand = "x"\ndepends_on = ["b"]\n'
            '[supervisor.apps.b]\ncommand = "x"\ndepends_on = ["a"]\n',
            "cycle",
        ),
        ('[supervisor.apps.Bad_Name]\ncommand = "x"\n', "slug"),
        ('[supervisor.apps.host]\ncommand = "x"\n', "supervisor itself"),
        ('[supervisor.apps.a]\ncommand = "x"\nrestart = "sometimes"\n', "restart"),
        ('[supervisor.apps.a]\ncommand = "x"\nhealth = { kind = "tcp" }\n', "port"),
        ('[supervisor.apps.a]\ncommand = "x"\nhealth = { kind = "availability" }\n', "node"),
        ('[supervisor.apps.a]\ncommand = "x"\ncolour = "red"\n', "unknown key"),
        ('[up]\nlisten = ["0.0.0.0:1883"]\n', "anonymous = false"),
        ('[supervisor]\nservices = ["toaster"]\n', "unknown roost service"),
    ],
)
def test_config_mistakes_are_one_clear_line(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "roost.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError, match=message) as caught:
        load_settings(Settings, path)
    assert str(path) in str(caught.value)


def test_services_module_names_every_catalogued_service() -> None:
    assert set(services.CATALOG) == set(services.SERVICES)
