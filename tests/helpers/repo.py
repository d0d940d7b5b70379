"""Service repositories for tests: files written from a mapping, Git initialised, folders compared and
made read-only."""

from __future__ import annotations

import contextlib
import os
import subprocess
import textwrap
from pathlib import Path

import pytest


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
