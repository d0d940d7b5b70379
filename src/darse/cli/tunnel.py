"""`darse tunnel`: a local port to a container nobody publishes (docs/tunnel.md)."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from darse import api
from darse.cli.output import print_json


class _TunnelGroup(TyperGroup):
    """`darse tunnel NAME...` opens tunnels; `ls` and `stop` are commands."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["open", *args]
        return super().parse_args(ctx, args)


tunnel_app = typer.Typer(
    cls=_TunnelGroup,
    help=(
        "A local port to a service's container, on the local engine or an ssh:// host (docs/tunnel.md). "
        "`darse tunnel NAME... [--to SERVICE] [--port N] [--local [ADDR:]PORT] [--background] [--json]` "
        "(a service folder or a [tunnels.NAME] alias; `darse tunnel open --help` for details); `ls`; `stop`."
    ),
    no_args_is_help=True,
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


@tunnel_app.command("open", hidden=True)
def open_(
    names: list[str] = typer.Argument(..., help="Service folders or [tunnels.NAME] aliases of darse.toml."),
    to: str = typer.Option(None, "--to", help="The Compose service (needed when the folder has several)."),
    port: int = typer.Option(None, "--port", min=1, max=65535, help="The container port (needed when several)."),
    local: str = typer.Option(None, "--local", help="Listen on [ADDR:]PORT (default: a free port of 127.0.0.1)."),
    background: bool = typer.Option(False, "--background", help="Leave the tunnels to a detached darse process."),
    json_flag: bool = typer.Option(False, "--json", help="Machine-readable result (once ready)."),
) -> None:
    """Open tunnels: listen locally and carry each connection to the service's container; ready once a
    connection went through. Runs until Ctrl-C (or `darse tunnel stop`), opening them again after a drop."""
    if background:
        entries = api.start_background(Path.cwd(), names, to=to, port=port, local=local)
        if json_flag:
            print_json({"tunnels": [e.to_dict() for e in entries]})
            return
        for entry in entries:
            _print_ready(entry.name, entry.local, entry.folder, entry.service, entry.hint)
        out.print("[dim]in the background: `darse tunnel ls`, `darse tunnel stop NAME`[/]")
        return

    def ready(plans: list[Any]) -> None:
        if json_flag:
            print_json({"tunnels": [p.to_dict() for p in plans]})
        else:
            for plan in plans:
                _print_ready(plan.name, plan.local_address, plan.folder, plan.service, plan.hint)
            out.print("[dim]Ctrl-C to close[/]")
        out.file.flush()

    def log(line: str) -> None:
        err.print(f"[dim]{escape(line)}[/]")

    with _stopped_by_signals() as stop:
        api.run_tunnels(Path.cwd(), names, stop, to=to, port=port, local=local, log=log, ready=ready)


def _print_ready(name: str, local: str, folder: str, service: str, hint: str) -> None:
    out.print(f"[green]✓[/] {escape(name)}: {escape(local)} → {escape(folder)} {escape(service)}")
    if hint:
        out.print(f"  {escape(hint)}")


@contextlib.contextmanager
def _stopped_by_signals() -> Iterator[threading.Event]:
    """An event set by Ctrl-C or SIGTERM: the tunnels close cleanly instead of the process dying mid-way."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, lambda *_: stop.set())
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@tunnel_app.command("ls")
def ls(json_flag: bool = typer.Option(False, "--json", help="Machine-readable list.")) -> None:
    """The tunnels open on this host (a tunnel whose process is gone, e.g. after a reboot, is dropped)."""
    entries = api.list_tunnels(Path.cwd())
    if json_flag:
        print_json({"tunnels": [e.to_dict() for e in entries]})
        return
    if not entries:
        out.print("no tunnel open")
        return
    for entry in entries:
        where = "background" if entry.background else "foreground"
        out.print(
            f"{escape(entry.name)}  {escape(entry.local)} → {escape(entry.folder)} {escape(entry.service)} "
            f"({escape(entry.target)})  pid {entry.pid} {where}, since {escape(entry.started)}"
        )


@tunnel_app.command("stop")
def stop(
    names: list[str] = typer.Argument(None, help="Tunnel names, as `darse tunnel ls` shows them."),
    every: bool = typer.Option(False, "--all", help="Every tunnel open on this host."),
    json_flag: bool = typer.Option(False, "--json", help="Machine-readable result."),
) -> None:
    """End tunnels: their darse process closes them (and ends when it holds no other)."""
    stopped = api.stop_tunnels(Path.cwd(), names or [], every=every)
    if json_flag:
        print_json({"stopped": [e.name for e in stopped]})
        return
    for entry in stopped:
        out.print(f"[green]✓[/] {escape(entry.name)} closed ({escape(entry.local)})")
    if not stopped:
        out.print("no tunnel open")


def register(app: typer.Typer) -> None:
    app.add_typer(tunnel_app, name="tunnel")
