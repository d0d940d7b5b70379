"""`darse lint` and `darse rules`."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from darse.fsutil import write_atomic
from darse.lint.engine import Linter, LintResult
from darse.lint.rule import RULES, Severity
from darse.lint.targets import resolve_targets


class Format(StrEnum):
    text = "text"
    json = "json"
    sarif = "sarif"


class Level(StrEnum):
    error = "error"
    warning = "warning"
    info = "info"


def lint(
    targets: list[str] = typer.Argument(None, help="Paths (repository, service folder, file) or service names."),
    output_format: Format = typer.Option(Format.text, "--format", "-f", help="Report format."),
    fail_on: Level = typer.Option(
        None,
        "--fail-on",
        help="Lowest severity that makes the exit code 1 [default: error, or lint.fail_on in darse.toml].",
    ),
    output: Path = typer.Option(None, "--output", "-o", help="Write the report to this file instead of stdout."),
    json_flag: bool = typer.Option(False, "--json", help="Same as --format json."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="List the files read (on stderr)."),
    changed: bool = typer.Option(
        False, "--changed", help="Arguments are changed files (pre-commit): those outside any folder are ignored."
    ),
) -> None:
    """Check Dockerfiles, Compose files and the repository layout against the services guide."""
    chosen = resolve_targets(targets or [], Path.cwd(), changed=changed)
    linter = Linter(chosen.repository.config, chosen.repository)
    result = linter.lint_services(chosen.services, chosen.only)
    for path in chosen.loose_dockerfiles:
        extra = linter.lint_file(path)
        result.findings.extend(extra.findings)
        result.files += extra.files
        result.read.extend(extra.read)
    if verbose:
        err = Console(stderr=True, highlight=False)
        for path in result.read:
            err.print(f"read {escape(chosen.repository.relative(path))}")
    if json_flag:
        output_format = Format.json
    _render(result, output_format, output)
    threshold = Severity.parse((fail_on.value if fail_on else None) or chosen.repository.config.lint.fail_on)
    raise typer.Exit(1 if result.fails(threshold) else 0)


def _render(result: LintResult, output_format: Format, output: Path | None) -> None:
    if output_format is Format.text and output is None:
        from darse.lint.report.as_text import render_text

        render_text(result, Console(highlight=False))
        return
    if output_format is Format.json:
        from darse.lint.report.as_json import render_json

        document = render_json(result)
    elif output_format is Format.sarif:
        from darse.lint.report.as_sarif import render_sarif

        document = render_sarif(result)
    else:
        from darse.lint.report.as_text import render_text

        console = Console(record=True, width=120, file=open("/dev/null", "w"))  # noqa: SIM115
        render_text(result, console)
        document = console.export_text()
    if output is None:
        sys.stdout.write(document + "\n")
    else:
        write_atomic(output, document + "\n")


class RulesFormat(StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"


def rules(
    json_flag: bool = typer.Option(False, "--json", help="Same as --format json."),
    output_format: RulesFormat = typer.Option(RulesFormat.text, "--format", "-f", help="markdown gives docs/rules.md."),
) -> None:
    """List every lint rule with its ID, severity and reason."""
    ordered = sorted(RULES.values(), key=lambda r: r.id)
    if output_format is RulesFormat.markdown:
        from darse.lint.docs import rules_markdown

        sys.stdout.write(rules_markdown())
        return
    if json_flag or output_format is RulesFormat.json:
        data = [
            {"id": r.id, "name": r.name, "title": r.title, "severity": r.severity.label, "reason": r.reason}
            for r in ordered
        ]
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        return
    table = Table(show_lines=False, expand=False)
    for column in ("ID", "name", "severity", "title / reason"):
        table.add_column(column, overflow="fold")
    for rule in ordered:
        table.add_row(rule.id, rule.name, rule.severity.label, f"[bold]{escape(rule.title)}[/]\n{escape(rule.reason)}")
    Console().print(table)


def register(app: typer.Typer) -> None:
    app.command("lint")(lint)
    app.command("rules")(rules)
