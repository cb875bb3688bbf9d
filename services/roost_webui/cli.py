"""`roost webui …`: what a person needs from the web UI at the shell."""

from __future__ import annotations

import typer

from roost.cli.context import Exit, console, fail, settings


def register(app: typer.Typer) -> None:
    webui = typer.Typer(help="The web UI.", no_args_is_help=True)

    @webui.command()
    def url() -> None:
        """Print the one-time login link the running web UI wrote to its data dir."""
        config = settings()
        path = config.data_path("webui", "login-url")
        try:
            link = path.read_text().strip()
        except OSError:
            fail(f"no login link at {path}: is roost-webui running with this data dir?", Exit.USAGE)
        console.print(link, markup=False)

    app.add_typer(webui, name="webui")
