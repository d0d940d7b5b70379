"""`darse registry ...`: the private registry as a service of the repository, and what it holds."""

from __future__ import annotations

import getpass
import json
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from darse.errors import DarseError

registry_app = typer.Typer(help="The private registry: scaffold it, manage its users, list and delete images.")
user_app = typer.Typer(help="Users of the registry's htpasswd file (bcrypt).")
registry_app.add_typer(user_app, name="user")
out = Console(highlight=False)


def _read_password(from_stdin: bool) -> str:
    """From stdin (one line) when asked or when stdin is not a terminal; else a hidden prompt, twice."""
    if from_stdin or not sys.stdin.isatty():
        line = sys.stdin.readline(4096)
        password = line.rstrip("\r\n")
        if not password:
            raise DarseError("no password on stdin", "pipe it in: printf '%s\\n' \"$PASSWORD\" | darse registry ...")
        return password
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Password (again): "):
        raise DarseError("the two passwords differ", "type the same password twice")
    return first


def _htpasswd_path(folder: Path | None, htpasswd: Path | None) -> tuple[Path, Path | None]:
    """(htpasswd file, registry service folder or None)."""
    from darse.registry.scaffold import HTPASSWD, find_registry_folder

    if htpasswd is not None:
        return htpasswd, folder
    found = find_registry_folder(folder)
    return found / HTPASSWD, found


def _restart_note(service_folder: Path | None, restart: bool, as_json: dict | None) -> None:
    from darse.registry.scaffold import restart_if_running

    if service_folder is None or not restart:
        return
    restarted = restart_if_running(service_folder)
    if as_json is not None:
        as_json["restarted"] = restarted
    elif restarted:
        out.print(
            f"restarted the running registry service in {escape(str(service_folder))} (it reads htpasswd at start)"
        )
    else:
        out.print("the registry service is not running: it will read the file when it starts")


@user_app.command("add")
def user_add(
    name: str = typer.Argument(..., help="User name."),
    folder: Path = typer.Option(None, "--folder", help="Registry service folder [default: ./registry]."),
    htpasswd: Path = typer.Option(None, "--htpasswd", help="Edit this htpasswd file instead."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from stdin."),
    restart: bool = typer.Option(True, "--restart/--no-restart", help="Restart the running registry."),
    json_flag: bool = typer.Option(False, "--json", help="Machine-readable result."),
) -> None:
    """Add a user (or change its password). The password is read from a prompt or stdin, never argv."""
    from darse.registry.htpasswd import add_user, check_username

    check_username(name)
    path, service_folder = _htpasswd_path(folder, htpasswd)
    existed = add_user(path, name, _read_password(password_stdin))
    result: dict | None = {"user": name, "file": str(path), "changed": existed, "added": not existed}
    if not json_flag:
        out.print(f"{'changed the password of' if existed else 'added'} {escape(name)} in {escape(str(path))}")
        result = None
    _restart_note(service_folder, restart, result)
    if result is not None:
        sys.stdout.write(json.dumps(result) + "\n")


@user_app.command("remove")
def user_remove(
    name: str = typer.Argument(..., help="User name."),
    folder: Path = typer.Option(None, "--folder", help="Registry service folder [default: ./registry]."),
    htpasswd: Path = typer.Option(None, "--htpasswd", help="Edit this htpasswd file instead."),
    restart: bool = typer.Option(True, "--restart/--no-restart", help="Restart the running registry."),
    json_flag: bool = typer.Option(False, "--json", help="Machine-readable result."),
) -> None:
    """Remove a user from the htpasswd file."""
    from darse.registry.htpasswd import remove_user

    path, service_folder = _htpasswd_path(folder, htpasswd)
    remove_user(path, name)
    result: dict | None = {"user": name, "file": str(path), "removed": True}
    if not json_flag:
        out.print(f"removed {escape(name)} from {escape(str(path))}")
        result = None
    _restart_note(service_folder, restart, result)
    if result is not None:
        sys.stdout.write(json.dumps(result) + "\n")


@user_app.command("list")
def user_list(
    folder: Path = typer.Option(None, "--folder", help="Registry service folder [default: ./registry]."),
    htpasswd: Path = typer.Option(None, "--htpasswd", help="Read this htpasswd file instead."),
    json_flag: bool = typer.Option(False, "--json", help="Machine-readable result."),
) -> None:
    """List the users (names only; hashes are never shown)."""
    from darse.registry.htpasswd import list_users

    path, _ = _htpasswd_path(folder, htpasswd)
    users = list_users(path)
    if json_flag:
        sys.stdout.write(json.dumps([{"user": n, "bcrypt": ok} for n, ok in users]) + "\n")
        return
    if not users:
        out.print(f"no users in {escape(str(path))}")
    for name, ok in users:
        out.print(escape(name) + ("" if ok else "  (not bcrypt: the registry rejects it; set it again)"))


def register(app: typer.Typer) -> None:
    app.add_typer(registry_app, name="registry")
