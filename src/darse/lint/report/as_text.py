"""The human view: findings grouped by file, `line:col`, severity colours, one summary line."""

from __future__ import annotations

from itertools import groupby

from rich.console import Console
from rich.markup import escape

from darse.lint.engine import LintResult
from darse.lint.rule import Severity

_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}


def render_text(result: LintResult, console: Console) -> None:
    for path, findings in groupby(result.findings, key=lambda f: f.path):
        console.print(f"[bold underline]{escape(path)}[/]")
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
    console.print(summary_line(result), highlight=False)


def summary_line(result: LintResult) -> str:
    errors, warnings, infos = (result.count(s) for s in (Severity.ERROR, Severity.WARNING, Severity.INFO))
    scope = f"{result.services} service{'s' if result.services != 1 else ''}, {result.files} files checked"
    if not result.findings:
        return f"[green]✔ no problems[/] ({scope})"
    total = len(result.findings)
    colour = "red" if errors else "yellow" if warnings else "cyan"
    return (
        f"[{colour}]✖ {total} problem{'s' if total != 1 else ''}[/] "
        f"({errors} error{'s' if errors != 1 else ''}, {warnings} warning{'s' if warnings != 1 else ''}, "
        f"{infos} info) in {scope}"
    )
