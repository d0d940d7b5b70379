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
    from darse.images.registry.scaffold import HTPASSWD, find_registry_folder

    if htpasswd is not None:
        return htpasswd, folder
    found = find_registry_folder(folder)
    return found / HTPASSWD, found


def _restart_note(service_folder: Path | None, restart: bool, as_json: dict | None) -> None:
    from darse.images.registry.scaffold import restart_if_running

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
    cost: int = typer.Option(10, "--cost", help="bcrypt cost (the registry pays it on every request).", min=4, max=14),
    restart: bool = typer.Option(True, "--restart/--no-restart", help="Restart the running registry."),
    json_flag: bool = typer.Option(False, "--json", help="Machine-readable result."),
) -> None:
    """Add a user (or change its password). The password is read from a prompt or stdin, never argv."""
    from darse.images.registry.htpasswd import add_user, check_username

    check_username(name)
    path, service_folder = _htpasswd_path(folder, htpasswd)
    existed = add_user(path, name, _read_password(password_stdin), cost)
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
    from darse.images.registry.htpasswd import remove_user

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
    from darse.images.registry.htpasswd import list_users

    path, _ = _htpasswd_path(folder, htpasswd)
    users = list_users(path)
    if json_flag:
        sys.stdout.write(json.dumps([{"user": n, "bcrypt": ok} for n, ok in users]) + "\n")
        return
    if not users:
        out.print(f"no users in {escape(str(path))}")
    for name, ok in users:
        out.print(escape(name) + ("" if ok else "  (not bcrypt: the registry rejects it; set it again)"))


def _client(registry: str | None):
    from darse.config import load_config
    from darse.images.registry.client import RegistryClient
    from darse.images.registry.credentials import ca_bundle_for, resolve_credentials
    from darse.model.repository import find_root

    host = registry or load_config(find_root(Path.cwd())).registry
    if not host:
        raise DarseError("no registry given", 'pass --registry HOST or set registry = "HOST" in darse.toml')
    return RegistryClient(host, credentials=resolve_credentials(host), ca_bundle=ca_bundle_for(host))


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
    from darse.config import load_config
    from darse.images.registry.scaffold import scaffold
    from darse.model.repository import find_root

    config = load_config(find_root(Path.cwd()))
    name = host or config.registry or (f"registry.{config.domain}" if config.domain else "")
    if not name:
        raise DarseError("no registry host name", "pass --host registry.example.org (or set domain in darse.toml)")
    written = scaffold(folder, host=name, network=config.proxy_network, own_tls=own_tls, port=port)
    if json_flag:
        sys.stdout.write(json.dumps({"host": name, "files": [str(p) for p in written]}) + "\n")
        return
    for path in written:
        out.print(f"wrote {escape(str(path))}")
    out.print(
        f"next: darse registry user add NAME --folder {escape(str(folder))}; "
        f"cd {escape(str(folder))} && docker compose up -d; docker login {escape(name)}"
    )


@registry_app.command("ls")
def ls(
    repository: str = typer.Argument(None, help="One repository (default: every repository of the catalog)."),
    registry: str = typer.Option(None, "--registry", help="Registry host [default: registry in darse.toml]."),
    workers: int = typer.Option(8, "--workers", help="Concurrent requests.", min=1, max=32),
    json_flag: bool = typer.Option(False, "--json", help="Machine-readable listing."),
) -> None:
    """List repositories, tags, digests, sizes and build times (from the image labels)."""
    from darse.images.registry.listing import list_images

    with _client(registry) as client:
        rows = list_images(client, [repository] if repository else None, workers=workers)
    if json_flag:
        sys.stdout.write(json.dumps([row.as_json() for row in rows], indent=2) + "\n")
        return
    from rich.table import Table

    from darse.cli.build import _human_size

    table = Table(box=None)
    for column in ("repository", "tag", "digest", "size", "created"):
        table.add_column(column)
    for row in rows:
        table.add_row(escape(row.repository), escape(row.tag), row.digest[:19], _human_size(row.size), row.created)
    out.print(table)


@registry_app.command("rm")
def rm(
    reference: str = typer.Argument(..., help="REPOSITORY:TAG to delete (by its digest)."),
    registry: str = typer.Option(None, "--registry", help="Registry host [default: registry in darse.toml]."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    json_flag: bool = typer.Option(False, "--json", help="Machine-readable result."),
) -> None:
    """Delete a tag's manifest by digest: every tag on that digest goes with it (you are told which)."""
    from darse.images.registry.listing import tags_sharing

    repository, sep, tag = reference.rpartition(":")
    if not sep or not repository or "/" in tag:
        raise DarseError(f"not REPOSITORY:TAG: {reference[:80]!r}", "e.g. darse registry rm pad:2.0.3")
    with _client(registry) as client:
        digest = client.manifest_digest(repository, tag)
        if digest is None:
            raise DarseError(f"no tag {reference} at {client.host}", "list them with darse registry ls")
        doomed = tags_sharing(client, repository, digest)
        names = ", ".join(f"{repository}:{t}" for t in doomed)
        if not yes:
            if not sys.stdin.isatty():
                raise DarseError(f"deleting {digest} would remove {names}", "confirm with --yes")
            out.print(f"deleting {escape(repository)}@{digest} removes every tag on it: {escape(names)}")
            if not typer.confirm("Delete?", default=False):
                raise typer.Exit(1)
        client.delete_manifest(repository, digest)
    if json_flag:
        sys.stdout.write(json.dumps({"repository": repository, "digest": digest, "tags": doomed}) + "\n")
        return
    out.print(f"deleted {escape(repository)}@{digest} ({escape(names)}); free the space with darse registry gc")


@registry_app.command("gc")
def gc(
    folder: Path = typer.Option(None, "--folder", help="Registry service folder [default: ./registry]."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only say what would be freed."),
    untagged: bool = typer.Option(False, "--delete-untagged", help="Also delete manifests no tag points at."),
    json_flag: bool = typer.Option(False, "--json", help="Machine-readable result."),
) -> None:
    """Free the layers no manifest references, inside the running registry service."""
    from darse.images.registry.scaffold import find_registry_folder, garbage_collect

    found = find_registry_folder(folder)
    text = garbage_collect(found, dry_run=dry_run, untagged=untagged)
    eligible = [line for line in text.splitlines() if "blob eligible for deletion" in line]
    if json_flag:
        sys.stdout.write(json.dumps({"folder": str(found), "dry_run": dry_run, "blobs": len(eligible)}) + "\n")
        return
    verb = "would free" if dry_run else "freed"
    out.print(f"{verb} {len(eligible)} blobs in {escape(str(found))}")


def register(app: typer.Typer) -> None:
    app.add_typer(registry_app, name="registry")
