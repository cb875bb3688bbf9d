"""`roost i2c …`: the bridge's request methods from a shell.

```console
$ roost i2c scan
$ roost i2c calibrate ezo-ph-63 mid 7.00
$ roost i2c call dose_over_time ezo-pmp-67 volume=10 minutes=5
$ roost i2c call sim_fault address=0x76 fault=unplug
```
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from roost.bus import Bus
from roost.cli.context import CliSettings, Exit, console, err_console, fail, run, settings
from roost.cli.control import parse_assignment
from roost.errors import RequestTimeout

NODE = "i2c-bridge"

i2c = typer.Typer(
    name="i2c",
    help="Scan the i2c-bridge's buses, calibrate EZO circuits, call its methods.",
    no_args_is_help=True,
)

NodeOption = Annotated[str, typer.Option("--node", help="The bridge's node id.")]


def register(app: typer.Typer) -> None:
    app.add_typer(i2c)


async def _call(config: CliSettings, node: str, method: str, params: dict[str, Any]) -> Any:
    async with Bus(config.mqtt, reconnect=False, connect_timeout=config.cli.timeout) as bus:
        try:
            response = await bus.request(node, method, params, timeout=config.cli.timeout)
        except RequestTimeout as exc:
            fail(str(exc), Exit.TIMEOUT)
    if not response.ok:
        error = response.error
        code, message = (error.code, error.message) if error else ("error", "failed")
        err_console.print(f"roost: {node} {method}: {code}: {message}", markup=False)
        raise SystemExit(int(Exit.REJECTED))
    return response.data


def _show(data: Any) -> None:
    console.print(json.dumps(data, indent=2, ensure_ascii=False), markup=False)


@i2c.command()
def scan(
    bus: Annotated[str | None, typer.Argument(help="One bus (1, sim); all when omitted.")] = None,
    node: NodeOption = NODE,
) -> None:
    """Scan now: the chips on each bus, and addresses that answer but no driver knows."""
    config = settings()
    _show(run(_call(config, node, "scan", {"bus": bus} if bus else {})))


@i2c.command()
def calibrate(
    device: Annotated[str, typer.Argument(help="An EZO device, e.g. ezo-ph-63.")],
    point: Annotated[str, typer.Argument(help="mid, low, high, dry, single, zero, clear, …")],
    value: Annotated[float | None, typer.Argument(help="The solution's value.")] = None,
    node: NodeOption = NODE,
) -> None:
    """Calibrate an EZO circuit at one point (see docs/services/i2c-bridge.md)."""
    config = settings()
    params: dict[str, Any] = {"device": device, "point": point}
    if value is not None:
        params["value"] = value
    _show(run(_call(config, node, "calibrate", params)))


@i2c.command()
def call(
    method: Annotated[str, typer.Argument(help="A method: dose_over_time, sim_fault, …")],
    args: Annotated[
        list[str] | None, typer.Argument(help="A device id, then key=value params.")
    ] = None,
    node: NodeOption = NODE,
) -> None:
    """Call any of the bridge's request methods and print its answer."""
    config = settings()
    params: dict[str, Any] = {}
    for arg in args or []:
        if "=" in arg:
            key, value = parse_assignment(arg)
            params[key] = value
        elif "device" not in params:
            params["device"] = arg
        else:
            fail(f"expected key=value, got {arg!r}", Exit.USAGE)
    _show(run(_call(config, node, method, params)))
