"""The `roost` command. Services add their own commands through the `roost.cli` entry
point group: each entry is a `register(app: typer.Typer) -> None`."""

from __future__ import annotations

import logging
from importlib.metadata import entry_points

import typer

from roost import __version__
from roost.cli import control, inspect, watch

app = typer.Typer(
    name="roost",
    help="Inspect and drive a roost system through its MQTT broker.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command()(inspect.status)
app.command()(inspect.devices)
app.command()(inspect.get)
app.command(name="set")(control.set_)
app.command()(watch.watch)


@app.command()
def version() -> None:
    """Print roost's version."""
    typer.echo(__version__)


def load_plugins(target: typer.Typer) -> None:
    for entry in entry_points(group="roost.cli"):
        try:
            entry.load()(target)
        except Exception as exc:  # a broken plugin must not take the whole CLI down
            logging.getLogger("roost.cli").warning("CLI plugin %s failed: %s", entry.name, exc)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="roost: %(message)s")
    logging.getLogger("mqtt").setLevel(logging.ERROR)
    load_plugins(app)
    app()
