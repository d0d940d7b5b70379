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

from darse import api
from darse.cli.output import print_json
from darse.errors import DarseError
from darse.fsutil import write_atomic
from darse.lint.commands import LintReport, rules_to_dict
from darse.lint.rule import Rule


class Format(StrEnum):
    text = "text"
    json = "json"
    sarif = "sarif"
    gnu = "gnu"  # path:line:col: severity: message [RULE], as compilers and hadolint print
    codeclimate = "codeclimate"  # GitLab's Code Quality report


class Level(StrEnum):
    error = "error"
    warning = "warning"
    info = "info"


def lint(
    arguments: list[str] = typer.Argument(
        None, metavar="[TARGETS]...", help="Paths (repository, service folder, file) or service names."
    ),
    output_format: Format = typer.Option(Format.text, "--format", "-f", help="Report format."),
    fail_on: Level = typer.Option(
        None,
        "--fail-on",
        help="Lowest severity that makes the exit code 1 [default: error, or lint.fail_on in darse.toml].",
    ),
    output: Path = typer.Option(None, "--output", "-o", help="Write the report to this file instead of stdout."),
    json_flag: bool = typer.Option(False, "--json", help="Same as --format json."),
    ignore: list[str] = typer.Option(
        None, "--ignore", metavar="RULE", help="Skip this rule (ID or name; repeat, or separate with commas)."
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="List the files read (on stderr)."),
    changed: bool = typer.Option(
        False, "--changed", help="Arguments are changed files (pre-commit): those outside any folder are ignored."
    ),
) -> None:
    """Check Dockerfiles, Compose files and the repository layout against the services guide."""
    if output is not None:
        _check_output(output)
    report = api.lint(
        arguments, Path.cwd(), ignore=ignore, changed=changed, fail_on=fail_on.value if fail_on else None
    )
    if verbose:
        err = Console(stderr=True, highlight=False)
        for path in report.read:
            err.print(f"read {escape(path)}")
    if json_flag:
        output_format = Format.json
    _render(report, output_format, output)
    raise typer.Exit(1 if report.failed else 0)


def _check_output(output: Path) -> None:
    """Refuse an unwritable `-o` before linting, in one line rather than a traceback afterwards."""
    if output.is_dir():
        raise DarseError(f"-o {output} is a folder", "give a file name, e.g. -o report.json")
    parent = output.parent
    if not parent.is_dir():
        raise DarseError(f"-o {output}: the folder {parent} does not exist", "create it first, or choose another path")


def _write(output: Path, document: str) -> None:
    try:
        write_atomic(output, document)
    except OSError as exc:
        hint = "check the path and its folder's permissions"
        raise DarseError(f"cannot write {output}: {exc.strerror}", hint) from None


def _render(report: LintReport, output_format: Format, output: Path | None) -> None:
    result = report.result
    if output_format is Format.text and output is None:
        from darse.lint.report.as_text import render_text

        render_text(result, Console(highlight=False))
        return
    if output_format is Format.json:
        document = json.dumps(report.to_dict(), indent=2)
    elif output_format is Format.sarif:
        from darse.lint.report.as_sarif import render_sarif

        document = render_sarif(result)
    elif output_format is Format.gnu:
        from darse.lint.report.as_gnu import render_gnu

        document = render_gnu(result)
        if not document:  # nothing found: no line at all, as compilers print nothing
            if output is not None:
                _write(output, "")
            return
    elif output_format is Format.codeclimate:
        from darse.lint.report.as_codeclimate import render_codeclimate

        document = render_codeclimate(result)
    else:
        from darse.lint.report.as_text import render_text

        console = Console(record=True, width=120, file=open("/dev/null", "w"))  # noqa: SIM115
        render_text(result, console)
        document = console.export_text()
    if output is None:
        sys.stdout.write(document + "\n")
    else:
        _write(output, document + "\n")


class RulesFormat(StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"


def rules(
    rule: str = typer.Argument(None, metavar="[RULE]", help="One rule (ID or name): its reason, examples, silencing."),
    json_flag: bool = typer.Option(False, "--json", help="Same as --format json."),
    output_format: RulesFormat = typer.Option(RulesFormat.text, "--format", "-f", help="markdown gives docs/rules.md."),
) -> None:
    """List every lint rule with its ID, severity and reason; or explain one rule."""
    if rule is not None:
        _show_rule(*api.rule(rule), json_flag or output_format is RulesFormat.json)
        return
    ordered = api.rules()
    if output_format is RulesFormat.markdown:
        from darse.lint.docs import rules_markdown

        sys.stdout.write(rules_markdown())
        return
    if json_flag or output_format is RulesFormat.json:
        print_json(rules_to_dict(ordered))
        return
    table = Table(show_lines=False, expand=False)
    for column in ("ID", "name", "severity", "title / reason"):
        table.add_column(column, overflow="fold")
    for rule in ordered:
        table.add_row(rule.id, rule.name, rule.severity.label, f"[bold]{escape(rule.title)}[/]\n{escape(rule.reason)}")
    Console().print(table)


def _show_rule(rule: Rule, details: dict[str, object], as_json: bool) -> None:
    """One rule as `darse rules RULE` shows it: what, why, an example that fires and its near miss."""
    if as_json:
        print_json(details)
        return
    console = Console(highlight=False, soft_wrap=True)
    console.print(f"[bold]{rule.id}[/]  {rule.name}  ({rule.severity.label}, checks the {details['checks']})")
    console.print(f"[bold]{escape(rule.title)}[/]")
    console.print()
    console.print(escape(rule.reason))
    example = details["example"]
    assert isinstance(example, dict)
    where = f" ({example['file']})" if example["file"] else ""
    for label, key in ((f"[red]Fires[/]{where}:", "fires"), (f"[green]Passes[/]{where}:", "passes")):
        if example[key]:
            console.print()
            console.print(label)
            for line in str(example[key]).rstrip("\n").split("\n"):
                console.print(f"    {escape(line)}")
    console.print()
    console.print("Silence it:")
    for way in details["silence"]:  # type: ignore[union-attr]
        console.print(f"  - {escape(str(way))}")


def register(app: typer.Typer) -> None:
    app.command("lint")(lint)
    app.command("rules")(rules)
