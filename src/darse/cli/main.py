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


# Which module registers each command. Only the module of the command being run is imported, so that
# `darse up` does not pay for importing the registry, inspect and Swarm code (about half a second).
COMMAND_MODULES = {
    "lint": "lint",
    "rules": "lint",
    "secrets": "secrets",
    "new": "new",
    "up": "deploy",
    "down": "deploy",
    "rollback": "deploy",
    "diff": "deploy",
    "logs": "deploy",
    "status": "status",
    "history": "status",
    "build": "build",
    "push": "build",
    "registry": "registry",
    "stack": "stack",
    "inspect": "inspect",
}


def _register(argv: list[str] | None = None) -> None:
    """Register the command named in `argv` (all of them for help, completion or an unknown word)."""
    import importlib

    wanted = _command_word(argv if argv is not None else sys.argv[1:])
    modules = [COMMAND_MODULES[wanted]] if wanted in COMMAND_MODULES else sorted(set(COMMAND_MODULES.values()))
    for module in modules:
        importlib.import_module(f"darse.cli.{module}").register(app)


def _command_word(argv: list[str]) -> str | None:
    """The first word that is not a global option (`darse --debug up wiki` → `up`)."""
    for word in argv:
        if word in ("--debug",):
            continue
        return None if word.startswith("-") else word
    return None


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
