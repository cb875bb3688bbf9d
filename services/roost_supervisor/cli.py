"""The supervisor's `roost` commands.

Through the broker only, so they work from any machine that reaches it: `roost ps`,
`roost start|stop|restart APP`, `roost logs APP`, `roost down`. On this machine's files:
`roost up`, `roost init`, `roost backup`, `roost restore ARCHIVE`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from roost.cli.context import (
    CliSettings,
    Exit,
    connected,
    console,
    err_console,
    fail,
    run,
    settings,
)
from roost.cli.render import Cell, Column, dash, duration, listing, node_status, percent, size
from roost.client import CommandTracker
from roost.clock import parse_iso, utc_now
from roost.errors import BusError, ConfigError
from roost.message import Message
from roost.mirror import DeviceView, StateView
from roost.settings import config_path, load_settings

SERVICE = "supervisor"


def register(app: typer.Typer) -> None:
    for command in (up, down, ps, start, stop, restart, logs, init, backup, restore):
        app.command()(command)


# finding apps on the broker ------------------------------------------------------------
def supervisors(view: StateView) -> list[str]:
    """Node ids of every supervisor the broker knows of."""
    return sorted(
        node.id
        for node in view.nodes.values()
        if node.info is not None and node.info.service == SERVICE
    )


def is_app(device: DeviceView) -> bool:
    props = device.meta.properties if device.meta else {}
    return {"state", "restarts", "restart"} <= set(props)


def find_app(view: StateView, ref: str) -> DeviceView:
    """`node/app`, or an app name that only one supervisor has."""
    if "/" in ref:
        node, _, name = ref.partition("/")
        candidates = [d for d in view.devices() if d.node == node and d.id == name]
    else:
        candidates = [d for d in view.devices() if d.id == ref and d.node in supervisors(view)]
    candidates = [d for d in candidates if is_app(d)]
    if not candidates:
        known = ", ".join(sorted(d.ref for d in view.devices() if is_app(d))) or "none"
        fail(f"no app {ref} on this broker (apps: {known})", Exit.USAGE)
    if len(candidates) > 1:
        names = ", ".join(d.ref for d in candidates)
        fail(f"app {ref} is on several supervisors: say which ({names})", Exit.USAGE)
    return candidates[0]


def pick_supervisor(view: StateView, node: str | None) -> str:
    found = supervisors(view)
    if node is not None:
        if node not in found:
            fail(
                f"no supervisor {node} on this broker (found: {', '.join(found) or 'none'})",
                Exit.USAGE,
            )
        return node
    online = [n for n in found if view.nodes[n].online]
    if len(online) == 1:
        return online[0]
    if not online:
        fail("no supervisor is online on this broker (is `roost up` running?)", Exit.UNREACHABLE)
    return fail(
        f"several supervisors are online: pick one with --node ({', '.join(online)})", Exit.USAGE
    )


# roost ps ------------------------------------------------------------------------------
def ps(
    node: Annotated[str | None, typer.Option(help="Only this supervisor's apps.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Every app of every supervisor: state, pid, uptime, restarts, CPU and memory."""
    view = run(_snapshot(settings()))
    found = [node] if node else supervisors(view)
    rows: list[dict[str, Any]] = []
    for device in sorted(view.devices(), key=lambda d: d.ref):
        if device.node not in found or not is_app(device):
            continue
        state = device.state
        supervisor = view.nodes[device.node]
        uptime = state.get("uptime")
        if state.get("state") == "running" and isinstance(uptime, int | float):
            # Uptime is published with a deadband: add the time since that state.
            with contextlib.suppress(TypeError, ValueError):
                uptime += (utc_now() - parse_iso(str(state.get("ts")))).total_seconds()
        rows.append(
            {
                "app": device.ref,
                "state": state.get("state") if supervisor.online else "unknown",
                "supervisor": node_status(supervisor),
                "pid": state.get("pid"),
                "uptime": uptime,
                "restarts": state.get("restarts"),
                "exit_code": state.get("exit_code"),
                "healthy": state.get("healthy"),
                "cpu": state.get("cpu"),
                "rss": state.get("rss"),
                "reason": state.get("reason"),
            }
        )
    if as_json:
        console.print_json(json.dumps(rows))
        return
    if not rows:
        console.print("no apps on this broker" if not found else f"no apps on {', '.join(found)}")
        return
    short = len({row["app"].split("/")[0] for row in rows}) == 1
    # app and state are never cut; the reason takes the width left, last, and folds
    columns = [
        Column("app", key=True),
        Column("state", key=True),
        Column("pid", drop=4, justify="right"),
        Column("uptime", drop=1, justify="right"),
        Column("restarts", drop=3, justify="right"),
        Column("exit", drop=6, justify="right"),
        Column("cpu", drop=5, justify="right"),
        Column("rss", drop=2, justify="right"),
        Column("reason", fill=True, least=24),
    ]
    cells: list[list[Cell]] = [
        [
            row["app"].split("/", 1)[1] if short else row["app"],
            str(row["state"]) + ("" if row["healthy"] is not False else " (unhealthy)"),
            dash(row["pid"]),
            duration(row["uptime"]),
            dash(row["restarts"]),
            dash(row["exit_code"]),
            percent(row["cpu"]),
            size(row["rss"]),
            str(row["reason"] or ""),
        ]
        for row in rows
    ]
    console.print(listing(columns, cells, console.width))


async def _snapshot(config: CliSettings) -> StateView:
    async with connected(config) as (_, view):
        return view


# roost start / stop / restart ----------------------------------------------------------
WaitOption = Annotated[
    bool, typer.Option("--wait/--no-wait", help="Wait until the app is there (or not).")
]
TimeoutOption = Annotated[float, typer.Option(help="Seconds to wait for the app.")]
AppArgument = Annotated[str, typer.Argument(help="An app name, or supervisor/app.")]


def start(app: AppArgument, wait: WaitOption = True, timeout: TimeoutOption = 90.0) -> None:
    """Start an app (now, even if it is waiting out a backoff delay)."""
    _control("start", app, wait, timeout)


def stop(app: AppArgument, wait: WaitOption = True, timeout: TimeoutOption = 90.0) -> None:
    """Stop an app (a restart waiting out its backoff delay is cancelled).

    Its stop signal goes to the whole process group, SIGKILL after the grace period."""
    _control("stop", app, wait, timeout)


def restart(app: AppArgument, wait: WaitOption = True, timeout: TimeoutOption = 90.0) -> None:
    """Stop an app and start it again."""
    _control("restart", app, wait, timeout)


def _control(command: str, ref: str, wait: bool, timeout: float) -> None:
    code, message = run(_send(settings(), command, ref, wait, timeout))
    (console if code == Exit.OK else err_console).print(message, markup=False)
    raise SystemExit(int(code))


async def _send(
    config: CliSettings, command: str, ref: str, wait: bool, timeout: float
) -> tuple[Exit, str]:
    async with connected(config, events=True, errors=True) as (bus, view):
        device = find_app(view, ref)
        before = dict(device.state)
        if not view.nodes[device.node].online:
            return Exit.UNREACHABLE, f"{device.ref}: supervisor {device.node} is offline"
        already = {"stop": "stopped", "start": "running"}.get(command)
        if already is not None and before.get("state") == already:
            return Exit.OK, f"{device.ref}: already {_describe(before)}"
        if not wait:
            await bus.publish(bus.topics.set(device.node, device.id), {command: True})
            return Exit.OK, f"{device.ref}: {command} sent"
        tracker = CommandTracker(bus, lambda: view, timeout)
        remove = view.add_listener(tracker.on_change)

        def settle(state: Mapping[str, Any]) -> Literal["ok", "rejected"] | None:
            done = _verdict(command, before, state)
            return None if done is None else "ok" if done is Exit.OK else "rejected"

        try:
            verdict = await tracker.send(device, {command: True}, settle=settle)
        finally:
            remove()
        if verdict.by in ("error", "local") and verdict.error is not None:
            return Exit.REJECTED, f"{device.ref}: {verdict.error.code}: {verdict.error.message}"
        if verdict.status == "unreachable" and verdict.error is not None:
            return Exit.UNREACHABLE, verdict.error.message
        if verdict.status != "timeout":
            code = Exit.OK if verdict.ok else Exit.REJECTED
            return code, f"{device.ref}: {_describe(verdict.state)}"
        now = view.device(device.ref).state if view.nodes.get(device.node) else {}
        shown = _describe(now) if now else "no state"
        online = "online" if view.nodes[device.node].online else "offline"
        return Exit.TIMEOUT, (
            f"{device.ref}: not done within {timeout:g} s; it reports {shown} "
            f"(supervisor {device.node} {online})"
        )


def _verdict(command: str, before: Mapping[str, Any], state: Mapping[str, Any]) -> Exit | None:
    """OK when the app shows the command done, REJECTED when it shows it failed."""
    current = state.get("state")
    if command == "stop":
        return Exit.OK if current == "stopped" and state.get("pid") is None else None
    if current in ("crashed", "backoff", "failed"):
        return Exit.REJECTED
    if current != "running":
        return None
    if command == "restart":
        new_process = state.get("pid") != before.get("pid") or before.get("state") != "running"
        return Exit.OK if new_process else None
    return Exit.OK


def _describe(state: Mapping[str, Any]) -> str:
    text = str(state.get("state"))
    if state.get("pid") is not None:
        text += f" (pid {state['pid']})"
    if state.get("reason"):
        text += f": {state['reason']}"
    return text


# roost logs ----------------------------------------------------------------------------
def logs(
    app: Annotated[str, typer.Argument(help="An app name (or supervisor/app, or a supervisor).")],
    lines: Annotated[int, typer.Option("--lines", "-n", min=1, max=5000)] = 100,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines.")
    ] = False,
) -> None:
    """The last lines an app wrote to its log, read through its supervisor."""
    run(_logs(settings(), app, lines, follow))


async def _logs(config: CliSettings, ref: str, lines: int, follow: bool) -> None:
    async with connected(config) as (bus, view):
        if ref in supervisors(view):
            node, name = ref, ref
        else:
            device = find_app(view, ref)
            node, name = device.node, device.id
        params: dict[str, Any] = {"app": name, "lines": lines}
        while True:
            response = await bus.request(node, "logs", params, timeout=config.cli.timeout)
            if not response.ok or not isinstance(response.data, dict):
                error = response.error
                fail(f"{node}: {error.message if error else 'no answer'}", Exit.REJECTED)
            found = response.data.get("lines")
            for line in found if isinstance(found, list) else []:
                console.print(str(line), markup=False, highlight=False)
            if not follow:
                return
            params = {"app": name, "lines": 5000, "cursor": response.data.get("cursor")}
            await asyncio.sleep(1.0)


# roost down ----------------------------------------------------------------------------
def down(
    node: Annotated[str | None, typer.Option(help="The supervisor to stop.")] = None,
    timeout: TimeoutOption = 120.0,
) -> None:
    """Stop every app and the supervisor (and with it a `roost up` and its broker)."""
    # The broker may go away with the supervisor (roost up stops the one it started):
    # the client library's complaint about the closed socket is expected, not news.
    logging.getLogger("mqtt").setLevel(logging.CRITICAL)
    code, message = run(_down(settings(), node, timeout))
    (console if code == Exit.OK else err_console).print(message, markup=False)
    raise SystemExit(int(code))


async def _down(config: CliSettings, node: str | None, timeout: float) -> tuple[Exit, str]:
    async with connected(config) as (bus, view):
        target = pick_supervisor(view, node)
        gone = asyncio.Event()

        def on_availability(message: Message) -> None:
            if message.payload == b"offline" and not message.retain:
                gone.set()

        await bus.subscribe(bus.topics.node_availability(target), on_availability)
        response = await bus.request(
            target, "shutdown", {"confirm": True}, timeout=config.cli.timeout
        )
        if not response.ok:
            error = response.error
            return Exit.REJECTED, f"{target}: {error.message if error else 'refused'}"
        data = response.data if isinstance(response.data, dict) else {}
        stopping = data.get("stopping")
        names = [str(n) for n in stopping] if isinstance(stopping, list) else []
        console.print(f"{target}: stopping {', '.join(names) or 'no apps'}", markup=False)
        try:
            await asyncio.wait_for(gone.wait(), timeout)
        except TimeoutError:
            return Exit.TIMEOUT, f"{target} is still online after {timeout:g} s"
        except BusError:
            pass  # the broker went away with it: `roost up` stops the broker it started
        return Exit.OK, f"{target}: every app stopped; the supervisor is offline"


# local: up, init, backup, restore ------------------------------------------------------
def _local_settings() -> Any:
    from roost_supervisor.settings import Settings

    try:
        return load_settings(Settings)
    except ConfigError as exc:
        fail(str(exc), Exit.USAGE)


def _env_settings() -> Any:
    from pydantic import ValidationError

    from roost_supervisor.settings import Settings

    try:
        return Settings()
    except ValidationError as exc:
        fail(f"environment: {exc.errors()[0]['msg']}", Exit.USAGE)


def up() -> None:
    """Run everything on this machine (with no config: the demo). Ctrl-C stops it.

    A broker (the one configured, one already listening, or roost's own Mosquitto), the
    supervisor, and its apps."""
    from roost.log import setup_logging
    from roost_supervisor.broker import BrokerError
    from roost_supervisor.configcheck import AppConfigErrors
    from roost_supervisor.up import run_up

    config = _local_settings()
    setup_logging(config.log, name="roost-up")

    def say(line: str) -> None:
        console.print(f"roost up: {line}", markup=False, highlight=False)

    try:
        asyncio.run(run_up(config, config=config_path(), say=say))
    except BrokerError as exc:
        fail(str(exc), Exit.REJECTED)
    except AppConfigErrors as exc:
        for problem in exc.problems:
            err_console.print(f"roost: {problem}", markup=False)
        fail("nothing started (check one app: roost-<service> --check-config)", Exit.USAGE)
    except ConfigError as exc:
        fail(str(exc), Exit.USAGE)


def init(
    user: Annotated[
        list[str] | None,
        typer.Option(
            help="Add a broker user NAME:ROLE (role: node, observer, controller, client, "
            "homeassistant or viewer)."
        ),
    ] = None,
    rotate: Annotated[
        list[str] | None, typer.Option(help="Replace this user's secret (repeatable; `admin` too).")
    ] = None,
    show: Annotated[
        str | None, typer.Option(help="Print the stored password of this user (for Node-RED, HA…).")
    ] = None,
) -> None:
    """Make the data dir, broker users, password file, ACL and admin secret.

    Passwords are random; the admin secret is stored hashed. Running it again keeps what
    exists and adds what is missing."""
    from roost_supervisor.accounts import (
        ADMIN,
        AccountError,
        acl_path,
        initialise,
        passwd_path,
    )
    from roost_supervisor.acl import Role
    from roost_supervisor.launch import password_path, read_password

    config = _local_settings()
    data_dir: Path = config.node.data_dir.resolve()
    add: dict[str, Role] = {}
    for item in user or []:
        name, _, role = item.partition(":")
        try:
            add[name] = Role(role)
        except ValueError:
            roles = ", ".join(r.value for r in Role)
            fail(f"--user wants NAME:ROLE with a role of {roles}, got {item!r}", Exit.USAGE)
    from roost_supervisor.services import planned_apps

    try:
        report = initialise(
            data_dir,
            config.mqtt.topics(),
            add=add,
            nodes=[spec.node_id for spec in planned_apps(config).values() if spec.node_id],
            rotate=list(rotate or []),
            anonymous=config.up.anonymous,
        )
    except (AccountError, ConfigError) as exc:
        fail(str(exc), Exit.USAGE)
    say = console.print
    say(f"data dir {data_dir}", markup=False)
    columns = [
        Column("broker user", key=True),
        Column("role", key=True),
        Column("password", fill=True, least=24),
    ]
    users: list[list[Cell]] = [
        [
            name,
            report.users[name].value,
            "the admin secret (stored hashed only)"
            if name == ADMIN
            else str(password_path(data_dir, name).relative_to(data_dir)),
        ]
        for name in sorted(report.users)
    ]
    say(listing(columns, users, console.width))
    say(f"password file {passwd_path(data_dir)}, ACL {acl_path(data_dir)}", markup=False)
    if report.created:
        say(f"new: {', '.join(report.created)}", markup=False)
    if report.rotated:
        say(f"rotated: {', '.join(report.rotated)}", markup=False)
    if report.admin_secret is not None:
        say(
            f"admin secret (shown once, stored hashed): {report.admin_secret}\n"
            "  web UI login; remote CLI: ROOST_MQTT__HOST=<this machine> "
            "ROOST_MQTT__USERNAME=admin ROOST_MQTT__PASSWORD=<secret> roost ps",
            markup=False,
        )
    if report.broker_reloaded:
        say("roost's broker re-read the password file and ACL", markup=False)
    for name in report.rotated:
        if name != ADMIN:
            say(f"  {name} logs in with its new password after: roost restart {name}", markup=False)
    if show is not None:
        if show == ADMIN:
            fail(
                "the admin secret is stored hashed only; `roost init --rotate admin` makes one",
                Exit.USAGE,
            )
        password = read_password(data_dir, show)
        if password is None:
            fail(f"no stored password for {show}", Exit.USAGE)
        say(f"{show}: {password}", markup=False)
    say(
        "rotate a secret: roost init --rotate USER (admin: a new admin secret; a service: "
        "then roost restart SERVICE)",
        markup=False,
    )


def backup(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="The archive to write (.tar.gz).")
    ] = None,
) -> None:
    """Write one archive of this machine's roost: config, secrets, databases, scripts.

    Databases are copied online (the system keeps running); the broker's retained state
    goes too. `roost restore` puts it back on a new machine."""
    from roost_supervisor.archive import ArchiveError, default_archive_path, write_archive

    config = _local_settings()
    data_dir: Path = config.node.data_dir.resolve()
    section = config.supervisor.backup
    backups_dir = section.dir or Path("backups")
    target = output or default_archive_path(
        backups_dir if backups_dir.is_absolute() else data_dir / backups_dir
    )
    try:
        report = write_archive(
            target,
            data_dir=data_dir,
            config=config_path(),
            exclude=list(section.exclude),
            extras=list(section.include),
        )
    except ArchiveError as exc:
        fail(str(exc), Exit.REJECTED)
    console.print(
        f"wrote {report.path} ({_size(report.size)}, {report.files} files, "
        f"databases: {', '.join(report.databases) or 'none'})",
        markup=False,
    )
    console.print(f"on the new machine: roost restore {report.path.name} && roost up", markup=False)


def _size(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 1e5 else f"{size / 1e3:.0f} kB"


def restore(
    archive: Annotated[Path, typer.Argument(help="An archive `roost backup` wrote.")],
    force: Annotated[
        bool,
        typer.Option(help="Replace an existing data dir and config (moved aside, not deleted)."),
    ] = False,
    extra: Annotated[
        list[Path] | None,
        typer.Option(
            "--extra",
            help="Also restore the archive's copy of this path (repeat for several); "
            "paths in this machine's [supervisor.backup] include are restored anyway.",
        ),
    ] = None,
    skip_extras: Annotated[
        bool, typer.Option(help="Leave out the archive's extras that are not allowed here.")
    ] = False,
    trust_config: Annotated[
        bool,
        typer.Option(help="Restore a config that runs programs of its own (apps with a command)."),
    ] = False,
) -> None:
    """Put a `roost backup` archive back: config, data dir, secrets, databases, scripts.

    All or nothing: the archive is checked (files only, sizes, free space, checksums) and
    unpacked beside its targets first; the old data stays until the new is complete."""
    import os
    import sys

    from roost.settings import CONFIG_ENV, DEFAULT_CONFIG
    from roost_supervisor.archive import ArchiveError
    from roost_supervisor.restore import contents, programs_in, restore_archive

    target = Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)
    # The config file is usually what is being restored: read it only if it is there.
    config = _local_settings() if target.is_file() else _env_settings()
    allowed = [*config.supervisor.backup.include, *(extra or [])]
    try:
        if sys.stdin.isatty():
            manifest, archived_config = contents(archive)
            if not skip_extras:
                chosen, declined = _ask_for_extras(manifest.extras, allowed)
                allowed.extend(chosen)
                skip_extras = declined  # what was declined is left out, the rest restored
            if not trust_config:
                trust_config = _ask_for_programs(programs_in(archived_config))
        report = restore_archive(
            archive,
            data_dir=config.node.data_dir,
            config=target,
            force=force,
            include=allowed,
            skip_extras=skip_extras,
            trust_config=trust_config,
        )
    except ArchiveError as exc:
        fail(str(exc), Exit.REJECTED)
    for aside in report.moved_aside:
        console.print(f"moved aside: {aside}", markup=False)
    for path in report.skipped_extras:
        console.print(f"left out: {path}", markup=False)
    console.print(
        f"restored {report.files} files into {report.data_dir}"
        + (f" and {report.config}" if report.config else "")
        + f" (databases: {', '.join(report.databases) or 'none'})",
        markup=False,
    )
    console.print("continue where the old machine stopped: roost up", markup=False)


def _ask_for_extras(entries: Any, allowed: list[Path]) -> tuple[list[Path], bool]:
    """At a terminal, ask before restoring an extra this machine's config does not name:
    the paths chosen, and whether any was declined (then it is left out)."""
    known = {path.expanduser().resolve() for path in allowed}
    chosen: list[Path] = []
    declined = False
    for entry in entries:
        path = Path(entry.path).expanduser()
        if path.is_absolute() and path.resolve() in known:
            continue
        question = f"the archive holds {entry.kind} {entry.path} from the old machine; restore it?"
        if path.is_absolute() and typer.confirm(question, default=False):
            chosen.append(path)
        else:
            declined = True
    return chosen, declined


def _ask_for_programs(programs: list[str]) -> bool:
    """At a terminal, show what the archive's config would run and ask whether to trust it."""
    if not programs:
        return False
    console.print("the archive's roost.toml makes roost up run:", markup=False)
    for line in programs:
        console.print(f"  {line}", markup=False)
    return typer.confirm("trust this config?", default=False)
