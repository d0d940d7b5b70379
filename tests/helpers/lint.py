"""Build a services repository in a temporary folder and lint it for real, then compare one rule's findings.

The rule tests (tests/lint/rules/, one module per module of darse.lint.rules) lint a real service
folder `app/`: a Compose case is `app/compose.yaml` plus extra files by path from the repository root,
a Dockerfile case is `app/Dockerfile` beside a compose.yaml like GOOD_SERVICE. Each compares the full
list of one rule's findings, so an extra, missing or misplaced finding fails; a near miss also checks
that the file was read (no DC000 / DF000), or it would pass for the wrong reason.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType

from darse.lint.linter import Linter, LintResult
from darse.lint.rule import RULES
from darse.model.git import GitInfo
from darse.model.repository import open_repository

from helpers.repo import git_init, write_tree

# A fixed date keeps end-of-life checks deterministic.
TODAY = dt.date(2026, 11, 22)

COMPOSE = "app/compose.yaml"
DOCKERFILE = "app/Dockerfile"
Lint = Callable[..., LintResult]  # the `lint` fixture of conftest.py

# A Compose service that passes every rule; tests change one thing at a time from it.
GOOD_SERVICE = """
services:
  app:
    image: example/app:1.0
    restart: unless-stopped
    init: true
"""

# Restart policy and init supplied by a YAML merge key, as many real files do.
MERGED_DEFAULTS = """
x-defaults: &defaults
  restart: unless-stopped
  init: true
services:
  app:
    <<: *defaults
    image: example/app:1.0
"""


def lint_tree(root: Path, files: dict[str, str] | None = None, today: dt.date = TODAY) -> LintResult:
    """Write `files` under `root` (if given) and lint every service of the repository."""
    if files:
        write_tree(root, files)
    repository = open_repository(root)
    return Linter(repository.config, repository, today=today).lint_services(repository.services)


def rule_hits(result: LintResult, rule: str) -> list[tuple[str, int, int]]:
    """(path, line, column) of every finding of one rule."""
    return [(f.path, f.line, f.column) for f in result.findings if f.rule == rule]


# --- Compose and Dockerfile cases ----------------------------------------------------------------


def lint_compose(lint: Lint, compose: str, files: dict[str, str] | None = None) -> LintResult:
    """Lint `app/compose.yaml` with extra files given by path from the repository root."""
    return lint({COMPOSE: compose, **(files or {})})


def assert_compose_fires(
    lint: Lint, rule: str, compose: str, files: dict[str, str], positions: list[tuple[int, int]]
) -> None:
    """`positions` are (line, column) in app/compose.yaml, or (path, line, column) in another file."""
    result = lint_compose(lint, compose, files)
    expected = [where if len(where) == 3 else (COMPOSE, *where) for where in positions]
    assert rule_hits(result, rule) == expected


def assert_compose_near_miss(lint: Lint, rule: str, compose: str, files: dict[str, str]) -> None:
    result = lint_compose(lint, compose, files)
    assert rule_hits(result, rule) == []
    if rule != "DC000":
        assert rule_hits(result, "DC000") == [], "the file must parse for the near miss to mean anything"


def lint_dockerfile(lint: Lint, dockerfile: str, compose: str = GOOD_SERVICE) -> LintResult:
    """Lint `app/Dockerfile` beside `app/compose.yaml`."""
    return lint({COMPOSE: compose, DOCKERFILE: dockerfile})


def assert_dockerfile_fires(
    lint: Lint, rule: str, dockerfile: str, positions: list[tuple[int, int]], compose: str = GOOD_SERVICE
) -> None:
    result = lint_dockerfile(lint, dockerfile, compose)
    assert rule_hits(result, rule) == [(DOCKERFILE, line, column) for line, column in positions]


def assert_dockerfile_near_miss(lint: Lint, rule: str, dockerfile: str, compose: str = GOOD_SERVICE) -> None:
    result = lint_dockerfile(lint, dockerfile, compose)
    assert rule_hits(result, rule) == []
    assert rule_hits(result, "DF000") == []


def rules_of(module: ModuleType) -> set[str]:
    """IDs of the rules a module of darse.lint.rules registers: its checks, or its parse rules."""
    held = {id(value) for value in vars(module).values()}
    return {
        rule.id
        for rule in RULES.values()
        if (rule.check is not None and rule.check.__module__ == module.__name__) or id(rule) in held
    }


def case_rules(*cases: Iterable) -> set[str]:
    """The rules a list of `pytest.param(rule, ...)` cases are about."""
    return {case.values[0] for group in cases for case in group}


# --- repository cases: special files, and the Git state --------------------------------------------

NO_GIT = None  # no repository at all


class Link(str):
    """A file written as a symbolic link to this target (absolute, or relative to the link)."""


class Fifo(str):
    """A file written as a FIFO (a read of it would block for ever)."""


def make_repository(root: Path, tracked: tuple[str, ...]) -> None:
    """A Git repository whose one commit holds exactly `tracked`, force-added even if ignored."""
    git_init(root, commit=False)
    identity = ["-c", "user.name=darse tests", "-c", "user.email=tests@darse.invalid"]
    if tracked:
        subprocess.run(["git", "-C", str(root), "add", "-f", "--", *tracked], check=True)
    subprocess.run(["git", *identity, "-C", str(root), "commit", "-qm", "initial", "--allow-empty"], check=True)


def lint_repository(root: Path, files: dict[str, str], git: tuple[str, ...] | None) -> LintResult:
    """Write `files` (Link and Fifo values as such), commit `git` (NO_GIT: no repository) and lint."""
    write_tree(root, {path: text for path, text in files.items() if not isinstance(text, Link | Fifo)})
    for path, special in files.items():
        if isinstance(special, Link):
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).symlink_to(special.replace("{outside}", str(root.parent / "outside.txt")))
            (root.parent / "outside.txt").write_text("## 9.9.9\nHOST=1\n")
        elif isinstance(special, Fifo):
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            os.mkfifo(root / path)
    if git is NO_GIT:
        assert not GitInfo(root).is_repository, "the temporary folder must not be inside a Git work tree"
    else:
        make_repository(root, git)
    return lint_tree(root)
