"""`roost status`, `roost devices`, `roost get`: what the broker holds, as tables."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from roost.cli.context import CliSettings, Exit, connected, console, fail, run, settings
from roost.cli.render import (
    Cell,
    Column,
    dash,
    duration,
    listing,
    node_status,
    percent,
    size,
    value_text,
)
from roost.clock import parse_iso, utc_now
from roost.mirror import DeviceView, StateView
from roost.models.node import NodeStats


def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Nodes, their health and how many devices each owns."""
    view = run(_snapshot(settings()))
    rows = []
    for node in sorted(view.nodes.values(), key=lambda n: n.id):
        if node.info is None and not node.devices:
            continue
        online = sum(1 for d in node.devices.values() if d.available)
        rows.append(
            {
                "node": node.id,
                "status": node_status(node),
                "service": node.info.service if node.info else None,
                "version": node.info.version if node.info else None,
                "host": node.info.host if node.info else None,
                "devices": len(node.devices),
                "devices_online": online,
                "uptime": _uptime(node.stats) if node.online and node.stats else None,
                "cpu": node.stats.cpu if node.stats else None,
                "rss": node.stats.rss if node.stats else None,
            }
        )
    if as_json:
        console.print_json(json.dumps(rows))
        return
    if not rows:
        console.print("no roost nodes on this broker")
        return
    columns = [
        Column("node", key=True),
        Column("status", key=True),
        Column("devices", justify="right"),
        Column("uptime", drop=3, justify="right"),
        Column("cpu", drop=4, justify="right"),
        Column("rss", drop=2, justify="right"),
        Column("service", drop=5),
        Column("host", drop=1),
        Column("version", drop=6),
    ]
    cells: list[list[Cell]] = [
        [
            str(row["node"]),
            str(row["status"]),
            f"{row['devices_online']}/{row['devices']}",
            duration(row["uptime"]),  # type: ignore[arg-type]
            percent(row["cpu"]),  # type: ignore[arg-type]
            size(row["rss"]),  # type: ignore[arg-type]
            dash(row["service"]),
            dash(row["host"]),
            dash(row["version"]),
        ]
        for row in rows
    ]
    console.print(listing(columns, cells, console.width))


def devices(
    node: Annotated[str | None, typer.Option(help="Only this node's devices.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Every device with its availability and current values."""
    view = run(_snapshot(settings()))
    found = sorted(
        (d for d in view.devices() if node is None or d.node == node), key=lambda d: d.ref
    )
    if as_json:
        console.print_json(json.dumps([_device_json(view, d) for d in found]))
        return
    if not found:
        console.print("no devices" + (f" on node {node}" if node else ""))
        return
    columns = [
        Column("device", key=True),
        Column("available", key=True),
        Column("name", drop=1),
        Column("model", drop=2),
        Column("values", fill=True, least=30),
    ]
    cells: list[list[Cell]] = []
    for device in found:
        props = device.meta.properties if device.meta else {}
        values = [
            f"{prop}={value_text(device.state.get(prop), spec)}"
            for prop, spec in props.items()
            if spec.in_state
        ]
        cells.append(
            [
                device.ref,
                "online" if view.online(device) else "offline",
                device.meta.name if device.meta else "–",
                (device.meta.model or "–") if device.meta else "–",
                values,
            ]
        )
    console.print(listing(columns, cells, console.width))


def get(
    device: Annotated[str, typer.Argument(help="node/device, or a device id only one node has.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the state as JSON.")] = False,
) -> None:
    """One device: every property with its value, unit and whether it takes commands."""
    view = run(_snapshot(settings()))
    found = _find(view, device)
    if as_json:
        console.print_json(json.dumps(_device_json(view, found)))
        return
    meta = found.meta
    title = f"{found.ref} — {meta.name if meta else '(no meta)'} — "
    title += "online" if view.online(found) else "offline"
    columns = [
        Column("property", key=True),
        Column("value", fill=True, least=20),
        Column("kind", drop=1),
        Column("settable", drop=2),
    ]
    cells: list[list[Cell]] = [
        [
            prop,
            value_text(found.state.get(prop), spec) if spec.in_state else "",
            spec.kind.value,
            "yes" if spec.accepts_commands else "",
        ]
        for prop, spec in (meta.properties if meta else {}).items()
    ]
    console.print(listing(columns, cells, console.width, title=title))
    if "ts" in found.state:
        console.print(f"as of {found.state['ts']}")


def _uptime(stats: NodeStats) -> float:
    """Stats come every 30 s: add the time since the last."""
    try:
        since = (utc_now() - parse_iso(stats.ts)).total_seconds()
    except ValueError:
        return stats.uptime
    return stats.uptime + max(0.0, since)


async def _snapshot(config: CliSettings) -> StateView:
    async with connected(config) as (_, view):
        return view


def _find(view: StateView, ref: str) -> DeviceView:
    try:
        return view.device(ref)
    except KeyError as exc:
        fail(str(exc.args[0]), Exit.USAGE)


def _device_json(view: StateView, device: DeviceView) -> dict[str, object]:
    return {
        "device": device.ref,
        "name": device.meta.name if device.meta else None,
        "online": view.online(device),
        "state": device.state,
        "meta": device.meta.wire() if device.meta else None,
    }
