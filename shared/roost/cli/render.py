"""How the CLI shows values: units, switches, unknowns, node health."""

from __future__ import annotations

from typing import Any

from roost.mirror import NodeView
from roost.models.meta import PropertyKind, PropertySpec


def value_text(value: Any, spec: PropertySpec | None) -> str:
    if value is None:
        return "–"
    if spec is not None and spec.kind is PropertyKind.SWITCH:
        return "on" if value else "off"
    text = str(value)
    if spec is not None and spec.unit:
        text += f" {spec.unit}"
    return text


def node_status(node: NodeView) -> str:
    """online, stopped (clean exit) or lost (offline without saying goodbye)."""
    if node.online:
        return "online"
    if node.info is not None and node.info.state == "stopped":
        return "stopped"
    if node.online is None:
        return "unknown"
    return "lost"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours:02d}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def megabytes(value: int | None) -> str:
    return "–" if value is None else f"{value / 1e6:.0f} MB"
