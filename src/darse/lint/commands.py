"""`darse lint` and `darse rules` as library calls: a selection in, a report with `to_dict()` out."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from darse import __version__
from darse.config import RepoConfig
from darse.lint.linter import Linter, LintResult, resolve_rule
from darse.lint.rule import RULES, Rule, Severity
from darse.lint.selection import resolve_selection
from darse.model.repository import Repository

SCHEMA = 1


@dataclass
class LintReport:
    """The findings of one run, the repository they are about, and the severity that fails the run."""

    result: LintResult
    repository: Repository
    threshold: Severity

    @property
    def failed(self) -> bool:
        return self.result.fails(self.threshold)

    @property
    def read(self) -> list[str]:
        """The files read, relative to the repository root (`-v`)."""
        return [self.repository.relative(path) for path in self.result.read]

    def to_dict(self) -> dict[str, Any]:
        """`darse lint --format json`: schema 1, documented in docs/rules.md."""
        result = self.result
        return {
            "schema": SCHEMA,
            "tool": {"name": "darse", "version": __version__},
            "summary": {
                "errors": result.count(Severity.ERROR),
                "warnings": result.count(Severity.WARNING),
                "info": result.count(Severity.INFO),
                "services": result.services,
                "images": result.images,  # image folders: Dockerfiles and no Compose file
                "files": result.files,
            },
            "findings": [finding.to_dict() for finding in result.findings],
        }


def lint(
    arguments: list[str] | None,
    start: Path,
    *,
    ignore: list[str] | None = None,
    changed: bool = False,
    fail_on: str | None = None,
) -> LintReport:
    """Lint what `arguments` name (paths or service names; the whole repository when none) from `start`.

    `ignore` skips rules for this run on top of darse.toml's `[lint] disable`; `changed` takes the
    arguments as changed files (pre-commit); `fail_on` overrides `lint.fail_on`."""
    chosen = resolve_selection(arguments or [], start, changed=changed)
    config = _with_ignored(chosen.repository.config, ignore or [])
    linter = Linter(config, chosen.repository)
    result = linter.lint_services(chosen.services, chosen.only)
    for path in chosen.loose_dockerfiles:
        extra = linter.lint_file(path)
        result.findings.extend(extra.findings)
        result.files += extra.files
        result.read.extend(extra.read)
    threshold = Severity.parse(fail_on or chosen.repository.config.lint.fail_on)
    return LintReport(result, chosen.repository, threshold)


def _with_ignored(config: RepoConfig, ignore: list[str]) -> RepoConfig:
    """`--ignore` adds to darse.toml's `[lint] disable` for this run (unknown rules are refused)."""
    keys = [key.strip() for value in ignore for key in value.split(",") if key.strip()]
    if not keys:
        return config
    ids = {resolve_rule(key).id for key in keys}
    return replace(config, lint=replace(config.lint, disable=frozenset(config.lint.disable) | ids))


def rules() -> list[Rule]:
    """Every rule, by ID."""
    return sorted(RULES.values(), key=lambda r: r.id)


def rules_to_dict(chosen: list[Rule]) -> list[dict[str, str]]:
    """`darse rules --json`."""
    return [
        {"id": r.id, "name": r.name, "title": r.title, "severity": r.severity.label, "reason": r.reason}
        for r in chosen
    ]


def rule(key: str) -> tuple[Rule, dict[str, object]]:
    """One rule by ID or name, with its details: why, an example that fires and its near miss, silencing."""
    from darse.lint.docs import rule_details

    found = resolve_rule(key)
    return found, rule_details(found)
