"""`darse secrets init | check | diff`: arguments in, `darse.secrets.commands` does the work, text or JSON out."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from darse import api
from darse.cli.output import print_json
from darse.secrets.check import SecretDiff, SecretProblem
from darse.secrets.init import InitPlan

secrets_app = typer.Typer(
    name="secrets",
    help="Real secret files made from their committed examples, and checks that they never reach Git.",
    no_args_is_help=True,
)


def _console() -> Console:
    return Console(highlight=False, soft_wrap=True)


@secrets_app.command("init")
def init(
    services: list[str] = typer.Argument(None, help="Service names or folders."),
    all_services: bool = typer.Option(False, "--all", help="Every service of the repository."),
    force: bool = typer.Option(False, "--force", help="Regenerate existing real files (asks first)."),
    yes: bool = typer.Option(False, "--yes", "-y", help="With --force: do not ask."),
    show: bool = typer.Option(False, "--show", help="Print the generated values (they are secrets)."),
    json_flag: bool = typer.Option(False, "--json", help="Print a JSON report."),
) -> None:
    """Create each missing real secret file from its example: placeholders get random values."""
    report = api.plan_secrets(services, Path.cwd(), all_services=all_services, force=force)
    if report.plan.overwrites and not yes:
        names = ", ".join(item.path for item in report.plan.overwrites)
        if not typer.confirm(f"Regenerate {names}? Their current values are lost.", default=False, err=True):
            typer.echo("nothing changed", err=True)
            raise typer.Exit(1)
    report.apply()
    if json_flag:
        print_json(report.to_dict(show))
    else:
        _render_init(report.plan, show)


def _render_init(plan: InitPlan, show: bool) -> None:
    console = _console()
    if not plan.files:
        console.print("no example secret files (NAME.secrets.example) in these services: nothing to do")
    for item in plan.files:
        if item.action == "kept":
            console.print(f"[dim]kept[/]         {escape(item.path)}  (exists; --force regenerates it)")
            continue
        colour = "green" if item.action == "created" else "yellow"
        console.print(
            f"[{colour}]{item.action:<12}[/] {escape(item.path)}  "
            f"({len(item.generated)} generated, {len(item.defaults)} from the example, mode 0600)"
        )
        if show:
            for key, value in item.values.items():
                console.print(f"    {escape(key)}={escape(value)}")
    if plan.gitignore is not None:
        console.print(f"[green]fixed[/]        .gitignore  (now ignores {escape(', '.join(plan.gitignore.unignored))})")


@secrets_app.command("check")
def check(
    services: list[str] = typer.Argument(None, help="Service names or folders (default: every service)."),
    history: bool = typer.Option(False, "--history", help="Also scan the whole Git history."),
    json_flag: bool = typer.Option(False, "--json", help="Print a JSON report."),
) -> None:
    """Check that every env_file exists with every key of its example, and no real secret is in Git."""
    report = api.check_secrets(services, Path.cwd(), scan_log=history)
    if json_flag:
        print_json(report.to_dict())
    else:
        _render_problems(report.problems, len(report.services))
    raise typer.Exit(0 if report.ok else 1)


def _render_problems(problems: list[SecretProblem], services: int) -> None:
    console = _console()
    by_service: dict[str, list[SecretProblem]] = {}
    for problem in problems:
        by_service.setdefault(problem.service or "(repository)", []).append(problem)
    for name, found in by_service.items():
        console.print(f"[bold]{escape(name)}[/]")
        for problem in found:
            console.print(f"  [red]{problem.kind:<16}[/] {escape(problem.message)}")
    where = f"in {services} service{'s' if services != 1 else ''}"
    if problems:
        console.print(f"[red]✖ {len(problems)} problem{'s' if len(problems) != 1 else ''}[/] {where}")
    else:
        console.print(f"[green]✔ no problems[/] {where}")


@secrets_app.command("diff")
def diff(
    service: str = typer.Argument(..., help="A service name or folder."),
    json_flag: bool = typer.Option(False, "--json", help="Print a JSON report."),
) -> None:
    """Keys missing from or extra in the real secret files compared with their examples."""
    report = api.diff_secrets(service, Path.cwd())
    if json_flag:
        print_json(report.to_dict())
    else:
        _render_diffs(report.files)
    raise typer.Exit(1 if report.differs else 0)


def _render_diffs(diffs: list[SecretDiff]) -> None:
    console = _console()
    if not diffs:
        console.print("no secret files in this service")
    for item in diffs:
        if not item.exists:
            console.print(f"{escape(item.path)}: [red]missing[/] (darse secrets init creates it)")
            continue
        if not item.differs:
            console.print(f"{escape(item.path)}: [green]same keys as its example[/]")
            continue
        console.print(f"{escape(item.path)}:")
        for key in item.missing:
            console.print(f"  [red]- {escape(key)}[/]  (in the example, not in the real file)")
        for key in item.extra:
            console.print(f"  [yellow]+ {escape(key)}[/]  (in the real file, not in the example)")


def register(app: typer.Typer) -> None:
    app.add_typer(secrets_app, name="secrets")
