"""`roost up`: the whole system on this machine in one command.

It makes the data dir and its accounts on first use (`roost init`), finds or starts a
broker, runs the supervisor with the configured apps (or, with none configured, every
installed roost service: the embedded demo), says what it did, prints the web UI's login
URL when the web UI writes one, and on Ctrl-C (or `roost down`) stops every app, then
the broker it started. A second Ctrl-C kills what is left at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable
from pathlib import Path

from roost_supervisor.accounts import ADMIN, initialise
from roost_supervisor.broker import BrokerPlan, plan_broker
from roost_supervisor.configcheck import AppConfigErrors, check_app_configs
from roost_supervisor.datalock import hold_data_dir
from roost_supervisor.launch import Launcher
from roost_supervisor.services import demo_left_out, planned_apps
from roost_supervisor.settings import AppSpec, Settings
from roost_supervisor.states import AppState
from roost_supervisor.supervisor import Supervisor, keep_own_log

Say = Callable[[str], None]
# How long `roost up` waits for the apps before it says how far they got.
SETTLE_TIMEOUT = 60.0
LOGIN_URL_POLL = 1.0


def login_url_path(data_dir: Path) -> Path:
    return data_dir / "webui" / "login-url"


def login_url_stamp(data_dir: Path) -> int | None:
    """The login URL file's mtime (ns), or None. Compared only with itself, never with this
    process's clock: the file system's clock need not agree with it."""
    try:
        return login_url_path(data_dir).stat().st_mtime_ns
    except OSError:
        return None


class Stopper:
    """Ctrl-C, SIGTERM and SIGHUP from the first moment of `roost up`: the first asks for
    a clean stop (before the supervisor runs: do not start it), the second kills the apps
    at once."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

    def __init__(self, say: Say) -> None:
        self.say = say
        self.stop = asyncio.Event()
        self.serving: asyncio.Task[None] | None = None
        self._loop = asyncio.get_running_loop()

    def __enter__(self) -> Stopper:
        for sig in self.SIGNALS:
            self._loop.add_signal_handler(sig, self._on_signal)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig in self.SIGNALS:
            self._loop.remove_signal_handler(sig)

    def _on_signal(self) -> None:
        if not self.stop.is_set():
            self.say("stopping every app (Ctrl-C again to kill them at once)")
            self.stop.set()
        elif self.serving is not None:
            self.say("killing every app now")
            self.serving.cancel()


async def run_up(settings: Settings, *, config: Path | None, say: Say) -> None:
    # One roost per data dir, before anything in it is touched (accounts, broker, apps).
    with Stopper(say) as stopper, hold_data_dir(settings.node.data_dir.resolve()):
        await _run_up(settings, config, say, stopper)


async def _run_up(settings: Settings, config: Path | None, say: Say, stopper: Stopper) -> None:
    data_dir = settings.node.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    say(f"data dir {data_dir}" + (f", config {config}" if config else ", no config file (demo)"))
    apps = planned_apps(settings)
    for line in demo_left_out(settings):
        say(f"left out: {line}")
    # Every start: users for newly configured app nodes, an ACL for the current prefix.
    report = await asyncio.to_thread(
        initialise,
        data_dir,
        settings.mqtt.topics(),
        nodes=[spec.node_id for spec in apps.values() if spec.node_id],
        anonymous=settings.up.anonymous,
    )
    if report.created:
        say(f"made broker users {', '.join(report.created)} in {data_dir / 'secrets'}")
        if report.admin_secret is not None:
            say(
                f"admin secret (shown once, stored hashed): {report.admin_secret} — the web "
                f"UI login, and the broker password of user `{ADMIN}` for a remote CLI; "
                "`roost init --rotate admin` makes a new one"
            )
    if stopper.stop.is_set():
        return
    plan = await plan_broker(settings, data_dir)
    await refuse_bad_configs(settings, apps, plan, data_dir, config)
    for line in plan.lines:
        say(line)
    before = login_url_stamp(data_dir)  # a URL from an earlier run is not shown
    try:
        if plan.own is not None and not stopper.stop.is_set():
            await plan.own.start()
            say(f"broker: running (pid {plan.own.process.pid if plan.own.process else '?'})")
        if not stopper.stop.is_set():
            await _supervise(settings, apps, plan, data_dir, config, say, before, stopper)
    finally:
        if plan.own is not None:
            await plan.own.stop()
            say("broker: stopped")


async def refuse_bad_configs(
    settings: Settings,
    apps: dict[str, AppSpec],
    plan: BrokerPlan,
    data_dir: Path,
    config: Path | None,
) -> None:
    """Before anything starts: every service app's settings, as that app will load them;
    an AppConfigErrors with each app's one-line error if any is wrong."""
    launcher = Launcher(
        plan.mqtt(settings.mqtt, data_dir), data_dir, config=config, credentials=plan.credentials
    )
    problems = await check_app_configs(apps, launcher)
    if problems:
        raise AppConfigErrors(problems)


async def _supervise(
    settings: Settings,
    apps: dict[str, AppSpec],
    plan: BrokerPlan,
    data_dir: Path,
    config: Path | None,
    say: Say,
    before: int | None,
    stopper: Stopper,
) -> None:
    mqtt = plan.mqtt(settings.mqtt, data_dir)
    node = settings.node.model_copy(update={"data_dir": data_dir})
    own = settings.model_copy(update={"mqtt": mqtt, "node": node})
    if apps:
        say(f"apps: {', '.join(apps)}")
    else:
        say("apps: none configured and no roost service installed besides the supervisor")
    launcher = Launcher(mqtt, data_dir, config=config, credentials=plan.credentials)
    supervisor = Supervisor(own, apps, launcher)
    serving = asyncio.create_task(supervisor.serve(stopper.stop.wait()), name="supervisor")
    stopper.serving = serving
    progress = asyncio.create_task(_progress(supervisor, data_dir, say, before))
    try:
        with (
            keep_own_log(data_dir, settings.supervisor.logs),
            contextlib.suppress(asyncio.CancelledError),
        ):
            await serving
    finally:
        progress.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await progress
    if supervisor.shutdown_requested.is_set():
        say("stopped by `roost down`")
    say("every app has stopped")


async def _progress(supervisor: Supervisor, data_dir: Path, say: Say, before: int | None) -> None:
    """One line once the apps have settled, then the web UI's login URL when it appears."""
    await supervisor.node.wait_online(SETTLE_TIMEOUT)
    wanted = [actor for actor in supervisor.actors.values() if actor.spec.autostart]
    settled = (AppState.RUNNING, AppState.CRASHED, AppState.STOPPED, AppState.FAILED)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(SETTLE_TIMEOUT):
            for actor in wanted:
                # Before its first transition an app shows the initial `stopped`: the
                # supervisor may not have started it yet (it checks its id is free first).
                while actor.state not in settled or actor.transitions == 0:
                    await actor.changed()
    running = [a.name for a in wanted if a.state is AppState.RUNNING]
    other = [f"{a.name} ({a.state.value}: {a.reason})" for a in wanted if a.name not in running]
    topics = supervisor.node.topics
    say(
        f"roost is up: supervisor online as {topics.prefix}/{supervisor.node.id}; "
        f"{len(running)} of {len(wanted)} app(s) running"
        + (f": {', '.join(running)}" if running else "")
    )
    for line in other:
        say(f"not running: {line} — roost logs {line.split()[0]}")
    say("look: roost ps · roost devices · roost watch · roost logs APP · Ctrl-C stops")
    shown = before
    path = login_url_path(data_dir)
    while True:
        stamp = login_url_stamp(data_dir)
        if stamp is not None and stamp != shown:
            shown = stamp
            with contextlib.suppress(OSError):
                say(f"web UI: {path.read_text().strip()}")
        await asyncio.sleep(LOGIN_URL_POLL)
