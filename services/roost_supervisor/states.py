"""An app's states and the commands it takes."""

from __future__ import annotations

from enum import StrEnum


class AppState(StrEnum):
    """What the OS says about an app, as of the last transition.

    stopped   no process, none wanted
    starting  a process exists and has not yet passed its start period or first check
    running   the process is up (and healthy, if it has a check)
    stopping  the stop signal was sent; waiting for the group to exit
    crashed   the process ended on its own (or failed to start or get ready)
    backoff   crashed, and a restart is scheduled after a growing delay
    failed    a roost service exited with the config-error code: not restarted (the same
              config would fail the same way) until a `start`; `reason` is its error line
    """

    STOPPED = "stopped"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    CRASHED = "crashed"
    BACKOFF = "backoff"
    FAILED = "failed"


class Command(StrEnum):
    START = "start"
    STOP = "stop"
    RESTART = "restart"
