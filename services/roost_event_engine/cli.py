"""`roost scripts log` and `roost scripts list`: what the event engine ran, and its scripts."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from roost.bus import Bus
from roost.cli.context import CliSettings, Exit, console, fail, run, settings
from roost.cli.render import Cell, Column, listing
from roost.errors import RequestTimeout
from roost_event_engine.settings import DEFAULT_NODE_ID

NodeOption = Annotated[
    str, typer.Option("--node", help="The event engine's node id.", show_default=True)
]


def register(app: typer.Typer) -> None:
    scripts = typer.Typer(
        help="The event engine's scripts and what they did.", no_args_is_help=True
    )
    scripts.command(name="log")(log_command)
    scripts.command(name="list")(list_command)
    app.add_typer(scripts, name="scripts")


def log_command(
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many entries.")] = 20,
    device: Annotated[
        str | None, typer.Option(help="Only events of this device (node/device or id).")
    ] = None,
    errors: Annotated[bool, typer.Option("--errors", help="Only runs that failed.")] = False,
    node: NodeOption = DEFAULT_NODE_ID,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The newest processed events: trigger, functions run, what they sent, errors."""
    params: dict[str, Any] = {"limit": limit, "errors": errors}
    if device is not None:
        params["device"] = device
    data = run(_call(settings(), node, "log", params))
    entries = data.get("entries", []) if isinstance(data, dict) else []
    if as_json:
        console.print_json(json.dumps(entries))
        return
    if not entries:
        console.print("no events processed yet" + (" with errors" if errors else ""))
        return
    # The time and the trigger's device are never cut; what ran, what it sent and its error
    # share one column, a line each, so they fold under one another in a narrow terminal.
    columns = [
        Column("time", key=True),
        Column("trigger", fill=True, least=22),
        Column("ran, sent, error", fill=True, least=30),
        Column("ms", drop=1, justify="right"),
    ]
    cells: list[list[Cell]] = [
        [
            str(entry.get("ts", ""))[11:23],
            trigger_items(entry.get("trigger") or {}),
            "\n".join(_outcome(entry)) or "–",
            f"{entry.get('duration_ms', 0):.1f}",
        ]
        for entry in entries
    ]
    console.print(listing(columns, cells, console.width))


def _outcome(entry: dict[str, Any]) -> list[str]:
    lines = [str(f) for f in entry.get("functions") or []]
    lines += [f"sent {sent_text(s)}" for s in entry.get("sent") or []]
    failure = entry.get("error") or _refusal(entry)
    if failure:
        lines.append(f"error: {failure}")
    return lines


def list_command(
    node: NodeOption = DEFAULT_NODE_ID,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Every script, whether it loaded (or the error that keeps its previous version)."""
    data = run(_call(settings(), node, "scripts", {}))
    if not isinstance(data, dict):
        fail("unexpected answer from the event engine", Exit.REJECTED)
    if as_json:
        console.print_json(json.dumps(data))
        return
    console.print(f"scripts in {data.get('dir')}")
    columns = [
        Column("script", key=True),
        Column("state", key=True),
        Column("for", drop=2),
        Column("loaded", drop=1),
        Column("error", fill=True, least=24),
    ]
    cells: list[list[Cell]] = [
        [
            script["path"],
            script["state"],
            f"{script['role']} {script['target']}",
            str(script.get("loaded") or "–")[:19],
            script.get("error") or "",
        ]
        for script in data.get("scripts", [])
    ]
    console.print(listing(columns, cells, console.width))
    for timer in data.get("timers", []):
        console.print(f"timer pending: {timer}")
    for name, expression in (data.get("schedules") or {}).items():
        console.print(f"schedule: {name} at '{expression}'")


async def _call(config: CliSettings, node: str, method: str, params: dict[str, Any]) -> Any:
    async with Bus(config.mqtt, reconnect=False, connect_timeout=config.cli.timeout) as bus:
        try:
            response = await bus.request(node, method, params, timeout=config.cli.timeout)
        except RequestTimeout as exc:
            fail(f"{exc}", Exit.TIMEOUT)
    if not response.ok:
        error = response.error
        fail(f"{node}: {error.code}: {error.message}" if error else "failed", Exit.REJECTED)
    return response.data


def _refusal(entry: dict[str, Any]) -> str:
    parts = [f"{prop} vetoed by {where}" for prop, where in (entry.get("vetoed") or {}).items()]
    if entry.get("stopped"):
        parts.append(f"stopped by {entry['stopped']}")
    return "; ".join(parts)


def trigger_items(trigger: dict[str, Any]) -> list[str]:
    """What set a run off: the device (with the kind unless it is a change), then each
    changed value, the event or the function called."""
    kind = str(trigger.get("kind", "?"))
    head = [] if kind == "change" and "device" in trigger else [kind]
    if "device" in trigger:
        head.append(str(trigger["device"]))
    items = [" ".join(head)]
    items += [f"{p}={v}" for p, v in (trigger.get("changes") or {}).items()]
    if "event" in trigger:
        items.append(f"event {trigger['event']}")
    if "function" in trigger:
        items.append(str(trigger["function"]))
    return items


def sent_text(sent: dict[str, Any]) -> str:
    if "set" in sent:
        values = ", ".join(f"{p}={v}" for p, v in (sent.get("values") or {}).items())
        return f"set {sent['set']} {values}"
    if "emit" in sent:
        return f"event {sent['emit']}"
    if "after" in sent:
        return f"after {sent['after']} s → {sent.get('function')}"
    if "plugin" in sent:
        return f"{sent['plugin']}({json.dumps(sent.get('args'))[1:-1]})"
    return json.dumps(sent)
