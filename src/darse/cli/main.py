"""Entry point: the `darse` app, global options, and the one place where errors become exit codes."""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.markup import escape

from darse import __version__
from darse.errors import DarseError

app = typer.Typer(
    name="darse",
    help="Run a fleet of Docker Compose services from one Git repository.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
_state = {"debug": False}
err_console = Console(stderr=True)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"darse {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks of unexpected errors."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    _state["debug"] = debug


def _register() -> None:
    from darse.cli import lint as lint_cli

    lint_cli.register(app)
    from darse.cli import registry as registry_cli

    registry_cli.register(app)
    from darse.cli import inspect as inspect_cli

    inspect_cli.register(app)


def run() -> None:
    """Console-script entry. Typer/click handle usage errors (exit 2) and exit codes themselves;
    a DarseError becomes one line on stderr and exit 2; anything else is a bug with a traceback."""
    _register()
    try:
        app()
    except DarseError as exc:
        if _state["debug"]:
            raise
        err_console.print(f"[bold red]darse:[/] {escape(exc.one_line())}", highlight=False, soft_wrap=True)
        sys.exit(2)
