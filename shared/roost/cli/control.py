"""`roost set`: send a command and wait for the owner's verdict (roost.client)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from pydantic_core import from_json

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
from roost.cli.render import value_text
from roost.client import CommandTracker, Verdict
from roost.mirror import DeviceView


def parse_assignment(text: str) -> tuple[str, Any]:
    """`duty=40` → ("duty", 40); values are JSON where they parse, text otherwise."""
    prop, sep, raw = text.partition("=")
    if not sep or not prop:
        fail(f"expected prop=value, got {text!r}", Exit.USAGE)
    try:
        return prop, from_json(raw)
    except ValueError:
        return prop, raw


def set_(
    device: Annotated[str, typer.Argument(help="node/device, or a device id only one node has.")],
    assignments: Annotated[
        list[str], typer.Argument(help="prop=value pairs, e.g. duty=40 on=true")
    ],
    timeout: Annotated[
        float | None, typer.Option(help="Seconds to wait for the device to answer.")
    ] = None,
) -> None:
    """Change properties and wait for the owner's answer: what it applied, or its error."""
    config = settings()
    values = dict(parse_assignment(a) for a in assignments)
    code, message = run(_set(config, device, values, timeout or config.cli.timeout))
    (console if code == Exit.OK else err_console).print(message, markup=False)
    raise SystemExit(int(code))


async def _set(
    config: CliSettings, ref: str, values: dict[str, Any], timeout: float
) -> tuple[Exit, str]:
    async with connected(config, events=True, errors=True) as (bus, view):
        try:
            device = view.device(ref)
        except KeyError as exc:
            return Exit.USAGE, str(exc.args[0])
        tracker = CommandTracker(bus, lambda: view, timeout)
        remove = view.add_listener(tracker.on_change)
        try:
            verdict = await tracker.send(device, values)
        finally:
            remove()
        return EXITS[verdict.status], verdict_text(verdict, device)


EXITS = {
    "ok": Exit.OK,
    "rejected": Exit.REJECTED,
    "timeout": Exit.TIMEOUT,
    "unreachable": Exit.UNREACHABLE,
}


def verdict_text(verdict: Verdict, device: DeviceView) -> str:
    """`n1/fan: duty=55 %`, `pca9685-40: frequency applied as 1017 Hz`, or the reason."""
    if verdict.error is not None:
        if verdict.by in ("error", "local"):
            return f"{device.ref}: {verdict.error.code}: {verdict.error.message}"
        return verdict.error.message
    props = device.meta.properties if device.meta else {}
    shown = [
        f"{prop} applied as {value_text(value, props.get(prop))}"
        if prop in verdict.adjusted
        else f"{prop}={value_text(value, props.get(prop))}"
        for prop, value in verdict.applied.items()
    ]
    if verdict.pressed:
        shown.append(f"pressed {', '.join(verdict.pressed)}")
    return f"{device.ref}: {', '.join(shown) or 'done'}"
