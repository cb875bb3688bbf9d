"""How the CLI shows things: values in human units, and listings that fit the terminal.

A listing never cuts a key column (ids, states). When the terminal is too narrow it first
leaves out the columns that matter least, then folds the long ones: a list of values
between its items, text between words. Every command that prints a table uses `listing`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from rich import box
from rich.cells import cell_len
from rich.table import Table

from roost.mirror import NodeView
from roost.models.meta import PropertyKind, PropertySpec

#: A cell: text, or a list of items that folds between items (joined by ", ").
Cell = str | list[str]

# Bytes scale from the unit a property's meta gives; the names and steps are the web UI's.
_BYTE_UNITS = {"B": 1, "kB": 1024, "KB": 1024, "KiB": 1024, "MB": 1024**2, "MiB": 1024**2}
_BYTE_UNITS |= {"GB": 1024**3, "GiB": 1024**3}
_SEPARATOR = ", "
# box.SIMPLE_HEAD without edges: one padding space each side of a one-space divider
_GAP = 3


def value_text(value: Any, spec: PropertySpec | None) -> str:
    """A property's value as a person reads it: on/off, bytes as kB/MB/GB, long durations
    as 3h 12m, else the value and its unit."""
    if value is None:
        return "–"
    if spec is not None and spec.kind is PropertyKind.SWITCH:
        return "on" if value else "off"
    unit = spec.unit if spec is not None else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        if unit in _BYTE_UNITS:
            return size(value * _BYTE_UNITS[unit])
        if unit == "s" and abs(value) >= 120:
            return duration(value)
        text = _number(value, spec.precision if spec is not None else None)
    else:
        text = str(value)
    return f"{text} {unit}" if unit else text


def _number(value: float, precision: int | None) -> str:
    if isinstance(value, float) and precision is not None and math.isfinite(value):
        return f"{value:.{precision}f}"
    return str(value)


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
    """12s, 4m 05s, 3h 12m, 2d 03h: the two largest units."""
    if seconds is None:
        return "–"
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def size(value: float | None) -> str:
    """Bytes as B, kB, MB or GB (steps of 1024, as the web UI shows them)."""
    if value is None:
        return "–"
    if abs(value) < 1024:
        return f"{value:.0f} B"
    if abs(value) < 1024**2:
        return f"{value / 1024:.0f} kB"
    if abs(value) < 1024**3:
        return f"{value / 1024**2:.1f} MB"
    return f"{value / 1024**3:.2f} GB"


def percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f} %"


def dash(value: object) -> str:
    return "–" if value is None or value == "" else str(value)


@dataclass(frozen=True)
class Column:
    """One column of a listing.

    key: an id or a state, never left out and never cut. drop: for the others, the order
    in which they are left out when the width runs short (the highest first; 0 = never).
    fill: long text or a list of items that folds to the width left, at least `least`.
    """

    header: str
    key: bool = False
    drop: int = 0
    fill: bool = False
    least: int = 16
    justify: Literal["left", "right"] = "left"


def listing(
    columns: Sequence[Column],
    rows: Sequence[Sequence[Cell]],
    width: int,
    *,
    title: str | None = None,
) -> Table:
    """A table of `rows` that fits `width` columns of terminal without cutting a key."""
    shown = [
        i
        for i, column in enumerate(columns)
        if column.key or any(_text(row[i]) not in ("", "–") for row in rows)
    ]
    natural = {i: _natural(columns[i], [row[i] for row in rows]) for i in range(len(columns))}
    while True:
        fills = [i for i in shown if columns[i].fill]
        fixed = sum(natural[i] for i in shown if not columns[i].fill) + _GAP * (len(shown) - 1)
        wanted = sum(natural[i] for i in fills)
        needed = sum(min(columns[i].least, natural[i]) for i in fills)
        room = width - fixed
        if room >= wanted or (fills and room >= needed):
            break
        droppable = [i for i in shown if not columns[i].key and columns[i].drop > 0]
        if not droppable:
            break
        shown.remove(max(droppable, key=lambda i: columns[i].drop))
    widths = _share(room, {i: natural[i] for i in fills}, {i: columns[i].least for i in fills})
    table = Table(
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        title=title,
        title_justify="left",
    )
    for i in shown:
        column = columns[i]
        if column.fill:
            table.add_column(
                column.header, justify=column.justify, width=widths[i], overflow="fold"
            )
        else:
            table.add_column(
                column.header,
                justify=column.justify,
                no_wrap=True,
                min_width=natural[i],
                overflow="fold",
            )
    for row in rows:
        table.add_row(*(_fold(row[i], widths.get(i)) for i in shown))
    return table


def _text(cell: Cell) -> str:
    return _SEPARATOR.join(cell) if isinstance(cell, list) else cell


def _natural(column: Column, cells: Sequence[Cell]) -> int:
    lines = [line for cell in cells for line in _text(cell).splitlines()]
    return max([cell_len(column.header), *(cell_len(line) for line in lines)])


def _share(room: int, natural: dict[int, int], least: dict[int, int]) -> dict[int, int]:
    """The room left split between the fill columns, in proportion to their content."""
    if not natural:
        return {}
    total = sum(natural.values())
    if room >= total:
        return dict(natural)
    floor = {i: min(least[i], natural[i]) for i in natural}
    spare = max(0, room - sum(floor.values()))
    extra = {i: natural[i] - floor[i] for i in natural}
    wanted = sum(extra.values()) or 1
    return {i: floor[i] + spare * extra[i] // wanted for i in natural}


def _fold(cell: Cell, width: int | None) -> str:
    """A list of items packed into lines of `width`, broken only between items."""
    if not isinstance(cell, list):
        return cell
    if width is None:
        return _SEPARATOR.join(cell)
    lines: list[str] = []
    line = ""
    for n, item in enumerate(cell):
        piece = item + (_SEPARATOR.rstrip() if n < len(cell) - 1 else "")
        if line and cell_len(line) + 1 + cell_len(piece) > width:
            lines.append(line)
            line = piece
        else:
            line = f"{line} {piece}" if line else piece
    lines.append(line)
    return "\n".join(lines)
