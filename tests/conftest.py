"""Shared helpers: build a services repository in a temporary folder and lint it for real."""

from __future__ import annotations

import datetime as dt
import subprocess
import textwrap
from pathlib import Path

import pytest

from darse.lint.engine import Linter, LintResult
from darse.model.repository import open_repository

from engine_support import busybox, engine, project_name  # noqa: F401  (fixtures of the engine tests)

# A fixed date keeps end-of-life checks deterministic.
TODAY = dt.date(2026, 11, 22)


def write_tree(root: Path, files: dict[str, str]) -> Path:
    """Write `{"svc/compose.yaml": "...", ...}` under root (text is dedented)."""
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return root


def git_init(root: Path, commit: bool = True) -> None:
    """Make `root` a Git repository (with one commit of everything present when `commit`)."""
    env_args = ["-c", "user.name=darse tests", "-c", "user.email=tests@darse.invalid", "-c", "init.defaultBranch=main"]
    subprocess.run(["git", *env_args, "init", "-q", str(root)], check=True)
    if commit:
        subprocess.run(["git", "-C", str(root), "add", "-A"], check=True)
        subprocess.run(["git", *env_args, "-C", str(root), "commit", "-qm", "initial", "--allow-empty"], check=True)


def lint_tree(root: Path, files: dict[str, str] | None = None, today: dt.date = TODAY) -> LintResult:
    """Write `files` under `root` (if given) and lint every service of the repository."""
    if files:
        write_tree(root, files)
    repository = open_repository(root)
    return Linter(repository.config, repository, today=today).lint_services(repository.services)


def rule_hits(result: LintResult, rule: str) -> list[tuple[str, int, int]]:
    """(path, line, column) of every finding of one rule."""
    return [(f.path, f.line, f.column) for f in result.findings if f.rule == rule]


@pytest.fixture
def lint(tmp_path: Path):
    """`lint({"svc/compose.yaml": ...})` → LintResult, in a fresh temporary repository."""

    def run(files: dict[str, str], today: dt.date = TODAY) -> LintResult:
        return lint_tree(tmp_path, files, today)

    return run


# A Compose service that passes every rule; tests change one thing at a time from it.
GOOD_SERVICE = """
services:
  app:
    image: example/app:1.0
    restart: unless-stopped
    init: true
"""
