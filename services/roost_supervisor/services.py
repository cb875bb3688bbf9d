"""roost's own services as apps: which are installed, how to run one, and the demo set.

Every wheel holds every service's package, so "installed" means the service's extra is:
each requirement that roost's own distribution metadata lists under `extra == "<extra>"`
is installed in a version it allows (and so, recursively, are the extras it asks of its
own requirements, e.g. `influxdb-client[async]`).
"""

from __future__ import annotations

import importlib.metadata
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from roost.errors import ConfigError
from roost_supervisor.settings import SERVICES, AppSpec, AvailabilityHealth, Settings

DISTRIBUTION = "roost"


@dataclass(frozen=True)
class ServiceInfo:
    name: str
    package: str
    extra: str
    databases: tuple[str, ...] = ()

    @property
    def script(self) -> str:
        return f"roost-{self.name}"

    @property
    def install_hint(self) -> str:
        return f"pip install '{DISTRIBUTION}[{self.extra}]'"

    def missing(self) -> list[str]:
        """What of the service's extra is not installed (as `name>=1.0`): empty when it
        can run."""
        return list(_missing(DISTRIBUTION, {self.extra}, set()))

    def installed(self) -> bool:
        return not self.missing()

    def not_installed(self) -> str:
        """Why the service cannot run here, and the command that fixes it."""
        return (
            f"{self.name} is not installed: {', '.join(self.missing())} missing "
            f"({self.install_hint})"
        )


def _missing(distribution: str, extras: set[str], seen: set[str]) -> Iterator[str]:
    """Requirements of `distribution[extras]` not met by what is installed."""
    key = f"{canonicalize_name(distribution)}{sorted(extras)}"
    if key in seen:
        return
    seen.add(key)
    try:
        requires = importlib.metadata.requires(distribution) or []
    except importlib.metadata.PackageNotFoundError:
        yield distribution
        return
    for line in requires:
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        marker = requirement.marker
        if marker is None or not any(marker.evaluate({"extra": extra}) for extra in extras):
            continue  # a base dependency (installed with roost itself) or another extra's
        if canonicalize_name(requirement.name) == canonicalize_name(distribution):
            yield from _missing(distribution, set(requirement.extras), seen)  # roost[a,b]
            continue
        try:
            version = importlib.metadata.version(requirement.name)
        except importlib.metadata.PackageNotFoundError:
            yield str(requirement.name) + str(requirement.specifier)
            continue
        if not requirement.specifier.contains(version, prereleases=True):
            yield f"{requirement.name}{requirement.specifier} (found {version})"
            continue
        if requirement.extras:
            yield from _missing(requirement.name, set(requirement.extras), seen)


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
    for name, app in apps.items():
        if app.service is not None and not CATALOG[app.service].installed():
            raise ConfigError(f"[supervisor.apps.{name}] {CATALOG[app.service].not_installed()}")
    if section.services is not None:
        for name in section.services:
            if not CATALOG[name].installed():
                raise ConfigError(f"[supervisor] services: {CATALOG[name].not_installed()}")
            if name not in apps:
                apps[name] = service_app(name)
    elif not section.apps:
        for name, info in CATALOG.items():
            if info.installed():
                apps[name] = service_app(name)
    return apps


def demo_left_out(settings: Settings) -> list[str]:
    """With neither apps nor services configured (the demo), why each roost service that
    `planned_apps` leaves out is not installed."""
    section = settings.supervisor
    if section.services is not None or section.apps:
        return []
    return [info.not_installed() for info in CATALOG.values() if not info.installed()]
