"""The client side of the contract, for every program that sends commands (the CLI, the
web UI, the event engine): prepare a command against the device's meta, send it with an
id, and settle it with exactly one verdict.

    prepare.py   PreparedCommand, prepare_command: coerced and checked as the owner would
    verdict.py   Verdict, CommandFailure: the one answer a command gets, typed
    tracker.py   CommandTracker: sends prepared commands and matches the owner's answers
"""

from roost.client.prepare import PreparedCommand, prepare_command
from roost.client.tracker import CommandTracker, Settle
from roost.client.verdict import CommandFailure, Verdict

__all__ = [
    "CommandFailure",
    "CommandTracker",
    "PreparedCommand",
    "Settle",
    "Verdict",
    "prepare_command",
]
