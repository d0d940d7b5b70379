"""`darse new NAME`: scaffold a service folder, then lint it and say what to do next."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from darse.lint.linter import Linter
from darse.model.repository import find_root, open_repository
from darse.scaffold import create_service, validate
from darse.scaffold.databases import DATABASES

DbKind = StrEnum("DbKind", {kind: kind for kind in DATABASES})


def new(
    name: str = typer.Argument(..., help="The service's folder name (lowercase, digits, - and _)."),
    image: str = typer.Option(..., "--image", help="The image to run, IMAGE:TAG with a pinned tag."),
    web: int = typer.Option(None, "--web", help="Publish this container port through Traefik (no host port)."),
    host: str = typer.Option(None, "--host", help="Host name for --web (default: NAME.DOMAIN, DOMAIN in darse.toml)."),
    db: DbKind = typer.Option(None, "--db", help="Add a database on its own network, with linked secrets."),
    dockerfile: bool = typer.Option(False, "--dockerfile", help="Add a Dockerfile FROM the image and a CHANGELOG."),
    app_version: str = typer.Option(
        None,
        "--app-version",
        metavar="VERSION",
        help="With --dockerfile: the release the Dockerfile downloads onto --image, a pinned base (tag VERSION-1).",
    ),
    json_flag: bool = typer.Option(False, "--json", help="Print a JSON report."),
) -> None:
    """Create a service folder that passes darse lint: compose.yaml, example secrets, README."""
    parent = Path.cwd()
    root = find_root(parent)
    repository = open_repository(root)
    options = validate(
        name, image, web, host, db.value if db else None, dockerfile, repository.config, app_version=app_version
    )
    created = create_service(repository, parent, options)
    service_repo = open_repository(root, under=created.path)
    result = Linter(service_repo.config, service_repo).lint_services(service_repo.services)
    relative = service_repo.relative(created.path)
    if json_flag:
        document = {
            "schema": 1,
            "service": relative,
            "files": [f"{relative}/{f}" for f in created.files],
            "gitignore_fixed": created.gitignore_fixed,
            "lint_findings": len(result.findings),
        }
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
        return
    console = Console(highlight=False, soft_wrap=True)
    console.print(f"[green]created[/] {escape(relative)}/")
    for file in created.files:
        console.print(f"  {escape(file)}")
    if created.gitignore_fixed:
        console.print("[green]fixed[/]   .gitignore  (real secret files are ignored)")
    if result.findings:
        from darse.lint.report.as_text import render_text

        console.print("[yellow]darse lint reports these about the chosen image:[/]")
        render_text(result, console)
    else:
        console.print("darse lint: no problems")
    console.print(f"next: darse secrets init {escape(options.name)} && darse up {escape(options.name)}")


def register(app: typer.Typer) -> None:
    app.command("new")(new)
