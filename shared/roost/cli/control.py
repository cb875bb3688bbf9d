"""`roost set`: send a command and wait for the owner's verdict (state or error)."""

from __future__ import annotations

import contextlib
import math
from typing import Annotated, Any

import typer
from pydantic_core import from_json

from roost.cli.command import Verdict, send_command
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
from roost.coerce import coerce_command
from roost.errors import CommandError
from roost.models.meta import PropertyKind


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
    """Change properties and wait until the device's state shows it, or its error."""
    config = settings()
    values = dict(parse_assignment(a) for a in assignments)
    code, message = run(_set(config, device, values, timeout or config.cli.timeout))
    (console if code == Exit.OK else err_console).print(message, markup=False)
    raise SystemExit(int(code))


async def _set(
    config: CliSettings, ref: str, values: dict[str, Any], timeout: float
) -> tuple[Exit, str]:
    async with connected(config) as (bus, view):
        try:
            device = view.device(ref)
        except KeyError as exc:
            return Exit.USAGE, str(exc.args[0])
        props = device.meta.properties if device.meta else {}
        expected: dict[str, Any] = {}
        for prop, value in values.items():
            spec = props.get(prop)
            if spec is None or not spec.in_state:
                continue
            # A value we cannot coerce goes out as given: the owner is the authority on why.
            with contextlib.suppress(CommandError):
                expected[prop] = coerce_command(prop, spec, value)
        buttons = [p for p in values if p in props and props[p].kind is PropertyKind.BUTTON]
        last_state: dict[str, Any] = {}

        def judge(kind: str, body: dict[str, Any]) -> Verdict | None:
            if kind == "state":
                last_state.clear()
                last_state.update(body)
                if expected and all(_same(body.get(p), v) for p, v in expected.items()):
                    shown = ", ".join(
                        f"{p}={value_text(body.get(p), props.get(p))}" for p in expected
                    )
                    return Exit.OK, f"{device.ref}: {shown}"
            elif buttons and not expected:
                data = body.get("data") or {}
                if body.get("event_type") == "press" and data.get("prop") in buttons:
                    return Exit.OK, f"{device.ref}: pressed {', '.join(buttons)}"
            return None

        verdict = await send_command(bus, device, values, judge, timeout=timeout)
        if verdict is not None:
            return verdict
        if last_state:
            shown = ", ".join(f"{p}={last_state.get(p)!r}" for p in values)
            return Exit.TIMEOUT, f"{device.ref} did not take the change: it reports {shown}"
        online = "online" if view.online(device) else "offline"
        return Exit.TIMEOUT, f"no answer from {device.ref} within {timeout:g} s ({online})"


def _same(actual: Any, wanted: Any) -> bool:
    if isinstance(actual, int | float) and isinstance(wanted, int | float):
        return math.isclose(actual, wanted, rel_tol=1e-6, abs_tol=1e-9)
    return bool(actual == wanted)
