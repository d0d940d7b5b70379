"""The human view: findings grouped by file, `line:col`, severity colours, one summary line."""

from __future__ import annotations

from itertools import groupby

from rich.console import Console
from rich.markup import escape

from darse.lint.linter import LintResult
from darse.lint.rule import Severity

_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}


def render_text(result: LintResult, console: Console) -> None:
    for path, findings in groupby(result.findings, key=lambda f: f.path):
        console.print(f"[bold underline]{escape(path)}[/]", soft_wrap=True)
        for finding in findings:
            style = _STYLE[finding.severity]
            position = f"{finding.line}:{finding.column}"
            console.print(
                f"  {position:>7}  [{style}]{finding.severity.label:<7}[/]  [dim]{finding.rule}[/]  "
                f"{escape(finding.message)}  [dim]({finding.name})[/]",
                highlight=False,
                soft_wrap=True,
            )
        console.print()
    # soft_wrap: a pipe or a CI log gets the summary on one line, whatever width rich assumes
    console.print(summary_line(result), highlight=False, soft_wrap=True)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 or noun == 'info' else 's'}"


def summary_line(result: LintResult) -> str:
    errors, warnings, infos = (result.count(s) for s in (Severity.ERROR, Severity.WARNING, Severity.INFO))
    folders = _count(result.services, "service")
    if result.images:
        folders += f", {_count(result.images, 'image folder')}"
    scope = f"{folders}, {_count(result.files, 'file')} checked"
    if not result.findings:
        return f"[green]✔ no problems[/] ({scope})"
    colour = "red" if errors else "yellow" if warnings else "cyan"
    return (
        f"[{colour}]✖ {_count(len(result.findings), 'problem')}[/] "
        f"({_count(errors, 'error')}, {_count(warnings, 'warning')}, {_count(infos, 'info')}) in {scope}"
    )
