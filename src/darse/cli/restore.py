"""`darse restore FOLDER [--snapshot ID] [--yes] [--json]`: a folder's data put back from a backup
(docs/backup.md): what will be replaced is shown and confirmed first."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from darse import api
from darse.cli.output import print_json
from darse.cli.verify import render_verify, verify_progress
from darse.errors import DarseError


def restore(
    folder: str = typer.Argument(..., help="The service folder to restore."),
    snapshot: str = typer.Option(
        None, "--snapshot", help="Any snapshot id of the backup run to restore [default: the newest complete run]."
    ),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    json_flag: bool = typer.Option(False, "--json", help="Machine-readable result (needs --yes)."),
    verify: bool = typer.Option(
        False, "--verify", help="Restore into a throwaway copy instead, check it, remove it: production is untouched."
    ),
) -> None:
    """Put a folder's volumes and databases back as a backup held them: its containers stopped, a safety
    backup of the data as it is now taken, each volume replaced, each database re-initialised and its
    dump loaded, then every container started and waited healthy. Exit 1 when the restore fails (the
    error names the safety backup holding the data as it was).

    With --verify, production is left alone: the backup is restored into a throwaway Compose project
    (fresh volumes, no published port, internal networks), waited healthy, darse.toml's check is run,
    and everything is removed. Exit 1 when the backup does not restore or the check fails."""
    if verify:
        report = api.verify_backup(Path.cwd(), folder, snapshot=snapshot, say=verify_progress(json_flag))
        raise typer.Exit(render_verify(report, json_flag))
    if json_flag and not yes:
        raise DarseError("--json needs --yes: a restore replaces data and is confirmed first", "add --yes")
    start = Path.cwd()
    preview = api.preview_restore(start, folder, snapshot=snapshot)
    console = Console(highlight=False, stderr=json_flag, soft_wrap=True)
    if not json_flag:
        show_preview(preview, console)
    if not yes:
        if not sys.stdin.isatty():
            raise DarseError(f"restoring {folder} replaces its data and needs confirmation", "pass --yes")
        if not typer.confirm(f"Replace the data of {folder}?", default=False):
            raise typer.Exit(1)
    say = (lambda _line: None) if json_flag else (lambda line: console.print(f"[dim]{escape(line)}[/]"))
    pinned = preview.run.snapshots[0].id  # the run shown, even if a backup ends meanwhile
    try:
        report = api.restore_backup(start, folder, snapshot=pinned, say=say)
    except DarseError as exc:
        if json_flag:
            print_json({"schema": 1, "folder": folder, "ok": False, "error": exc.message, "hint": exc.hint})
        else:
            Console(stderr=True, highlight=False, soft_wrap=True).print(f"[red]✗[/] {escape(exc.one_line())}")
        raise typer.Exit(1) from None
    if json_flag:
        print_json(report.to_dict())
        return
    for item in report.items:
        what = "volume" if item.kind == "volume" else "database"
        console.print(f"[green]✓[/] {what} {escape(item.item)} from snapshot {item.snapshot}")
    console.print(
        f"restored {escape(report.folder)} from run {escape(report.run)}; "
        f"the data as it was is in safety run {escape(report.safety_run)}"
    )


def show_preview(preview: Any, console: Console) -> None:
    """`preview`: darse.backup.restore.RestorePreview."""
    run = preview.run.to_dict()
    console.print(f"[bold]{escape(preview.folder)}[/] from backup run {escape(run['run'])} of {run['time'][:19]}")
    deployed = preview.deployed_commit[:12] or "unknown"
    console.print(f"  commit    {escape(run['commit'][:12] or 'unknown')} (deployed now: {escape(deployed)})")
    for service, image in sorted(run["images"].items()):
        now = preview.deployed_images.get(service, "")
        same = "same as now" if now == image else f"now {now[:12] or 'none'}"
        console.print(f"  image     {escape(service)}: {image[:12]} ({same})")
    for volume in preview.volumes:
        console.print(f"  replace   volume {escape(volume['volume'] or volume['key'])} ← snapshot {volume['snapshot']}")
    for dump in preview.dumps:
        emptied = ", ".join(dump["volumes"]) or "no volume"
        console.print(
            f"  load      {escape(dump['service'])} ({dump['kind']}) ← snapshot {dump['snapshot']}; "
            f"emptied first: {escape(emptied)}"
        )
    for warning in preview.warnings:
        console.print(f"  [yellow]warning[/]   {escape(warning)}")


def register(app: typer.Typer) -> None:
    app.command("restore")(restore)
