"""`darse node`: the nodes of a Swarm target and their maintenance (docs/swarm.md, "Nodes")."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from darse import api
from darse.cli.output import print_json, progress_display

app = typer.Typer(help="A Swarm's nodes: ls, drain, activate, promote, demote (with the quorum kept in mind).")
console = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

TARGET = typer.Option(None, "--target", help="The Swarm target of darse.toml (default: the only one).")
JSON = typer.Option(False, "--json", help="Print the result as JSON.")
NODE = typer.Argument(..., help="The node's hostname or ID (as `darse node ls` shows it).")


@app.command("ls")
def ls(target: str = TARGET, json_flag: bool = JSON) -> None:
    """Every node: role, availability, state, manager status, tasks running; the managers' quorum."""
    report = api.list_nodes(api.open_repository(Path.cwd()), target)
    if json_flag:
        print_json(report.to_dict())
        return
    table = Table()
    for column in ("hostname", "role", "availability", "state", "manager", "tasks", "address", "id"):
        table.add_column(column, overflow="fold")
    for row in report.to_dict()["nodes"]:
        colour = "green" if row["state"] == "ready" else "red"
        table.add_row(
            escape(row["hostname"]), row["role"], row["availability"], f"[{colour}]{escape(row['state'])}[/]",
            escape(row["manager_status"] or ""), str(row["tasks"]), escape(row["address"]), row["id"][:12],
        )  # fmt: skip
    console.print(table)
    managers = report.to_dict()["managers"]
    console.print(
        f"managers: {managers['reachable']} of {managers['total']} reachable (a majority is {managers['majority']})"
    )
    _warn(report.warnings)


@app.command("drain")
def drain(
    node: str = NODE,
    target: str = TARGET,
    wait: bool = typer.Option(True, "--wait/--no-wait", help="Wait until its tasks run elsewhere."),
    timeout: float = typer.Option(300, "--timeout", help="Seconds to wait for the tasks to move."),
    json_flag: bool = JSON,
) -> None:
    """No new task on NODE, its tasks moved to other nodes (never the last active node); says where."""
    with progress_display(not json_flag) as listener:
        action = api.drain_node(
            api.open_repository(Path.cwd()), node, target_name=target, wait=wait, timeout=timeout, listener=listener
        )
    _done(action, json_flag)


@app.command("activate")
def activate(node: str = NODE, target: str = TARGET, json_flag: bool = JSON) -> None:
    """Tasks may go to NODE again (after a drain; running tasks are not moved back)."""
    _done(api.activate_node(api.open_repository(Path.cwd()), node, target_name=target), json_flag)


@app.command("promote")
def promote(node: str = NODE, target: str = TARGET, json_flag: bool = JSON) -> None:
    """NODE becomes a manager (promote one before taking a manager down)."""
    _done(api.promote_node(api.open_repository(Path.cwd()), node, target_name=target), json_flag)


@app.command("demote")
def demote(node: str = NODE, target: str = TARGET, json_flag: bool = JSON) -> None:
    """NODE becomes a worker (never the last manager; warns when the quorum would be at risk)."""
    _done(api.demote_node(api.open_repository(Path.cwd()), node, target_name=target), json_flag)


def _done(action, json_flag: bool) -> None:
    if json_flag:
        print_json(action.to_dict())
    else:
        verb = {"drain": "drained", "activate": "active", "promote": "a manager", "demote": "a worker"}[action.action]
        mark = "[green]✓[/]" if action.ok else "[yellow]![/]"
        console.print(f"{mark} {escape(action.node)} {'is now' if action.changed else 'already was'} {verb}")
        for move in action.moved:
            slot = f".{move.slot}" if move.slot is not None else ""
            where = f"→ {escape(move.to)}" if move.to else f"[yellow]not placed[/]: {escape(move.reason or 'waiting')}"
            console.print(f"  {escape(move.service)}{slot} {where}")
        if action.waiting:
            console.print(f"  [yellow]still on the node[/]: {escape(', '.join(action.waiting))}")
        _warn(action.warnings)
    raise typer.Exit(0 if action.ok else 1)


def _warn(lines: list[str]) -> None:
    for line in lines:
        err.print(f"[yellow]warning:[/] {escape(line)}")


def register(app_: typer.Typer) -> None:
    app_.add_typer(app, name="node")
