"""`roost history` and `roost export`: the recorder's `history` method from the shell.

Both page through the range with the method's `limit` and `next`, so `export` streams a
range of any length to its file without holding it in memory.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer

from roost.bus import Bus
from roost.cli.context import CliSettings, Exit, connected, console, fail, run, settings
from roost.cli.render import Cell, Column, listing
from roost.clock import iso
from roost.errors import RequestTimeout
from roost.mirror import StateView
from roost_recorder.timespec import parse_duration

PAGE = 10_000

DeviceArg = Annotated[
    str, typer.Argument(help="node/device, or a device id only one node has.", show_default=False)
]
Since = Annotated[str, typer.Option(help="How far back: 90s, 10m, 1h, 2d, 1w.")]
From = Annotated[
    str | None,
    typer.Option("--from", help="Start: ISO-8601, Unix seconds or -seconds (instead of --since)."),
]
To = Annotated[str | None, typer.Option("--to", help="End, as --from (default now).")]
Step = Annotated[
    float | None,
    typer.Option(help="Seconds per bucket: min, max, mean, last and count instead of points."),
]
Node = Annotated[str, typer.Option(help="The recorder's node id.")]
Epoch = Annotated[bool, typer.Option("--epoch", help="Times as Unix seconds, not ISO-8601.")]


def register(app: typer.Typer) -> None:
    app.command(name="history")(history)
    app.command(name="export")(export)


def history(
    device: DeviceArg,
    prop: Annotated[str, typer.Argument(help="The property, e.g. temperature.")],
    since: Since = "1h",
    from_: From = None,
    to: To = None,
    step: Step = None,
    as_csv: Annotated[
        bool, typer.Option("--csv", help="CSV on stdout instead of a table.")
    ] = False,
    node: Node = "recorder",
    epoch: Epoch = False,
) -> None:
    """The recorded history of one property, as a table or CSV."""
    config = settings()
    start = _start(since, from_)
    run(_history(config, device, prop, start, to, step, as_csv, node, epoch))


def export(
    device: DeviceArg,
    props: Annotated[
        list[str] | None, typer.Argument(help="Properties; every recorded one when omitted.")
    ] = None,
    since: Since = "1d",
    from_: From = None,
    to: To = None,
    step: Step = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="CSV file to write (default stdout).")
    ] = None,
    node: Node = "recorder",
    epoch: Epoch = False,
) -> None:
    """Write the history of a device's properties as CSV, streamed page by page."""
    config = settings()
    start = _start(since, from_)
    written = run(_export(config, device, props or [], start, to, step, output, node, epoch))
    if output is not None:
        console.print(f"wrote {written} rows to {output}", markup=False)


# talking to the recorder -----------------------------------------------------------------
def _start(since: str, from_: str | None) -> str | float:
    if from_ is not None:
        return from_
    try:
        return -parse_duration(since)
    except ValueError as exc:
        fail(str(exc), Exit.USAGE)


def _ref(view: StateView, device: str) -> tuple[str, Any]:
    """node/device and its meta (None when the broker no longer has the device)."""
    try:
        found = view.device(device)
    except KeyError as exc:
        if "/" in device:
            return device, None  # recorded once, perhaps gone now: still ask
        fail(str(exc.args[0]), Exit.USAGE)
    return found.ref, found.meta


async def _call(
    config: CliSettings, bus: Bus, node: str, method: str, params: dict[str, Any]
) -> Any:
    try:
        response = await bus.request(node, method, params, timeout=config.cli.timeout)
    except RequestTimeout:
        fail(
            f"no answer from {node} within {config.cli.timeout:g} s (is the recorder running?)",
            Exit.TIMEOUT,
        )
    if not response.ok:
        error = response.error
        fail(f"{node}: {error.code}: {error.message}" if error else "refused", Exit.REJECTED)
    return response.data


async def _pages(
    config: CliSettings, bus: Bus, node: str, params: dict[str, Any]
) -> AsyncIterator[list[list[Any]]]:
    params = {**params, "limit": PAGE}
    while True:
        data = await _call(config, bus, node, "history", params)
        yield data["points"]
        if data.get("next") is None:
            return
        params["from"] = data["next"]


async def _history(
    config: CliSettings,
    device: str,
    prop: str,
    start: str | float,
    to: str | None,
    step: float | None,
    as_csv: bool,
    node: str,
    epoch: bool,
) -> None:
    async with connected(config) as (bus, view):
        ref, meta = _ref(view, device)
        unit = None
        if meta is not None and prop in meta.properties:
            unit = meta.properties[prop].unit
        params = _params(ref, prop, start, to, step)
        header = _header(step)
        if as_csv:
            writer = csv.writer(sys.stdout, lineterminator="\n")
            writer.writerow(header)
            async for page in _pages(config, bus, node, params):
                writer.writerows(_row(point, epoch) for point in page)
            return
        title = f"{ref} {prop}" + (f" ({unit})" if unit else "")
        rows: list[list[Cell]] = []
        async for page in _pages(config, bus, node, params):
            rows.extend([_cell(v) for v in _row(point, epoch)] for point in page)
        if rows:
            # the time is the key; the values are short numbers (the count goes first)
            columns = [Column(header[0], key=True)] + [
                Column(name, justify="right", drop=n) for n, name in enumerate(header[1:], 1)
            ]
            console.print(listing(columns, rows, console.width, title=title))
        else:
            console.print(f"no history of {ref} {prop} in that range", markup=False)


async def _export(
    config: CliSettings,
    device: str,
    props: list[str],
    start: str | float,
    to: str | None,
    step: float | None,
    output: Path | None,
    node: str,
    epoch: bool,
) -> int:
    async with connected(config) as (bus, view):
        ref, _ = _ref(view, device)
        if not props:
            series: list[dict[str, Any]] = []
            offset: int | None = 0
            while offset is not None:  # the listing comes in pages
                listing = await _call(
                    config, bus, node, "series", {"device": ref, "offset": offset}
                )
                series += listing["series"]
                offset = listing.get("next")
            props = [entry["prop"] for entry in series]
            if step is not None:
                numeric = {entry["prop"] for entry in series if entry["numeric"]}
                props = [p for p in props if p in numeric]
        written = 0
        with _open(output) as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(["time", "device", "property", *_header(step)[1:]])
            for prop in props:
                async for page in _pages(config, bus, node, _params(ref, prop, start, to, step)):
                    for point in page:
                        time_cell, *values = _row(point, epoch)
                        writer.writerow([time_cell, ref, prop, *values])
                    written += len(page)
                    handle.flush()
        return written


# formatting ------------------------------------------------------------------------------
def _params(
    ref: str, prop: str, start: str | float, to: str | None, step: float | None
) -> dict[str, Any]:
    params: dict[str, Any] = {"device": ref, "prop": prop, "from": start}
    if to is not None:
        params["to"] = to
    if step is not None:
        params["step"] = step
    return params


def _header(step: float | None) -> list[str]:
    return ["time", "value"] if step is None else ["time", "min", "max", "mean", "last", "count"]


def _row(point: list[Any], epoch: bool) -> list[Any]:
    ts, *values = point
    when = f"{ts:.3f}" if epoch else iso(datetime.fromtimestamp(ts, UTC))
    return [when, *(_value(v) for v in values)]


def _value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return value


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


@contextmanager
def _open(output: Path | None) -> Iterator[TextIO]:
    if output is None:
        yield sys.stdout
        return
    try:
        handle = output.open("w", newline="", encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror}", Exit.USAGE)
    with handle:
        yield handle
