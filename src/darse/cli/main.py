"""Entry point: the `darse` app, global options, and the one place where errors become exit codes."""

from __future__ import annotations

import os
import re
import sys

import click
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
    # Plain help: rich markup would read `[default: ...]` or `os/arch[/variant]` in help texts as tags
    # (eating them, or crashing). Click alone suggests close commands: typer's suggestion repeated it.
    rich_markup_mode=None,
    suggest_commands=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
_state = {"debug": False}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"darse {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks of unexpected errors."),
    no_color: bool = typer.Option(False, "--no-color", help="No colours (the NO_COLOR variable does the same)."),
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
    "pull": "pull",
    "build": "build",
    "push": "build",
    "registry": "registry",
    "stack": "stack",
    "node": "node",
    "inspect": "inspect",
    "serve": "serve",
    "certs": "certs",
    "backup": "backup",
    "restore": "restore",
    "tunnel": "tunnel",
}


_registered: set[str] = set()
GLOBAL_FLAGS = ("--debug", "--no-color")


def _register(argv: list[str] | None = None) -> None:
    """Register the command named in `argv` (all of them for help, completion or an unknown word)."""
    import importlib

    words = argv if argv is not None else sys.argv[1:]
    wanted = _command_word(words)
    if wanted is None and "--version" in words:
        return  # `darse --version` needs no command
    modules = [COMMAND_MODULES[wanted]] if wanted in COMMAND_MODULES else sorted(set(COMMAND_MODULES.values()))
    for module in modules:
        if module not in _registered:
            importlib.import_module(f"darse.cli.{module}").register(app)
            _registered.add(module)


def _command_word(argv: list[str]) -> str | None:
    """The first word that is not a global option (`darse --debug up wiki` → `up`)."""
    for word in argv:
        if word in GLOBAL_FLAGS:
            continue
        return None if word.startswith("-") else word
    return None


def _global_flags(argv: list[str]) -> set[str]:
    """The global flags given before the command word: read before any console is made."""
    flags = set()
    for word in argv:
        if word not in GLOBAL_FLAGS:
            break
        flags.add(word)
    return flags


def run(argv: list[str] | None = None) -> None:
    """Console-script entry, and the one place where errors become exit codes.

    Click runs without its standalone mode so that its usage errors reach us: they print as one line
    with a hint and exit 2, like a DarseError (not typer's boxed panel). A DarseError is a user's
    mistake: one line, exit 2. Anything else is a bug and keeps its traceback."""
    args = list(sys.argv[1:] if argv is None else argv)
    flags = _global_flags(args)
    if "--no-color" in flags:
        os.environ["NO_COLOR"] = "1"  # every rich Console reads it when made, here and in the library
    _state["debug"] = "--debug" in flags
    _register(args)
    command = typer.main.get_command(app)
    try:
        code = command.main(args=args, prog_name="darse", standalone_mode=False)
    except DarseError as exc:
        if _state["debug"]:
            raise
        _error(exc.one_line())
        sys.exit(2)
    except click.exceptions.NoArgsIsHelpError as exc:  # `darse`, `darse secrets`: the help, as git does
        sys.stderr.write(exc.format_message() + "\n")
        sys.exit(2)
    except click.UsageError as exc:
        _error(_usage_line(exc))
        sys.exit(exc.exit_code)
    except click.ClickException as exc:  # e.g. a file option that cannot be opened
        _error(exc.format_message())
        sys.exit(exc.exit_code)
    except click.Abort:
        _error("aborted")
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


def _usage_line(exc: click.UsageError) -> str:
    """Click's message, each sentence once (a suggestion must not repeat), with the help as hint."""
    sentences = re.split(r"(?<=[.?!])\s+", " ".join(exc.format_message().split()))
    message = " ".join(dict.fromkeys(sentences))
    where = exc.ctx.command_path if exc.ctx is not None else "darse"
    return f"{message} (hint: see `{where} --help`)"


def _error(line: str) -> None:
    """One red `darse:` line on stderr; the console is made here, after --no-color took effect."""
    Console(stderr=True).print(f"[bold red]darse:[/] {escape(line)}", highlight=False, soft_wrap=True)
