"""`darse status` and `darse history`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from darse.deploy.context import DeployContext
from darse.engine.compose import project_name


def status(json_flag: bool = typer.Option(False, "--json", help="Print the table as JSON.")) -> None:
    """Every service: deployed commit, HEAD, drift, containers, last deployment."""
    from darse.deploy.status import status as compute

    ctx = DeployContext.open(Path.cwd())
    rows = compute(ctx)
    if json_flag:
        head = rows[0].head if rows else ""
        data = {"head": head, "services": [row.public() for row in rows]}
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        return
    table = Table(title=f"HEAD {rows[0].head[:12]}" if rows else None)
    for column in ("service", "deployed", "state", "drift", "containers", "last deployment"):
        table.add_column(column, overflow="fold")
    colours = {"in-sync": "green", "drift": "yellow", "degraded": "red", "not-deployed": "dim", "unknown": "red"}
    for row in rows:
        drift = []
        if row.changed_files:
            drift.append(f"{len(row.changed_files)} file(s): {', '.join(row.changed_files[:3])}")
        if row.config_drift:
            drift.append("containers differ from the recorded config")
        last = f"{row.last_time} {row.last_action} {row.last_outcome}" if row.last_action else ""
        table.add_row(
            escape(row.service),
            row.deployed_revision[:12] or "-",
            f"[{colours.get(row.state, 'white')}]{row.state}[/]",
            escape("; ".join(drift)),
            f"{row.running}/{row.total} running, {row.healthy} healthy" if row.total else "none",
            escape(last),
        )
    console = Console()
    console.print(table)
    for row in rows:
        for warning in row.warnings:
            console.print(f"[yellow]warning:[/] {escape(row.service)}: {escape(warning)}", highlight=False)


def history(
    service: str = typer.Argument(..., help="The service whose deployments to list."),
    limit: int = typer.Option(20, "--limit", "-n", min=1, help="Show the N newest records."),
    json_flag: bool = typer.Option(False, "--json", help="Print the records as JSON."),
) -> None:
    """Every deployment attempt of a service, newest first."""
    ctx = DeployContext.open(Path.cwd())
    chosen = ctx.service(service)
    project = project_name(chosen.name)  # the record of a project two folders share is still shown
    records = ctx.history.list(project, limit)
    if json_flag:
        sys.stdout.write(json.dumps([r.public() for r in records], indent=2) + "\n")
        return
    table = Table(title=f"{chosen.name} (project {project})")
    for column in ("#", "started", "action", "revision", "outcome", "config", "user", "message"):
        table.add_column(column, overflow="fold")
    for r in records:
        revision = r.revision[:12] + (" dirty" if r.dirty else "")
        table.add_row(
            str(r.id),
            r.started_at,
            r.action,
            revision,
            r.outcome,
            r.config_hash[7:19],
            escape(r.user),
            escape(r.message),
        )
    Console().print(table)


def register(app: typer.Typer) -> None:
    app.command("status")(status)
    app.command("history")(history)
