"""`darse up`, `down`, `rollback`, `diff`, `logs`: arguments in, operations called, results rendered."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from darse.deploy import actions
from darse.deploy.context import DeployContext
from darse.deploy.up import Outcome, Progress
from darse.errors import DarseError

TIMEOUT_HELP = "Seconds to wait for the containers to be running and healthy."


@contextlib.contextmanager
def _progress(enabled: bool) -> Iterator[Progress]:
    if not enabled:
        yield lambda _text: None
        return
    console = Console(stderr=True)
    with console.status("starting", spinner="dots") as spinner:
        yield lambda text: spinner.update(escape(text))


def _outcome_json(outcome: Outcome) -> dict[str, Any]:
    return {
        "service": outcome.deployment.service,
        "project": outcome.deployment.project,
        "ok": outcome.ok,
        "unchanged": outcome.unchanged,
        "seconds": round(outcome.seconds, 3),
        "deployment": outcome.deployment.public(),
        "pinned": outcome.pinned,
        "failures": [
            {"container": f.name, "state": f.state, "health": f.health, "logs": f.logs} for f in outcome.failures
        ],
        "rollback": _outcome_json(outcome.rollback) if outcome.rollback else None,
        "rollback_note": outcome.rollback_note,
    }


def _render(outcome: Outcome, console: Console, indent: str = "") -> None:
    d = outcome.deployment
    healthy = sum(c.healthy for c in outcome.containers)
    where = f"{d.revision[:12]}{' (dirty)' if d.dirty else ''}"
    verb = {"up": "deployed", "rollback": "rolled back to", "auto-rollback": "rolled back to"}.get(d.action, d.action)
    if outcome.ok:
        note = ", unchanged" if outcome.unchanged else ""
        pinned = f", pinned {len(outcome.pinned)} image(s)" if outcome.pinned else ""
        console.print(
            f"{indent}[green]✔[/] {escape(d.service)}: {verb} {where} "
            f"({healthy}/{len(outcome.containers)} healthy{note}{pinned}) in {outcome.seconds:.1f} s"
        )
        return
    console.print(f"{indent}[red]✘[/] {escape(d.service)}: {d.action} of {where} failed: {escape(d.message)}")
    for failure in outcome.failures:
        health = f", {failure.health}" if failure.health else ""
        console.print(f"{indent}  {escape(failure.name)} ({failure.state}{health}), last log lines:")
        for line in failure.logs.splitlines()[-actions_log_lines() :] or ["(no output)"]:
            console.print(f"{indent}    {escape(line)}", highlight=False)
    if outcome.rollback is not None:
        _render(outcome.rollback, console, indent)
    elif outcome.rollback_note:
        console.print(f"{indent}  not rolled back: {outcome.rollback_note}")


def actions_log_lines() -> int:
    from darse.deploy.up import LOG_LINES

    return LOG_LINES


def _finish(
    outcomes: list[Outcome], json_flag: bool, extra: list[dict[str, Any]] | None = None, ok: bool = True
) -> None:
    """Print the outcomes (`extra`: Swarm deployments, already rendered as text) and exit 0 or 1."""
    if json_flag:
        sys.stdout.write(json.dumps([*(_outcome_json(o) for o in outcomes), *(extra or [])], indent=2) + "\n")
    else:
        console = Console(highlight=False)
        for outcome in outcomes:
            _render(outcome, console)
    raise typer.Exit(0 if ok and all(o.ok for o in outcomes) else 1)


def _stack_json(result) -> dict[str, Any]:
    """A Swarm deployment in `darse up --json`: the same first keys as a Compose one, then the stack."""
    return {
        "service": result.service,
        "project": result.stack,
        "ok": result.ok,
        "target": "swarm",
        "stack": result.as_dict(),
    }


def up(
    services: list[str] = typer.Argument(None, help="Services (folder paths) to deploy."),
    all_services: bool = typer.Option(False, "--all", help="Deploy every service of the repository."),
    force: bool = typer.Option(False, "--force", help="Deploy despite lint errors."),
    allow_dirty: bool = typer.Option(False, "--allow-dirty", help="Deploy uncommitted changes (recorded as dirty)."),
    timeout: int = typer.Option(120, "--timeout", min=1, help=TIMEOUT_HELP),
    no_rollback: bool = typer.Option(False, "--no-rollback", help="Leave failed containers instead of rolling back."),
    json_flag: bool = typer.Option(False, "--json", help="Print the outcome as JSON."),
) -> None:
    """Preflight, `docker compose up --wait`, record; roll back to the last good deployment on failure."""
    ctx = DeployContext.open(Path.cwd())
    chosen = actions.select(ctx, services or [], all_services)
    on_swarm = [s for s in chosen if ctx.target_of(s).is_swarm]
    on_compose = [s for s in chosen if s not in on_swarm]
    outcomes: list[Outcome] = []
    if on_compose:
        with _progress(not json_flag) as progress:
            outcomes = actions.up(
                ctx,
                on_compose,
                force=force,
                allow_dirty=allow_dirty,
                timeout=timeout,
                auto_rollback=not no_rollback,
                progress=progress,
            )
    if not on_swarm:
        _finish(outcomes, json_flag)
    from darse.cli.stack import deploy_services

    stacks = deploy_services(ctx, on_swarm, force=force, allow_dirty=allow_dirty, timeout=timeout, json_flag=json_flag)
    _finish(outcomes, json_flag, [_stack_json(r) for r in stacks], all(r.ok for r in stacks))


def rollback(
    service: str = typer.Argument(..., help="The service to roll back."),
    to: str = typer.Option(None, "--to", help="A commit, tag or branch to deploy the service as of."),
    steps: int = typer.Option(None, "--steps", help="Go back N successful deployments [default: 1]."),
    timeout: int = typer.Option(120, "--timeout", min=1, help=TIMEOUT_HELP),
    json_flag: bool = typer.Option(False, "--json", help="Print the outcome as JSON."),
) -> None:
    """Deploy the service as it was at an earlier revision, without touching the working tree."""
    ctx = DeployContext.open(Path.cwd())
    chosen = ctx.service(service)
    if ctx.target_of(chosen).is_swarm:
        from darse.cli.stack import render_result
        from darse.swarm.deploy import rollback_on_swarm

        result = rollback_on_swarm(ctx, chosen, to=to, steps=steps, timeout=timeout)
        if json_flag:
            sys.stdout.write(json.dumps([_stack_json(result)], indent=2) + "\n")
        else:
            render_result(result)
        raise typer.Exit(0 if result.ok else 1)
    with _progress(not json_flag) as progress:
        outcome = actions.rollback(ctx, chosen, to=to, steps=steps, timeout=timeout, progress=progress)
    _finish([outcome], json_flag)


def down(
    service: str = typer.Argument(..., help="The service to stop."),
    volumes: bool = typer.Option(False, "--volumes", help="Also remove its named volumes (its data!)."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask before removing volumes."),
    json_flag: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Stop and remove the service's containers and networks; volumes are kept unless --volumes."""
    ctx = DeployContext.open(Path.cwd())
    chosen = ctx.service(service)
    if volumes and not yes:
        if not sys.stdin.isatty():
            raise DarseError("--volumes deletes data and needs confirmation", "type the service name, or pass --yes")
        typed = typer.prompt(f"This deletes the volumes (the data) of {chosen.name}. Type the service name")
        if typed.strip() != chosen.name:
            raise DarseError("the name typed does not match; nothing was removed", f"type {chosen.name} exactly")
    if ctx.target_of(chosen).is_swarm:
        if volumes:
            raise DarseError("--volumes is not supported on a Swarm target", "remove the volumes on each node by hand")
        from darse.swarm.deploy import down_on_swarm

        stack = down_on_swarm(ctx, chosen)
        if json_flag:
            data = {"service": chosen.name, "project": stack, "ok": True, "volumes_removed": False}
            sys.stdout.write(json.dumps(data, indent=2) + "\n")
        else:
            Console(highlight=False).print(f"[green]✔[/] {escape(chosen.name)}: stack {stack} removed (volumes kept)")
        raise typer.Exit(0)
    result = actions.down(ctx, chosen, volumes=volumes)
    if json_flag:
        data = {"service": result.service, "project": result.project, "ok": result.ok, "volumes_removed": volumes}
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
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
    from darse.deploy.diff import config_diff

    ctx = DeployContext.open(Path.cwd())
    result = config_diff(ctx, ctx.service(service))
    if json_flag:
        sys.stdout.write(json.dumps(result.public(), indent=2) + "\n")
    elif result.changed:
        sys.stdout.write(result.diff)
    else:
        Console(highlight=False).print(f"{escape(result.service)}: no change since the deployed configuration")


def logs(
    service: str = typer.Argument(..., help="The service whose logs to show."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new lines."),
    tail: int = typer.Option(None, "--tail", "-n", min=0, help="Only the last N lines of each container."),
) -> None:
    """The service's container logs (`docker compose logs` of its project)."""
    from darse.engine.compose import ComposeRunner

    ctx = DeployContext.open(Path.cwd())
    chosen = ctx.service(service)
    _ = ctx.engine_for(chosen)
    raise typer.Exit(ComposeRunner(ctx.project(chosen), ctx.compose_target(chosen)).logs(follow, tail))


def register(app: typer.Typer) -> None:
    app.command("up")(up)
    app.command("down")(down)
    app.command("rollback")(rollback)
    app.command("diff")(diff)
    app.command("logs")(logs)
