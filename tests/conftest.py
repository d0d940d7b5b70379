"""Shared helpers: build a services repository in a temporary folder and lint it for real."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import subprocess
import textwrap
from pathlib import Path

import pytest

from darse.lint.linter import Linter, LintResult
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
