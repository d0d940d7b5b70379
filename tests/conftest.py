"""Shared fixtures only: `lint`, and the engine's. Helpers that test modules import live in the
`helpers` package (tests/helpers/)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from darse.lint.linter import LintResult

from helpers.engine import busybox, engine, project_name  # noqa: F401  (fixtures of the engine tests)
from helpers.lint import TODAY, lint_tree
from helpers.sshd import sshd  # noqa: F401  (the test SSH server)
from helpers.swarm_nodes import swarm, swarm_cluster  # noqa: F401  (the three-node Swarm)


@pytest.fixture
def lint(tmp_path: Path):
    """`lint({"svc/compose.yaml": ...})` → LintResult, in a fresh temporary repository."""

    def run(files: dict[str, str], today: dt.date = TODAY) -> LintResult:
        return lint_tree(tmp_path, files, today)

    return run



