"""`darse status` and `darse history`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from darse import api
from darse.cli.output import print_json


def status(json_flag: bool = typer.Option(False, "--json", help="Print the table as JSON.")) -> None:
    """Every service: deployed commit, HEAD, drift, containers, last deployment. Exit code 1 when a
    target did not answer (every other row still printed and exact), 2 when darse cannot run at all."""
    report = api.status(api.open_deployments(Path.cwd()))
    if json_flag:
        print_json(report.to_dict())
        _say_unreachable(report)
        raise typer.Exit(0 if report.complete else 1)
    rows = report.rows
    table = Table(title=f"HEAD {report.head[:12]}" if rows else None)
    for column in ("service", "deployed", "state", "drift", "containers", "last deployment"):
        table.add_column(column, overflow="fold")
    colours = {
        "in-sync": "green",
        "drift": "yellow",
        "degraded": "red",
        "not-deployed": "dim",
        "down": "dim",
        "deploying": "cyan",
        "unreachable": "red",
        "unknown": "red",
    }
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
            _containers(row),
            escape(last),
        )
    console = Console()
    console.print(table)
    for row in rows:
        for warning in row.warnings:
            console.print(f"[yellow]warning:[/] {escape(row.service)}: {escape(warning)}", highlight=False)
    _say_unreachable(report)
    raise typer.Exit(0 if report.complete else 1)


def _say_unreachable(report: Any) -> None:
    """One line on stderr per target that did not answer (what a cron job mails), JSON or not."""
    console = Console(stderr=True)
    for target in report.unreachable:
        hint = f" ({escape(target.hint)})" if target.hint else ""
        console.print(
            f"[red]error:[/] target {escape(target.target)} did not answer: {escape(target.message)}{hint}; "
            f"unreachable: {escape(', '.join(target.services))}",
            highlight=False,
            soft_wrap=True,
        )


def _containers(row: Any) -> str:
    if row.state == "unreachable":
        return "not known"
    return f"{row.running}/{row.total} running, {row.healthy} healthy" if row.total else "none"


def history(
    service: str = typer.Argument(..., help="The service whose deployments to list."),
    limit: int = typer.Option(20, "--limit", "-n", min=1, help="Show the N newest records."),
    json_flag: bool = typer.Option(False, "--json", help="Print the records as JSON."),
) -> None:
    """Every deployment attempt of a service, newest first."""
    report = api.history(api.open_deployments(Path.cwd()), service, limit)
    if json_flag:
        print_json(report.to_dict())
        return
    table = Table(title=f"{report.service} (project {report.project})")
    for column in ("#", "started", "action", "revision", "outcome", "config", "user", "message"):
        table.add_column(column, overflow="fold")
    for r in report.records:
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
