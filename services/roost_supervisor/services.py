"""roost's own services as apps: which are installed, how to run one, and the demo set."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from roost.errors import ConfigError
from roost_supervisor.settings import SERVICES, AppSpec, AvailabilityHealth, Settings


@dataclass(frozen=True)
class ServiceInfo:
    name: str
    package: str
    extra: str
    databases: tuple[str, ...] = ()

    @property
    def script(self) -> str:
        return f"roost-{self.name}"

    def installed(self) -> bool:
        return importlib.util.find_spec(self.package) is not None


_EXTRAS = {"i2c-bridge": "i2c"}
_DATABASES = {"recorder": ("recorder/history.db",)}
CATALOG: dict[str, ServiceInfo] = {
    name: ServiceInfo(
        name,
        "roost_" + name.replace("-", "_"),
        _EXTRAS.get(name, name),
        _DATABASES.get(name, ()),
    )
    for name in SERVICES
}


def service_command(name: str) -> list[str]:
    """The console script of the same installation as this Python, else a `-c` that calls
    the service's `main()` with this interpreter (the same venv either way)."""
    info = CATALOG[name]
    beside = Path(sys.executable).parent / info.script
    if beside.is_file():
        return [str(beside)]
    found = shutil.which(info.script)
    if found and Path(found).resolve().parent == Path(sys.executable).resolve().parent:
        return [found]
    return [sys.executable, "-c", f"from {info.package}.__main__ import main; main()"]


def service_app(name: str, **overrides: object) -> AppSpec:
    """A roost service as an app: healthy while its node says `online`."""
    fields: dict[str, object] = {
        "service": name,
        "health": AvailabilityHealth(kind="availability"),
        "databases": [Path(db) for db in CATALOG[name].databases],
    }
    fields.update(overrides)
    return AppSpec.model_validate(fields)


def planned_apps(settings: Settings) -> dict[str, AppSpec]:
    """The apps to run: those configured, plus the services named in `[supervisor]
    services`; with neither, every installed roost service (the embedded demo)."""
    section = settings.supervisor
    apps: dict[str, AppSpec] = {}
    for name, app in section.apps.items():
        if app.service is not None:
            missing = {"health"} - app.model_fields_set
            extra: dict[str, object] = {}
            if missing:
                extra["health"] = AvailabilityHealth(kind="availability", node=app.node)
            defaults = [Path(db) for db in CATALOG[app.service].databases]
            extra["databases"] = [*app.databases, *(d for d in defaults if d not in app.databases)]
            app = app.model_copy(update=extra)
        apps[name] = app
    if section.services is not None:
        for name in section.services:
            if not CATALOG[name].installed():
                raise ConfigError(
                    f"[supervisor] services names {name}, but {CATALOG[name].package} is not "
                    f"installed (pip install 'roost[{CATALOG[name].extra}]')"
                )
            if name not in apps:
                apps[name] = service_app(name)
    elif not section.apps:
        for name, info in CATALOG.items():
            if info.installed():
                apps[name] = service_app(name)
    return apps
