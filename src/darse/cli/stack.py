"""`darse stack`: deploy, status, scale, rollback and rm for services whose target is a Swarm."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from darse import api
from darse.cli.output import print_json, print_summary, progress_display
from darse.errors import DarseError

app = typer.Typer(help="Run service folders on a Docker Swarm (services whose darse.toml target is a Swarm).")
console = Console(highlight=False)


@app.command("deploy")
def deploy(
    services: list[str] = typer.Argument(None, help="Service folders (default: every Swarm-target service)."),
    timeout: float = typer.Option(300, "--timeout", help="Seconds to wait for the stack to converge."),
    force: bool = typer.Option(False, "--force", help="Deploy despite lint errors or tasks no node could run."),
    allow_dirty: bool = typer.Option(False, "--allow-dirty", help="Deploy uncommitted changes (recorded as dirty)."),
    json_flag: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Deploy services to their Swarm and wait until every service converged (or was rolled back)."""
    ctx = api.open_deployments(Path.cwd())
    with progress_display(not json_flag) as listener:
        report = api.stack_deploy(
            ctx, services, force=force, allow_dirty=allow_dirty, timeout=timeout, listener=listener
        )
    if json_flag:
        print_json(report.to_dict())
    else:
        for result in report.results:
            print_summary(result.summary_lines(), console)
    raise typer.Exit(0 if report.ok else 1)


@app.command("status")
def status(
    services: list[str] = typer.Argument(None, help="Service folders (default: every Swarm-target service)."),
    json_flag: bool = typer.Option(False, "--json", help="Print the status as JSON."),
) -> None:
    """Services of each stack: replicas running/desired and the nodes running them, image, update state,
    failing tasks; replicas lost with a node that is down, and tasks the Swarm cannot place (its reason)."""
    report = api.stack_status(api.open_repository(Path.cwd()), services)
    if json_flag:
        print_json(report.to_dict())
        return
    table = Table()
    for column in ("folder", "service", "replicas", "nodes", "image", "update", "failing tasks"):
        table.add_column(column, overflow="fold")
    for row in report.rows:
        if not row["deployed"]:
            table.add_row(row["service"], "-", "not deployed", "", "", "", "")
            continue
        desired = "global" if row["desired"] is None else str(row["desired"])
        colour = "green" if row["desired"] is None or row["running"] == row["desired"] else "yellow"
        table.add_row(
            escape(row["service"]),
            escape(row["name"]),
            f"[{colour}]{row['running']}/{desired}[/]",
            escape(_nodes(row)),
            escape(row["image"]),
            escape(row["update"]),
            escape("; ".join(row["failing"])),
        )
    console.print(table)
    for target, node in report.down:
        console.print(f"[red]node {escape(node.hostname)} of {escape(target)} is down[/]", highlight=False)
    for row in report.rows:
        for line in row.get("problems", []):
            console.print(f"[yellow]warning:[/] {escape(line)}", highlight=False, soft_wrap=True)


def _nodes(row: dict) -> str:
    """`vm ×2, worker-01 ×1`: where the running replicas are."""
    counts: dict[str, int] = {}
    for task in row["tasks"]:
        if task["state"] == "running" and task["node_state"] != "down":
            counts[task["node"] or "?"] = counts.get(task["node"] or "?", 0) + 1
    return ", ".join(f"{node} ×{count}" for node, count in sorted(counts.items()))


@app.command("scale")
def scale(
    assignment: str = typer.Argument(..., metavar="SERVICE[/NAME]=N", help="A folder (and its stack member) and N."),
    timeout: float = typer.Option(300, "--timeout", help="Seconds to wait for the replicas to run."),
    detach: bool = typer.Option(False, "--detach", help="Do not wait: the Swarm converges in the background."),
    json_flag: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Set the number of replicas of a Swarm service (recorded in the history), and wait until they run."""
    target, sep, count = assignment.rpartition("=")
    if not sep or not target or not count.strip().isdigit():
        raise DarseError(f"cannot read {assignment!r}", "write SERVICE=N or SERVICE/NAME=N, e.g. wiki/web=3")
    replicas = api.check_replicas(count)
    ctx = api.open_deployments(Path.cwd())
    with progress_display(not json_flag) as listener:
        result = api.stack_scale(ctx, target, replicas, wait=not detach, timeout=timeout, listener=listener)
    if json_flag:
        print_json(result.to_dict())
    else:
        print_summary(result.summary_lines(), console)
    raise typer.Exit(0 if result.ok else 1)


@app.command("rollback")
def rollback(
    service: str = typer.Argument(..., metavar="SERVICE[/NAME]", help="A folder, or one member of its stack."),
    timeout: float = typer.Option(300, "--timeout", help="Seconds to wait for the rollback."),
) -> None:
    """The Swarm's rollback to each service's previous spec, waited for."""
    repository = api.open_repository(Path.cwd())
    with progress_display(True) as listener:
        convergence = api.stack_rollback(repository, service, timeout, listener)
    for outcome in convergence.services:
        colour = "green" if outcome.ok else "red"
        console.print(f"[{colour}]{escape(outcome.name)}[/]: {escape(outcome.state)} {escape(outcome.detail)}")
    raise typer.Exit(0 if convergence.ok else 1)


@app.command("rm")
def rm(service: str = typer.Argument(..., help="The service folder whose stack to remove.")) -> None:
    """Remove a service's stack (services, networks, secrets); named volumes are kept."""
    stack = api.stack_remove(api.open_deployments(Path.cwd()), service)
    console.print(f"stack {escape(stack)} removed; its volumes are kept")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="stack")
