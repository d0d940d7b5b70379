"""`darse registry ...`: the private registry as a service of the repository, and what it holds.

Arguments are parsed and passwords and confirmations asked for here; the work is
`darse.images.registry.commands`, whose results are rendered here (their `to_dict()` for `--json`).
"""

from __future__ import annotations

import getpass
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from darse import api
from darse.cli.output import print_json
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


def _restart_note(service_folder: Path | None, restarted: bool | None) -> None:
    if restarted is None:
        return
    if restarted:
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
    cost: int = typer.Option(10, "--cost", help="bcrypt cost (the registry pays it on every request).", min=4, max=14),
    restart: bool = typer.Option(True, "--restart/--no-restart", help="Restart the running registry."),
    json_flag: bool = typer.Option(False, "--json", help="Machine-readable result."),
) -> None:
    """Add a user (or change its password). The password is read from a prompt or stdin, never argv."""
    api.check_registry_user_name(name)
    location = api.locate_registry_users(folder, htpasswd)
    password = _read_password(password_stdin)
    if json_flag:
        print_json(api.add_registry_user(location, name, password, cost=cost, restart=restart).to_dict(), indent=None)
        return
    result = api.add_registry_user(location, name, password, cost=cost, restart=False)
    verb = "changed the password of" if result.existed else "added"
    out.print(f"{verb} {escape(name)} in {escape(str(result.file))}")
    _restart_note(location.service_folder, api.restart_registry(location, restart))


@user_app.command("remove")
def user_remove(
    name: str = typer.Argument(..., help="User name."),
    folder: Path = typer.Option(None, "--folder", help="Registry service folder [default: ./registry]."),
    htpasswd: Path = typer.Option(None, "--htpasswd", help="Edit this htpasswd file instead."),
    restart: bool = typer.Option(True, "--restart/--no-restart", help="Restart the running registry."),
    json_flag: bool = typer.Option(False, "--json", help="Machine-readable result."),
) -> None:
    """Remove a user from the htpasswd file."""
    location = api.locate_registry_users(folder, htpasswd)
    if json_flag:
        print_json(api.remove_registry_user(location, name, restart=restart).to_dict(), indent=None)
        return
    result = api.remove_registry_user(location, name, restart=False)
    out.print(f"removed {escape(name)} from {escape(str(result.file))}")
    _restart_note(location.service_folder, api.restart_registry(location, restart))


@user_app.command("list")
def user_list(
    folder: Path = typer.Option(None, "--folder", help="Registry service folder [default: ./registry]."),
    htpasswd: Path = typer.Option(None, "--htpasswd", help="Read this htpasswd file instead."),
    json_flag: bool = typer.Option(False, "--json", help="Machine-readable result."),
) -> None:
    """List the users (names only; hashes are never shown)."""
    location = api.locate_registry_users(folder, htpasswd)
    users = api.list_registry_users(location)
    if json_flag:
        print_json([entry.to_dict() for entry in users], indent=None)
        return
    if not users:
        out.print(f"no users in {escape(str(location.file))}")
    for entry in users:
        note = "" if entry.bcrypt else "  (not bcrypt: the registry rejects it; set it again)"
        out.print(escape(entry.user) + note)


@registry_app.command("init")
def init(
    folder: Path = typer.Argument(Path("registry"), help="The service folder to create."),
    host: str = typer.Option(
        None, "--host", help="Public name [default: registry in darse.toml, or registry.<domain>]."
    ),
    own_tls: bool = typer.Option(False, "--own-tls", help="No Traefik here: serve HTTPS with certificate files."),
    port: int = typer.Option(443, "--port", help="Host port with --own-tls.", min=1, max=65535),
    json_flag: bool = typer.Option(False, "--json", help="List the files written as JSON."),
) -> None:
    """Scaffold a lint-clean registry:2 service: named volume, deletion, htpasswd, HTTPS."""

    result = api.init_registry(folder, host=host, own_tls=own_tls, port=port)
    if json_flag:
        print_json(result.to_dict(), indent=None)
        return
    for path in result.files:
        out.print(f"wrote {escape(str(path))}")
    out.print(
        f"next: darse registry user add NAME --folder {escape(str(folder))}; "
        f"cd {escape(str(folder))} && docker compose up -d; docker login {escape(result.host)}"
    )


@registry_app.command("ls")
def ls(
    repository: str = typer.Argument(None, help="One repository (default: every repository of the catalog)."),
    registry: str = typer.Option(None, "--registry", help="Registry host [default: registry in darse.toml]."),
    workers: int = typer.Option(8, "--workers", help="Concurrent requests.", min=1, max=32),
    json_flag: bool = typer.Option(False, "--json", help="Machine-readable listing."),
) -> None:
    """List repositories, tags, digests, sizes and build times (from the image labels)."""

    with api.open_registry(registry) as client:
        rows = api.list_registry(client, repository, workers=workers)
    if json_flag:
        print_json([row.to_dict() for row in rows])
        return
    from rich.table import Table

    from darse.cli.output import human_size

    table = Table(box=None)
    for column in ("repository", "tag", "digest", "size", "created"):
        table.add_column(column)
    for row in rows:
        table.add_row(escape(row.repository), escape(row.tag), row.digest[:19], human_size(row.size), row.created)
    out.print(table)


@registry_app.command("rm")
def rm(
    reference: str = typer.Argument(..., help="REPOSITORY:TAG to delete (by its digest)."),
    registry: str = typer.Option(None, "--registry", help="Registry host [default: registry in darse.toml]."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    json_flag: bool = typer.Option(False, "--json", help="Machine-readable result."),
) -> None:
    """Delete a tag's manifest by digest: every tag on that digest goes with it (you are told which)."""

    repository, tag = api.split_tag_reference(reference)
    with api.open_registry(registry) as client:
        removal = api.plan_registry_removal(client, repository, tag)
        if not yes:
            if not sys.stdin.isatty():
                raise DarseError(f"deleting {removal.digest} would remove {removal.names}", "confirm with --yes")
            out.print(
                f"deleting {escape(repository)}@{removal.digest} removes every tag on it: {escape(removal.names)}"
            )
            if not typer.confirm("Delete?", default=False):
                raise typer.Exit(1)
        api.remove_from_registry(client, removal)
    if json_flag:
        print_json(removal.to_dict(), indent=None)
        return
    out.print(
        f"deleted {escape(repository)}@{removal.digest} ({escape(removal.names)}); "
        "free the space with darse registry gc"
    )


@registry_app.command("gc")
def gc(
    folder: Path = typer.Option(None, "--folder", help="Registry service folder [default: ./registry]."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only say what would be freed."),
    untagged: bool = typer.Option(False, "--delete-untagged", help="Also delete manifests no tag points at."),
    json_flag: bool = typer.Option(False, "--json", help="Machine-readable result."),
) -> None:
    """Free the layers no manifest references, inside the running registry service."""

    result = api.collect_registry_garbage(folder, dry_run=dry_run, untagged=untagged)
    if json_flag:
        print_json(result.to_dict(), indent=None)
        return
    verb = "would free" if dry_run else "freed"
    out.print(f"{verb} {result.blobs} blobs in {escape(str(result.folder))}")


def register(app: typer.Typer) -> None:
    app.add_typer(registry_app, name="registry")
