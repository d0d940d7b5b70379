"""`darse pull`: the commits a fast-forward to the upstream would bring (and the services they touch),
then, once confirmed, the fast-forward. `--dry-run` only shows the plan."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from darse import api
from darse.cli.output import print_json, print_summary, progress_display
from darse.deploy.pull import PullPlan
from darse.errors import DarseError


def pull(
    dry_run: bool = typer.Option(False, "--dry-run", help="Only show what would come (fetches, moves nothing)."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    no_fetch: bool = typer.Option(False, "--no-fetch", help="Use the upstream as last fetched (no network)."),
    json_flag: bool = typer.Option(False, "--json", help="Print the plan and the result as JSON."),
) -> None:
    """Fetch the upstream of the branch checked out and fast-forward to it (git pull --ff-only), after
    showing its commits and the services they change."""
    start = Path.cwd()
    plan = api.plan_pull(start, fetch=not no_fetch)
    console = Console(highlight=False, stderr=json_flag)  # with --json, stdout holds the document only
    if not json_flag or not (yes or dry_run):
        show_plan(plan, console)
    if dry_run or plan.behind == 0:
        if json_flag:
            print_json({"plan": plan.to_dict(), "pulled": None})
        raise typer.Exit(1 if plan.behind and not plan.ready else 0)
    if plan.refusals:
        raise plan.refusals[0]
    if not yes:
        if not sys.stdin.isatty():
            raise DarseError(
                f"pulling {plan.behind} commit{'s' * (plan.behind != 1)} into {plan.branch} needs confirmation",
                "review them with darse pull --dry-run, then pass --yes",
            )
        if not typer.confirm(f"Fast-forward {plan.branch} to {plan.upstream} {plan.target[:12]}?", default=False):
            raise typer.Exit(1)
    with progress_display(not json_flag) as listener:
        result = api.pull(start, plan, listener=listener)
    if json_flag:
        print_json({"plan": plan.to_dict(), "pulled": result.to_dict()})
        return
    print_summary(result.summary_lines(), Console(highlight=False))


def show_plan(plan: PullPlan, console: Console) -> None:
    """The plan as a person reads it: where the branch is, each commit to come, the folders they touch."""
    fetched = "fetched just now" if plan.fetched else f"last fetched {plan.last_fetch_date or 'never'}"
    if plan.behind == 0:
        ahead = f"; {plan.ahead} local commit(s) not on {plan.upstream}" if plan.ahead else ""
        console.print(f"{escape(plan.branch)} is up to date with {escape(plan.upstream)} ({fetched}){escape(ahead)}")
        return
    s = "s" * (plan.behind != 1)
    console.print(
        f"{escape(plan.branch)} at {plan.head[:12]}: {plan.behind} commit{s} to pull from "
        f"{escape(plan.upstream)} {plan.target[:12]} ({fetched})"
    )
    for commit in plan.commits:
        where = f" [cyan]{escape(', '.join(commit.services))}[/]" if commit.services else ""
        console.print(
            f"  [yellow]{commit.hash[:12]}[/] {escape(commit.subject)} [dim]({escape(commit.author)}, {commit.date})[/]"
            + where
        )
    if plan.more_commits:
        console.print(f"  … and {plan.more_commits} more")
    if plan.services:
        console.print(f"services changed: {escape(', '.join(plan.services))}")
    if plan.new_services:
        console.print(f"new services: {escape(', '.join(plan.new_services))}")
    if plan.images:
        console.print(f"image folders changed: {escape(', '.join(plan.images))}")
    if plan.outside:
        more = f" and {plan.more_outside} more" if plan.more_outside else ""
        console.print(f"outside any service: {escape(', '.join(plan.outside))}{more}")
    if plan.model_problem:
        console.print(f"[yellow]warning:[/] the repository could not be read: {escape(plan.model_problem)}")
    for refusal in plan.refusals:
        console.print(f"[red]refused:[/] {escape(refusal.one_line())}")


def register(app: typer.Typer) -> None:
    app.command("pull")(pull)
