"""`darse stack`: deploy, status, scale, rollback and rm for services whose target is a Swarm."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from darse.deploy.context import DeployContext
from darse.errors import DarseError
from darse.model.repository import Repository, find_root, open_repository
from darse.model.service import Service
from darse.swarm.stack import (
    StackResult,
    rollback_stack,
    scale_stack_service,
    stack_status,
    swarm_target,
)

app = typer.Typer(help="Run service folders on a Docker Swarm (services whose darse.toml target is a Swarm).")
console = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def _repository() -> Repository:
    return open_repository(find_root(Path.cwd()))


def _services(repository: Repository, names: list[str] | None, all_: bool = False) -> list[Service]:
    if all_ or not names:
        chosen = [s for s in repository.services if repository.config.target_for(s.name).is_swarm]
        if not chosen:
            raise DarseError("no service of this repository targets a Swarm", 'set target = "NAME" in darse.toml')
        return chosen
    return [repository.service(name) for name in names]


def deploy_services(
    ctx: DeployContext, services: list[Service], *, force: bool, allow_dirty: bool, timeout: float, json_flag: bool
) -> list[StackResult]:
    """Deploy each Swarm-target service (preflight, stack, convergence, history), rendering as it goes."""
    from darse.swarm.deploy import up_on_swarm

    for service in services:
        swarm_target(ctx.repository, service)  # every one a Swarm target, before anything happens
    results: list[StackResult] = []
    for service in services:
        if json_flag:
            results.append(up_on_swarm(ctx, service, force=force, allow_dirty=allow_dirty, timeout=timeout))
            continue
        target = ctx.target_of(service)
        with err.status(f"deploying {service.name} to {target.name}…") as status:

            def progress(states, _status=status, _name=service.name) -> None:
                parts = [f"{s.short} {s.running}/{s.desired if s.desired is not None else 'global'}" for s in states]
                _status.update(f"{_name}: " + (", ".join(parts) if parts else "starting"))

            results.append(
                up_on_swarm(ctx, service, force=force, allow_dirty=allow_dirty, timeout=timeout, progress=progress)
            )
        render_result(results[-1])
    return results


@app.command("deploy")
def deploy(
    services: list[str] = typer.Argument(None, help="Service folders (default: every Swarm-target service)."),
    timeout: float = typer.Option(300, "--timeout", help="Seconds to wait for the stack to converge."),
    force: bool = typer.Option(False, "--force", help="Deploy even when lint reports errors."),
    allow_dirty: bool = typer.Option(False, "--allow-dirty", help="Deploy uncommitted changes (recorded as dirty)."),
    json_flag: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Deploy services to their Swarm and wait until every service converged (or was rolled back)."""
    ctx = DeployContext.open(Path.cwd())
    chosen = _services(ctx.repository, services)
    results = deploy_services(ctx, chosen, force=force, allow_dirty=allow_dirty, timeout=timeout, json_flag=json_flag)
    if json_flag:
        sys.stdout.write(json.dumps({"schema": 1, "deployments": [r.as_dict() for r in results]}, indent=2) + "\n")
    raise typer.Exit(0 if all(r.ok for r in results) else 1)


def render_result(result: StackResult) -> None:
    mark = "[green]✔[/]" if result.ok else "[red]✖[/]"
    console.print(f"{mark} {escape(result.service)} → stack {escape(result.stack)} on {escape(result.target)}")
    for outcome in result.convergence.services:
        colour = "green" if outcome.ok else "red"
        line = f"   [{colour}]{escape(outcome.name)}[/]: {escape(outcome.state)}"
        if outcome.detail:
            line += f" ({escape(outcome.detail)})"
        console.print(line)
        for error in outcome.errors:
            console.print(f"      task error: {escape(error)}")
    if result.rolled_back:
        console.print(f"   the Swarm runs the previous version of: {escape(', '.join(result.rolled_back))}")
    if result.secrets_removed:
        console.print(f"   {result.secrets_removed} unused secret(s) removed")


@app.command("status")
def status(
    services: list[str] = typer.Argument(None, help="Service folders (default: every Swarm-target service)."),
    json_flag: bool = typer.Option(False, "--json", help="Print the status as JSON."),
) -> None:
    """Services of each stack: replicas running/desired, image, update state, failing tasks."""
    repository = _repository()
    rows = stack_status(repository, _services(repository, services))
    if json_flag:
        sys.stdout.write(json.dumps({"schema": 1, "services": rows}, indent=2) + "\n")
        return
    table = Table()
    for column in ("folder", "service", "replicas", "image", "update", "failing tasks"):
        table.add_column(column, overflow="fold")
    for row in rows:
        if not row["deployed"]:
            table.add_row(row["service"], "-", "not deployed", "", "", "")
            continue
        desired = "global" if row["desired"] is None else str(row["desired"])
        colour = "green" if row["desired"] is None or row["running"] == row["desired"] else "yellow"
        table.add_row(
            escape(row["service"]),
            escape(row["name"]),
            f"[{colour}]{row['running']}/{desired}[/]",
            escape(row["image"]),
            escape(row["update"]),
            escape("; ".join(row["failing"])),
        )
    console.print(table)


@app.command("scale")
def scale(
    assignment: str = typer.Argument(..., metavar="SERVICE[/NAME]=N", help="A folder (and its stack member) and N."),
) -> None:
    """Set the number of replicas of a Swarm service."""
    target, sep, count = assignment.rpartition("=")
    if not sep or not target or not count.strip().isdigit():
        raise DarseError(f"cannot read {assignment!r}", "write SERVICE=N or SERVICE/NAME=N, e.g. wiki/web=3")
    repository = _repository()
    folder, member = _split_member(repository, target)
    name = scale_stack_service(repository, folder, member, int(count))
    console.print(f"{escape(name)} scaled to {int(count)} (the Swarm converges in the background)")


@app.command("rollback")
def rollback(
    service: str = typer.Argument(..., metavar="SERVICE[/NAME]", help="A folder, or one member of its stack."),
    timeout: float = typer.Option(300, "--timeout", help="Seconds to wait for the rollback."),
) -> None:
    """The Swarm's rollback to each service's previous spec, waited for."""
    repository = _repository()
    folder, member = _split_member(repository, service)
    with console.status(f"rolling back {service}…"):
        convergence = rollback_stack(repository, folder, member, timeout)
    for outcome in convergence.services:
        colour = "green" if outcome.ok else "red"
        console.print(f"[{colour}]{escape(outcome.name)}[/]: {escape(outcome.state)} {escape(outcome.detail)}")
    raise typer.Exit(0 if convergence.ok else 1)


@app.command("rm")
def rm(service: str = typer.Argument(..., help="The service folder whose stack to remove.")) -> None:
    """Remove a service's stack (services, networks, secrets); named volumes are kept."""
    from darse.swarm.deploy import down_on_swarm

    ctx = DeployContext.open(Path.cwd())
    stack = down_on_swarm(ctx, ctx.service(service))
    console.print(f"stack {escape(stack)} removed; its volumes are kept")


def _split_member(repository: Repository, text: str) -> tuple[Service, str | None]:
    """`wiki` → (wiki, None); `wiki/web` → (wiki, "web") unless `wiki/web` is itself a folder."""
    names = {s.name for s in repository.services}
    if text in names or "/" not in text:
        return repository.service(text), None
    folder, _, member = text.rpartition("/")
    return repository.service(folder), member


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="stack")
