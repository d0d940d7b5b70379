"""`darse certs`: Traefik's certificates handed to services that are not web services (docs/certs.md)."""

from __future__ import annotations

import datetime as dt
import signal
import threading
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from darse import api
from darse.cli.output import print_json

certs_app = typer.Typer(
    help="Traefik's certificates for TLS services that are not web services (LDAPS, mail, ...; docs/certs.md).",
    no_args_is_help=True,
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


# --- sync, watch, status --------------------------------------------------------------------------------

ACME_HELP = "Traefik's acme.json [default: darse.toml's [certs] acme]."
RESOLVER_HELP = (
    "The resolver whose certificates consumers take, unless their darse.certs.resolver label names one "
    "[default: darse.toml's [certs] resolver, else any]."
)
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


@certs_app.command("watch")
def watch(
    acme: Path = typer.Option(None, "--acme", help=ACME_HELP),
    resolver: str = typer.Option(None, "--resolver", help=RESOLVER_HELP),
    debounce: float = typer.Option(
        0.3, "--debounce", min=0.0, max=60.0, help="Seconds acme.json must stay unchanged before it is read."
    ),
    interval: float = typer.Option(
        300.0, "--interval", min=5.0, help="Seconds between syncs when acme.json does not change."
    ),
    poll: bool = typer.Option(False, "--poll", help="Poll acme.json instead of inotify (network file systems)."),
) -> None:
    """Sync now, then whenever Traefik rewrites acme.json; one line per action on standard output,
    until stopped (Ctrl-C, or SIGTERM from docker stop)."""
    stop = threading.Event()
    previous = {number: signal.signal(number, lambda *_: stop.set()) for number in (signal.SIGTERM, signal.SIGINT)}

    def write(line: str) -> None:
        print(line, flush=True)

    try:
        api.watch_certificates(
            Path.cwd(),
            log=api.stamped_log(write),
            stop=stop,
            acme=acme,
            resolver=resolver,
            debounce=debounce,
            interval=interval,
            poll=poll,
        )
    finally:  # run in-process (tests, the dashboard's server): the caller's handlers come back
        for number, handler in previous.items():
            signal.signal(number, handler)


_VERDICT_STYLE = {"ok": "green", "stale": "yellow", "not-served": "yellow", "unknown": "yellow"}


@certs_app.command("status")
def status(
    acme: Path = typer.Option(None, "--acme", help=ACME_HELP),
    resolver: str = typer.Option(None, "--resolver", help=RESOLVER_HELP),
    days: int = typer.Option(
        None, "--days", min=0, max=365, help="Warn within this many days of expiry [default: [certs] warn_days, 21]."
    ),
    no_probe: bool = typer.Option(False, "--no-probe", help="Do not connect to the published TLS ports."),
    json_flag: bool = typer.Option(False, "--json", help="Machine-readable result."),
) -> None:
    """Every consumer: the certificate in acme.json, in its folder, and served by its process, with the
    days left. Exit 1 when one expires within the threshold or a consumer has none (for cron, monitoring)."""
    report = api.certificate_status(Path.cwd(), acme=acme, resolver=resolver, warn_days=days, probe=not no_probe)
    if json_flag:
        print_json(report.to_dict(), indent=None)
    else:
        _print_status(report)
    if not report.ok:
        raise typer.Exit(1)


def _print_status(report: Any) -> None:
    """`report`: darse.certs.status.CertsStatus."""
    if report.acme_error:
        err.print(f"[red]acme.json:[/] {escape(report.acme_error)}")
    for consumer in report.consumers:
        style = _VERDICT_STYLE.get(consumer.verdict, "red")
        days = "" if consumer.days_left is None else f", {consumer.days_left} days left"
        out.print(
            f"[bold]{escape(consumer.folder)}/{escape(consumer.service)}[/]"
            + (f" ({escape(', '.join(consumer.domains))})" if consumer.domains else "")
            + ": "
            f"[{style}]{consumer.verdict}[/]{days}" + (f" - {escape(consumer.detail)}" if consumer.detail else "")
        )
        for label, facts in (("acme.json", consumer.in_acme), ("folder", consumer.on_disk)):
            out.print(f"  {label:<10} {_facts(facts, report.now)}")
        for served in consumer.served:
            what = _facts(served.certificate, report.now) if served.certificate else f"[red]{escape(served.error)}[/]"
            out.print(f"  {'served':<10} {escape(served.address)} ({served.protocol}): {what}")
    if not report.consumers:
        out.print("no consumer")


def _facts(facts: Any, now: dt.datetime) -> str:
    """`facts`: darse.certs.x509.CertFacts or None."""
    if facts is None:
        return "[dim]none[/]"
    issuer = facts.issuer.split(",")[0]
    return (
        f"{facts.fingerprint[:16]}  until {facts.not_after:%Y-%m-%d} ({facts.days_left(now)} days)  "
        f"{escape(issuer)}"
    )


# --- init -----------------------------------------------------------------------------------------------


@certs_app.command("init")
def certs_init(
    name: str = typer.Option("certs", "--name", help="The service folder to write, at the repository's root."),
    json_flag: bool = typer.Option(False, "--json", help="Machine-readable result."),
) -> None:
    """Write a service folder that runs the watcher (darse certs watch) in a darse image, with the Docker
    socket and acme.json's folder mounted; an existing folder is never overwritten."""
    report = api.init_certs_folder(Path.cwd(), name=name)
    if json_flag:
        print_json(report.to_dict(), indent=None)
        return
    out.print(f"wrote {escape(report.relative)}/: {escape(', '.join(report.files))}")
    findings = len(report.lint.findings)
    out.print(f"darse lint {escape(report.relative)}: " + ("clean" if not findings else f"{findings} finding(s)"))
    out.print(f"it reads {escape(report.options.acme)} (its folder mounted read-only)")
    out.print("[bold]The container holds the Docker socket: root on this host[/] (see its README.md).")
    out.print("next: darse build, push and up " + escape(report.relative))


def register(app: typer.Typer) -> None:
    app.add_typer(certs_app, name="certs")
