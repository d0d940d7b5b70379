"""`darse backup`: what a backup of each service folder takes (docs/backup.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from darse import api
from darse.cli.output import print_json

backup_app = typer.Typer(
    help="Backups of every service's data: volumes, and databases' own dumps (docs/backup.md).",
    no_args_is_help=True,
)
out = Console(highlight=False, soft_wrap=True)

_ACTIONS = {
    "copy": "[green]files[/]",
    "dump": "[green]dump of {by}[/]",
    "excluded": "[dim]excluded[/]",
    "not-covered": "[yellow]not backed up[/]",
}


@backup_app.command("plan")
def plan(
    folders: list[str] = typer.Argument(None, help="Service folders [default: every one]."),
    json_flag: bool = typer.Option(False, "--json", help="Machine-readable plan."),
) -> None:
    """What a backup of each service folder takes: its named volumes, the dumps of its databases,
    the commands around them. Reads the repository and darse.toml only: no engine, no restic."""
    result = api.backup_plan(Path.cwd(), folders or None)
    if json_flag:
        print_json(result.to_dict())
        return
    _print_plan(result)


def _print_plan(result: Any) -> None:
    """`result`: darse.backup.plan.BackupPlan (its repository already masked)."""
    if result.configured:
        out.print(f"repository {escape(result.repository)}")
        keep = ", ".join(f"{key} {value}" for key, value in result.keep.items()) or "every snapshot"
        out.print(f"keep {keep}; before a deploy: {result.before_deploy}")
    else:
        out.print("[yellow]no [backup] repository in darse.toml[/]: this is what a backup would take (docs/backup.md)")
    for folder in result.services:
        out.print()
        target = f" (target {escape(folder.target)})" if folder.target != "local" else ""
        out.print(f"[bold]{escape(folder.folder)}[/]{target}")
        if folder.note:
            out.print(f"  [yellow]{escape(folder.note)}[/]")
        for command in folder.pre:
            out.print(f"  before    {escape(command.service)}: {escape(' '.join(command.command))}")
        for dump in folder.dumps:
            origin = "" if dump.detected else " (darse.toml)"
            user = f" as {escape(dump.user)}" if dump.user else ""
            out.print(
                f"  dump      {escape(dump.service)}: {dump.kind}{origin}, {escape(dump.to_dict()['tool'])}{user} "
                f"→ {escape(dump.file)}"
            )
        if folder.stop and folder.in_scope:
            out.print("  stop      the folder's services while their volumes are copied")
        for volume in folder.volumes:
            action = _ACTIONS[volume.action].format(by=escape(volume.dumped_by))
            external = " (external)" if volume.external else ""
            out.print(f"  volume    {escape(volume.name)}{external}: {action}")
        for command in folder.post:
            out.print(f"  after     {escape(command.service)}: {escape(' '.join(command.command))}")
        if folder.check:
            out.print(f"  check     {escape(folder.check.service)}: {escape(' '.join(folder.check.command))}")
        for source in folder.bind_mounts:
            out.print(f"  [dim]bind      {escape(source)}: a folder of the host, not backed up by darse[/]")
        for warning in folder.warnings:
            out.print(f"  [yellow]warning[/]   {escape(warning)}")
        if folder.in_scope and not folder.volumes and not folder.dumps:
            out.print("  [dim]no named volume: nothing to back up[/]")


def register(app: typer.Typer) -> None:
    app.add_typer(backup_app, name="backup")
