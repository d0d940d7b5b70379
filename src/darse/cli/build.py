"""`darse build` and `darse push`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from darse import api
from darse.cli.output import human_size, print_json, progress_display

out = Console(highlight=False)


def build(
    services: list[str] = typer.Argument(..., help="Service names (folders) whose images to build."),
    allow_dirty: bool = typer.Option(False, "--allow-dirty", help="Build even with uncommitted changes."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Do not use the build cache."),
    registry: str = typer.Option(None, "--registry", help="Registry host [default: registry in darse.toml]."),
    json_flag: bool = typer.Option(False, "--json", help="Print a JSON summary on stdout."),
) -> None:
    """Build each service's images, tagged <registry>/<name>:<CHANGELOG version>, with OCI labels."""
    from darse.images.build import LABEL_REVISION

    with progress_display(not json_flag) as listener:
        results = api.build(
            Path.cwd(), services, registry=registry, allow_dirty=allow_dirty, no_cache=no_cache, listener=listener
        )
    if json_flag:
        print_json([r.to_dict() for r in results])
        return
    table = Table(box=None)
    for column in ("tag", "ID", "size", "duration", "revision"):
        table.add_column(column)
    for r in results:
        table.add_row(
            escape(r.plan.tag),
            r.image_id.removeprefix("sha256:")[:12],
            human_size(r.size, whole_bytes=False),
            f"{r.duration:.1f} s",
            r.labels[LABEL_REVISION][:12],
        )
    out.print(table)


def push(
    services: list[str] = typer.Argument(..., help="Service names whose built images to push."),
    force: bool = typer.Option(False, "--force", help="Overwrite a version already pushed as another image."),
    latest: bool = typer.Option(False, "--latest", help="Also move the latest tag to this version."),
    registry: str = typer.Option(None, "--registry", help="Registry host [default: registry in darse.toml]."),
    json_flag: bool = typer.Option(False, "--json", help="Print a JSON summary on stdout."),
) -> None:
    """Push the version tags `darse build` made. Login: DARSE_REGISTRY_USER/PASSWORD or docker login."""

    with progress_display(not json_flag) as listener:
        results = api.push(Path.cwd(), services, registry=registry, force=force, latest=latest, listener=listener)
    if json_flag:
        print_json([r.to_dict() for r in results])
        return
    for r in results:
        extra = " (and latest)" if r.latest else ""
        out.print(f"{r.status} {escape(r.plan.tag)}{extra}  {r.digest}")


def register(app: typer.Typer) -> None:
    app.command("build")(build)
    app.command("push")(push)
