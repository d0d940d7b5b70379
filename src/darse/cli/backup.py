"""`darse backup`: what a backup of each service folder takes (docs/backup.md)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    FileSizeColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
from typer.core import TyperGroup

from darse import api
from darse.cli.output import print_json


class _BackupGroup(TyperGroup):
    """`darse backup FOLDER...` and `darse backup --all` run the backup; `plan`, `init`, `ls`, `history`,
    `prune` are commands."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


backup_app = typer.Typer(
    cls=_BackupGroup,
    help=(
        "Backups of every service's data: volumes, and databases' own dumps, in restic (docs/backup.md). "
        "`darse backup FOLDER...` or `darse backup --all` takes them; `--json` for a machine-readable result."
    ),
    no_args_is_help=True,
)
out = Console(highlight=False, soft_wrap=True)

_ACTIONS = {
    "copy": "[green]files[/]",
    "dump": "[green]dump of {by}[/]",
    "excluded": "[dim]excluded[/]",
    "not-covered": "[yellow]not backed up[/]",
}


@backup_app.command("run", hidden=True)
def run(
    folders: list[str] = typer.Argument(None, help="Service folders to back up."),
    every: bool = typer.Option(False, "--all", help="Every service folder."),
    json_flag: bool = typer.Option(False, "--json", help="Machine-readable result."),
) -> None:
    """Back up service folders: one restic snapshot per database dump and per named volume, tagged with
    the deployed commit and images, the folder's pre and post commands around them; each folder's
    backup is recorded in the host's history. Exit 1 when an item failed (it leaves no snapshot)."""
    say = (lambda _line: None) if json_flag else (lambda line: out.print(f"[dim]{escape(line)}[/]"))
    with _progress_bars(enabled=not json_flag and out.is_terminal) as progress:
        report = api.run_backups(Path.cwd(), folders or (), every=every, say=say, progress=progress)
    if json_flag:
        print_json(report.to_dict())
    else:
        for item in report.items:
            if item.ok:
                out.print(
                    f"[green]✓[/] {escape(item.folder)} {item.kind} {escape(item.name)}: snapshot {item.snapshot}, "
                    f"{item.bytes_added} bytes added"
                )
            else:
                out.print(f"[red]✗[/] {escape(item.folder)} {item.kind} {escape(item.name)}: {escape(item.error)}")
        for skipped in report.skipped:
            out.print(f"[yellow]-[/] {escape(skipped)}")
    if not report.ok:
        raise typer.Exit(1)


@backup_app.command("init")
def init(json_flag: bool = typer.Option(False, "--json", help="Machine-readable result.")) -> None:
    """Make the password file of [backup] (mode 0600, never overwritten) and initialise the restic
    repository (an existing one is left as it is). Keep a copy of the password elsewhere: without it the
    backups cannot be read."""
    report = api.init_backups(Path.cwd())
    if json_flag:
        print_json(report.to_dict())
        return
    if report.created_password:
        out.print(f"wrote {escape(report.password_file)} (mode 0600): keep a copy of it somewhere safe")
    out.print(("initialised " if report.initialised else "already initialised: ") + escape(report.repository))


@backup_app.command("ls")
def ls(
    folder: str = typer.Argument(None, help="One service folder [default: every one]."),
    json_flag: bool = typer.Option(False, "--json", help="Machine-readable list."),
) -> None:
    """The snapshots darse took, newest first."""
    found = api.list_backups(Path.cwd(), folder)
    if json_flag:
        print_json(found)
        return
    for snapshot in found:
        out.print(
            f"{snapshot['id']}  {snapshot['time'][:19]}  {escape(snapshot['service'])}  {snapshot['kind']} "
            f"{escape(snapshot['item'])}  commit {snapshot['commit'][:12]}  {escape(snapshot['reason'] or '-')}"
        )
    if not found:
        out.print("no snapshot")


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


@backup_app.command("history")
def history(
    folder: str = typer.Argument(..., help="A service folder."),
    limit: int = typer.Option(20, "--limit", "-n", min=1, help="How many records, newest first."),
    json_flag: bool = typer.Option(False, "--json", help="Machine-readable records."),
) -> None:
    """This host's records of a folder's backups (and restores): when, why, the commit, the outcome."""
    records = api.backup_history(Path.cwd(), folder, limit)
    if json_flag:
        print_json(records)
        return
    for record in records:
        colour = {"success": "green", "failed": "red"}.get(record["outcome"], "yellow")
        deployment = f" before deployment {record['deployment']}" if record["deployment"] is not None else ""
        out.print(
            f"{record['id']:>5}  {record['started_at']}  {record['action']} {record['reason']}{deployment}  "
            f"commit {escape(record['revision'][:12] or '-')}  {len(record['snapshots'])} snapshot(s)  "
            f"[{colour}]{record['outcome']}[/] {escape(record['message'])}  by {escape(record['user'])}"
        )
    if not records:
        out.print("no backup recorded on this host")


@backup_app.command("prune")
def prune(
    folders: list[str] = typer.Argument(None, help="Service folders [default: every one]."),
    dry_run: bool = typer.Option(False, "--dry-run", help="List what would be forgotten; change nothing."),
    json_flag: bool = typer.Option(False, "--json", help="Machine-readable result."),
) -> None:
    """Apply darse.toml's keep rules to each volume's and each dump's snapshots, then prune the
    repository. The snapshots `rollback --with-data` would need and recent safety snapshots are kept."""
    report = api.prune_backups(Path.cwd(), folders or (), dry_run=dry_run)
    if json_flag:
        print_json(report.to_dict())
        return
    rules = ", ".join(f"{rule} {count}" for rule, count in report.keep.items())
    verb = "would forget" if report.dry_run else "forgot"
    for item in report.items:
        out.print(
            f"{escape(item.folder)} {item.kind} {escape(item.item)}: keep {len(item.kept)}, {verb} "
            f"{len(item.forgotten)}" + (f" {' '.join(item.forgotten)}" if item.forgotten else "")
        )
        for snapshot, why in item.protected.items():
            out.print(f"  [yellow]kept {snapshot}[/]: {escape(why)}")
    out.print(f"keep {rules}: {verb} {report.forgotten} snapshot(s)" + ("; repository pruned" if report.pruned else ""))


@contextlib.contextmanager
def _progress_bars(*, enabled: bool) -> Iterator[Any]:
    """A rich progress line per item (bytes read, files) fed by restic's status lines; None (no
    progress asked of the library) when disabled: --json, or standard output not a terminal."""
    if not enabled:
        yield None
        return
    columns = (
        TextColumn("{task.description}"),
        FileSizeColumn(),
        TextColumn("{task.fields[files]}"),
        TransferSpeedColumn(),
        TimeElapsedColumn(),
    )
    tasks: dict[int, TaskID] = {}
    with Progress(*columns, console=out, transient=True) as bars:

        def show(item: Any, status: Any) -> None:
            key = id(item)
            if key not in tasks:
                label = escape(f"{item.folder} {item.kind} {item.name}")
                tasks[key] = bars.add_task(label, total=None, files="")
            files = f"{status.files_done} file(s)" if status.files_done else ""
            total = status.total_bytes or None
            bars.update(tasks[key], completed=status.bytes_done, total=total, files=files)

        yield show


def register(app: typer.Typer) -> None:
    app.add_typer(backup_app, name="backup")
