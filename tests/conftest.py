"""Shared fixtures (`lint`, the engine's), and helpers to run the CLI in-process and compare folders.

The lint helpers live in tests/helpers/lint.py; the names imported from there are re-exported here
for the test modules that import them from conftest."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import subprocess
from pathlib import Path

import pytest
from helpers.lint import (  # noqa: F401  (re-exported: many test modules import them from conftest)
    GOOD_SERVICE,
    TODAY,
    git_init,
    lint_tree,
    rule_hits,
    write_tree,
)

from darse.lint.linter import LintResult

from engine_support import busybox, engine, project_name  # noqa: F401  (fixtures of the engine tests)


@pytest.fixture
def lint(tmp_path: Path):
    """`lint({"svc/compose.yaml": ...})` → LintResult, in a fresh temporary repository."""

    def run(files: dict[str, str], today: dt.date = TODAY) -> LintResult:
        return lint_tree(tmp_path, files, today)

    return run


def run_darse(*args: str, cwd: Path, input: str | None = None):
    """Run the `darse` CLI in-process (typer's CliRunner) from `cwd`; a DarseError ends as `run()` ends
    it: exit status 2 and one line on stderr. Returns the runner's Result (stdout, stderr, exit_code)."""
    from typer.testing import CliRunner

    from darse.cli import main
    from darse.errors import DarseError

    if not getattr(main, "_registered_for_tests", False):
        main._register()
        main._registered_for_tests = True
    previous = Path.cwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(main.app, list(args), input=input, env={"NO_COLOR": "1", "COLUMNS": "200"})
    finally:
        os.chdir(previous)
    if isinstance(result.exception, DarseError):
        result.exit_code = 2
        result.stderr_bytes = (result.stderr_bytes or b"") + f"darse: {result.exception.one_line()}\n".encode()
    return result


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file and folder under root (Git's own excepted) with its content and mode, to compare."""
    out: dict[str, tuple[bytes, int]] = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if relative == ".git" or relative.startswith(".git/"):
            continue
        content = path.read_bytes() if path.is_file() else b"<dir>"
        out[relative] = (content, path.stat().st_mode & 0o7777)
    return out


@contextlib.contextmanager
def read_only(folder: Path):
    """Make `folder` unwritable even for root (`chattr +i` as root, `chmod 555` otherwise)."""
    if os.geteuid() == 0:
        if subprocess.run(["chattr", "+i", str(folder)], capture_output=True, check=False).returncode != 0:
            pytest.fail("chattr +i is not supported on this file system; the read-only tests need it")
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
    else:
        mode = folder.stat().st_mode
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(mode)
