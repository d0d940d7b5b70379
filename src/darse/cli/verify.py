"""How `darse restore FOLDER --verify` shows its result (darse.backup.verify.VerifyReport): each step with
its outcome, the check's output, and the exit code (0 passed, 1 the backup did not restore)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.markup import escape

from darse.cli.output import print_json

out = Console(highlight=False, soft_wrap=True)
progress = Console(stderr=True, highlight=False, soft_wrap=True)


def verify_progress(json_flag: bool) -> Callable[[str], None]:
    """What the verify says while it works: on stderr, never with --json (stdout stays one document)."""
    if json_flag:
        return lambda _line: None
    return lambda line: progress.print(f"[dim]{escape(line)}[/]")


def render_verify(report: Any, json_flag: bool) -> int:
    """Print the report; the command's exit code. `report`: darse.backup.verify.VerifyReport (its texts
    already masked)."""
    if json_flag:
        print_json(report.to_dict())
        return 0 if report.ok else 1
    commit = f", commit {report.commit[:12]}" if report.commit else ""
    out.print(f"[bold]{escape(report.folder)}[/]: backup run {escape(report.run)}{commit} → {escape(report.project)}")
    for step in report.steps:
        mark = "[green]✓[/]" if step.ok else "[red]✗[/]"
        lines = step.detail.splitlines() or [""]
        out.print(f"  {mark} {step.name:<8} {escape(lines[0])} [dim]({step.seconds:.1f} s)[/]")
        for line in lines[1:]:
            out.print(f"             {escape(line)}")
    if report.check_output.strip():
        out.print("  check output:")
        for line in report.check_output.rstrip("\n").splitlines()[-20:]:
            out.print(f"    [dim]{escape(line)}[/]")
    if report.ok:
        checked = "" if report.checked else " (no check defined)"
        out.print(f"[green]✓[/] the backup of {escape(report.folder)} restores{checked} ({report.seconds:.1f} s)")
        return 0
    out.print(f"[red]✗[/] the backup of {escape(report.folder)} did not pass the verify: step {report.failed_step}")
    return 1
