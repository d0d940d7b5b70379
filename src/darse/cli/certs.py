"""`darse certs`: Traefik's certificates handed to services that are not web services (docs/certs.md)."""

from __future__ import annotations

import typer
from rich.console import Console

certs_app = typer.Typer(
    help="Traefik's certificates for TLS services that are not web services (LDAPS, mail, ...; docs/certs.md).",
    no_args_is_help=True,
)
out = Console(highlight=False)
err = Console(stderr=True, highlight=False, soft_wrap=True)


# --- sync, watch, status --------------------------------------------------------------------------------


# --- init -----------------------------------------------------------------------------------------------


def register(app: typer.Typer) -> None:
    app.add_typer(certs_app, name="certs")
