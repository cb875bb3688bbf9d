"""`roost watch`: live changes of state, availability and events, one line each."""

from __future__ import annotations

import fnmatch
import json
from typing import Annotated

import typer

from roost.cli.context import CliSettings, connected, console, err_console, run, settings
from roost.cli.render import value_text
from roost.clock import iso
from roost.mirror import Change, ChangeKind, StateView


def watch(
    pattern: Annotated[
        str, typer.Argument(help="node/device glob, e.g. 'i2c-bridge/*' or '*/bme280-*'.")
    ] = "*",
    count: Annotated[int | None, typer.Option(help="Stop after this many lines.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Print every change as it happens until Ctrl-C (or --count lines)."""
    run(_watch(settings(), pattern if "/" in pattern else f"{pattern}/*", count, as_json))


async def _watch(config: CliSettings, pattern: str, count: int | None, as_json: bool) -> None:
    async with connected(config, events=True, errors=True) as (_, view), view.changes() as queue:
        where = f"{config.mqtt.host}:{config.mqtt.port}"
        err_console.print(f"watching {pattern} on {where} (Ctrl-C to stop)", markup=False)
        printed = 0
        while count is None or printed < count:
            change = await queue.get()
            if change.retained or not fnmatch.fnmatchcase(
                f"{change.node}/{change.device}", pattern
            ):
                continue
            line = _json_line(view, change) if as_json else _text_line(view, change)
            if line is None:
                continue
            console.print(line, markup=False)
            printed += 1


def _text_line(view: StateView, change: Change) -> str | None:
    stamp = iso()[11:23]
    ref = change.ref
    match change.kind:
        case ChangeKind.STATE:
            if not change.changed:
                return None
            device = view.nodes[change.node].devices[change.device or ""]
            props = device.meta.properties if device.meta else {}
            parts = [
                f"{prop} {value_text(old, props.get(prop))} → {value_text(new, props.get(prop))}"
                for prop, (old, new) in change.changed.items()
            ]
            return f"{stamp} {ref} " + ", ".join(parts)
        case ChangeKind.AVAILABILITY | ChangeKind.NODE_AVAILABILITY:
            node = view.nodes[change.node]
            up = node.online if change.device is None else node.devices[change.device].available
            return f"{stamp} {ref} {'online' if up else 'offline'}"
        case ChangeKind.EVENT if change.event is not None:
            event = change.event
            phase = f" {event.phase.value}" if event.phase else ""
            return f"{stamp} {ref} event {event.event_type}{phase} {json.dumps(event.data)}"
        case ChangeKind.ERROR if change.error is not None:
            return f"{stamp} {ref} error {change.error.code}: {change.error.message}"
        case ChangeKind.REMOVED:
            return f"{stamp} {ref} removed"
    return None


def _json_line(view: StateView, change: Change) -> str | None:
    body: dict[str, object] = {"ts": iso(), "kind": change.kind.value, "ref": change.ref}
    if change.kind is ChangeKind.STATE:
        if not change.changed:
            return None
        body["changed"] = {p: new for p, (_, new) in change.changed.items()}
    elif change.kind in (ChangeKind.AVAILABILITY, ChangeKind.NODE_AVAILABILITY):
        node = view.nodes[change.node]
        body["online"] = (
            node.online if change.device is None else node.devices[change.device].available
        )
    elif change.event is not None:
        body["event"] = change.event.model_dump(mode="json", exclude_none=True)
    elif change.error is not None:
        body["error"] = change.error.model_dump(mode="json", exclude_none=True)
    elif change.kind is not ChangeKind.REMOVED:
        return None
    return json.dumps(body)
