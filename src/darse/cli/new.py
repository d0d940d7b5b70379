"""`darse new NAME`: scaffold a service folder, then lint it and say what to do next."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from darse import api
from darse.cli.output import print_json
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
    tls_domain: list[str] = typer.Option(
        None,
        "--tls-domain",
        metavar="DOMAIN",
        help="A TLS service that is not a web service (LDAPS, mail...): the labels by which Traefik obtains "
        "DOMAIN's certificate and darse certs hands it over, in a volume at /certs (repeatable; docs/certs.md).",
    ),
    json_flag: bool = typer.Option(False, "--json", help="Print a JSON report."),
) -> None:
    """Create a service folder that passes darse lint: compose.yaml, example secrets, README."""
    report = api.new_service(
        Path.cwd(), name, image, web=web, host=host, database=db.value if db else None,
        dockerfile=dockerfile, app_version=app_version, tls_domains=tls_domain or (),
    )  # fmt: skip
    if json_flag:
        print_json(report.to_dict())
        return
    console = Console(highlight=False, soft_wrap=True)
    created, result = report.created, report.lint
    console.print(f"[green]created[/] {escape(report.relative)}/")
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
    console.print(f"next: darse secrets init {escape(report.name)} && darse up {escape(report.name)}")


def register(app: typer.Typer) -> None:
    app.command("new")(new)
