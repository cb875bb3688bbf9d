"""`roost-supervisor`: the supervisor alone, against a broker that runs already (systemd,
a container). `roost up` runs the same supervisor and also manages the broker."""

from __future__ import annotations

from roost.service import run_service, until_signalled
from roost.settings import config_path
from roost_supervisor.datalock import hold_data_dir
from roost_supervisor.launch import Launcher
from roost_supervisor.services import planned_apps
from roost_supervisor.settings import Settings
from roost_supervisor.supervisor import Supervisor, keep_own_log


async def serve(settings: Settings) -> None:
    apps = planned_apps(settings)
    launcher = Launcher(settings.mqtt, settings.node.data_dir, config=config_path())
    supervisor = Supervisor(settings, apps, launcher)
    with (
        hold_data_dir(supervisor.data_dir.resolve(), what="roost-supervisor"),
        keep_own_log(supervisor.data_dir, settings.supervisor.logs),
    ):
        await supervisor.serve(until_signalled())


def main() -> None:
    run_service("supervisor", Settings, serve)


if __name__ == "__main__":
    main()
