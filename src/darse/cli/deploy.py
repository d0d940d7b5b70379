"""`darse up`, `down`, `rollback`, `diff`, `logs`: arguments in, operations called, results rendered."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from darse import api
from darse.cli.output import print_json, print_summary, progress_display
from darse.deploy.commands import DeployReport
from darse.errors import DarseError

TIMEOUT_HELP = "Seconds to wait for the containers to be running and healthy."


def _finish(report: DeployReport, json_flag: bool) -> None:
    """Print the report and exit 0, or 1 when a deployment failed."""
    if json_flag:
        print_json(report.to_dict())
    else:
        print_summary(report.summary_lines(), Console(highlight=False))
    raise typer.Exit(0 if report.ok else 1)


def up(
    services: list[str] = typer.Argument(None, help="Services (folder paths) to deploy."),
    all_services: bool = typer.Option(False, "--all", help="Deploy every service of the repository."),
    force: bool = typer.Option(False, "--force", help="Deploy despite lint errors (or tasks no Swarm node could run)."),
    allow_dirty: bool = typer.Option(False, "--allow-dirty", help="Deploy uncommitted changes (recorded as dirty)."),
    timeout: int = typer.Option(120, "--timeout", min=1, help=TIMEOUT_HELP),
    no_rollback: bool = typer.Option(False, "--no-rollback", help="Leave failed containers instead of rolling back."),
    no_backup: bool = typer.Option(
        False, "--no-backup", help="Deploy without the backup [backup] before_deploy asks for (docs/backup.md)."
    ),
    json_flag: bool = typer.Option(False, "--json", help="Print the outcome as JSON."),
) -> None:
    """Preflight, backup of the data when darse.toml asks for one, `docker compose up --wait`, record; roll
    back to the last good deployment on failure."""
    ctx = api.open_deployments(Path.cwd())
    with progress_display(not json_flag) as listener:
        report = api.up(
            ctx,
            services or [],
            all_services=all_services,
            force=force,
            allow_dirty=allow_dirty,
            timeout=timeout,
            auto_rollback=not no_rollback,
            listener=listener,
            backup_first=not no_backup,
        )
    _finish(report, json_flag)


def rollback(
    service: str = typer.Argument(..., help="The service to roll back."),
    to: str = typer.Option(None, "--to", help="A commit, tag or branch to deploy the service as of."),
    steps: int = typer.Option(None, "--steps", help="Go back N successful deployments [default: 1]."),
    timeout: int = typer.Option(120, "--timeout", min=1, help=TIMEOUT_HELP),
    with_data: bool = typer.Option(
        False, "--with-data", help="Also restore the backup taken before the deployments undone (docs/backup.md)."
    ),
    yes: bool = typer.Option(False, "--yes", help="Do not ask before replacing data (--with-data)."),
    json_flag: bool = typer.Option(False, "--json", help="Print the outcome as JSON."),
) -> None:
    """Deploy the service as it was at an earlier revision, without touching the working tree."""
    ctx = api.open_deployments(Path.cwd())
    if with_data:
        _rollback_with_data(ctx, service, to, steps, timeout, yes, json_flag)
        return
    with progress_display(not json_flag) as listener:
        report = api.rollback(ctx, service, to=to, steps=steps, timeout=timeout, listener=listener)
    _finish(report, json_flag)


def _rollback_with_data(
    ctx: Any, service: str, to: str | None, steps: int | None, timeout: int, yes: bool, json_flag: bool
) -> None:
    plan = api.plan_rollback_with_data(ctx, service, to=to, steps=steps)
    if not yes:
        if json_flag or not sys.stdin.isatty():
            raise DarseError("--with-data replaces the service's data and needs confirmation", "pass --yes")
        console = Console(highlight=False)
        target, backup = plan.target, plan.backup
        console.print(f"{escape(plan.service)}: back to {target.revision[:12]} (deployment #{target.id}), undoing:")
        for undone in plan.undone:
            console.print(f"  #{undone.id} {undone.action} {undone.revision[:12]} {undone.started_at} {undone.outcome}")
        items = ", ".join(f"{s['kind']} {s['item']}" for s in backup.snapshots)
        console.print(f"its data replaced by backup #{backup.id} of {backup.started_at} ({escape(items)})")
        console.print("the data as it is now is backed up first (darse restore brings it back)")
        if not typer.confirm("Go on?", default=False):
            raise typer.Exit(1)
    with progress_display(not json_flag) as listener:
        result = api.rollback_with_data(ctx, service, to=to, steps=steps, timeout=timeout, listener=listener)
    if json_flag:
        print_json(result.to_dict())
    else:
        print_summary(result.summary_lines(), Console(highlight=False))
    raise typer.Exit(0 if result.ok else 1)


def down(
    service: str = typer.Argument(..., help="The service to stop."),
    volumes: bool = typer.Option(False, "--volumes", help="Also remove its named volumes (its data!)."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask before removing volumes."),
    json_flag: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Stop and remove the service's containers and networks; volumes are kept unless --volumes."""
    ctx = api.open_deployments(Path.cwd())
    chosen = ctx.service(service)
    if volumes and not yes:
        if not sys.stdin.isatty():
            raise DarseError("--volumes deletes data and needs confirmation", "type the service name, or pass --yes")
        typed = typer.prompt(f"This deletes the volumes (the data) of {chosen.name}. Type the service name")
        if typed.strip() != chosen.name:
            raise DarseError("the name typed does not match; nothing was removed", f"type {chosen.name} exactly")
    result = api.down(ctx, chosen.name, volumes=volumes)
    if json_flag:
        print_json(result.to_dict())
    elif result.on_swarm:
        Console(highlight=False).print(
            f"[green]✔[/] {escape(result.service)}: stack {result.project} removed (volumes kept)"
        )
    elif result.ok:
        kept = "volumes removed" if volumes else "volumes kept"
        Console(highlight=False).print(f"[green]✔[/] {escape(result.service)}: stopped ({kept})")
    else:
        Console(stderr=True, highlight=False).print(f"[red]✘[/] {escape(result.service)}: docker compose down failed")
        sys.stderr.write(result.output[-2000:])
    raise typer.Exit(0 if result.ok else 1)


def diff(
    service: str = typer.Argument(..., help="The service to compare."),
    json_flag: bool = typer.Option(False, "--json", help="Print the diff as JSON."),
) -> None:
    """What `darse up` would change: the deployed configuration against the working tree (secrets masked)."""
    result = api.diff(api.open_deployments(Path.cwd()), service)
    if json_flag:
        print_json(result.to_dict())
    elif result.changed:
        sys.stdout.write(result.diff)
    else:
        Console(highlight=False).print(f"{escape(result.service)}: no change since the deployed configuration")


def logs(
    service: str = typer.Argument(..., help="The service whose logs to show."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new lines."),
    tail: int = typer.Option(None, "--tail", "-n", min=0, help="Only the last N lines of each container."),
) -> None:
    """The service's container logs (`docker compose logs` of its project; on a Swarm target, every task's
    lines whatever its node, named `member.slot@node`)."""
    raise typer.Exit(api.logs(api.open_deployments(Path.cwd()), service, follow, tail, write=_write_line))


def _write_line(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def register(app: typer.Typer) -> None:
    app.command("up")(up)
    app.command("down")(down)
    app.command("rollback")(rollback)
    app.command("diff")(diff)
    app.command("logs")(logs)
