"""`darse certs`: Traefik's certificates handed to services that are not web services (docs/certs.md)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from darse import api
from darse.cli.output import print_json

certs_app = typer.Typer(
    help="Traefik's certificates for TLS services that are not web services (LDAPS, mail, ...; docs/certs.md).",
    no_args_is_help=True,
)
out = Console(highlight=False)
err = Console(stderr=True, highlight=False, soft_wrap=True)


# --- sync, watch, status --------------------------------------------------------------------------------

ACME_HELP = "Traefik's acme.json [default: darse.toml's [certs] acme]."
RESOLVER_HELP = "Take certificates of this resolver only [default: darse.toml's [certs] resolver, else any]."
_MARKS = {"installed": "[green]✓[/]", "unchanged": "[dim]=[/]", "not-deployed": "[yellow]-[/]"}


@certs_app.command("sync")
def sync(
    folders: list[str] = typer.Argument(None, help="Service folders to sync [default: every consumer]."),
    acme: Path = typer.Option(None, "--acme", help=ACME_HELP),
    resolver: str = typer.Option(None, "--resolver", help=RESOLVER_HELP),
    dry_run: bool = typer.Option(False, "--dry-run", help="Compare and say, write and reload nothing."),
    json_flag: bool = typer.Option(False, "--json", help="Machine-readable result."),
) -> None:
    """Hand each consumer the certificate acme.json holds for its domains, and reload it when its
    certificate changed. Exit 1 when a consumer has no valid certificate or a write or reload failed."""
    report = api.sync_certificates(Path.cwd(), acme=acme, resolver=resolver, only=folders or (), dry_run=dry_run)
    if json_flag:
        print_json(report.to_dict(), indent=None)
    else:
        for consumer in report.consumers:
            mark = _MARKS.get(consumer.outcome, "[red]✗[/]")
            out.print(f"{mark} {escape(consumer.line())}")
        for skipped in report.skipped:
            err.print(f"acme.json: skipped {escape(skipped)}")
    if not report.ok:
        raise typer.Exit(1)


# --- init -----------------------------------------------------------------------------------------------


def register(app: typer.Typer) -> None:
    app.add_typer(certs_app, name="certs")
