"""The JSON of every command that needs no engine, held to golden files (tests/golden/).

Each command runs as users run it (`python -m darse` in a Git repository in a temporary folder) on the
bundled examples and the bad-repo fixtures; `helpers.golden` says what is normalised. The commands that
need an engine, a registry or a Swarm have their golden files checked in the integration tests.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.golden import check
from helpers.inspect_tars import docker_save, layer_tar, member

PROJECT = Path(__file__).resolve().parent.parent


def _git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=darse", "-c", "user.email=dev@darse.invalid", *args],
        cwd=root, check=True, capture_output=True,
    )  # fmt: skip


def darse(cwd: Path, *args: str, stdin: str | None = None, code: int | None = 0) -> str:
    env = {**os.environ, "NO_COLOR": "1", "DARSE_STATE_DIR": str(cwd / ".state")}
    proc = subprocess.run(
        [sys.executable, "-m", "darse", *args], cwd=cwd, env=env, input=stdin,
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    if code is not None:
        assert proc.returncode == code, proc.stdout + proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def examples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("golden") / "services"
    shutil.copytree(PROJECT / "examples", root)
    (root / ".gitignore").write_text("*.secrets\n")
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "examples")
    return root


@pytest.fixture(scope="module")
def bad_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("golden") / "bad"
    shutil.copytree(PROJECT / "tests" / "fixtures" / "bad-repo", root)
    return root


def test_rules(examples: Path) -> None:
    check("rules", darse(examples, "rules", "--json"))
    check("rules-DC010", darse(examples, "rules", "DC010", "--json"))


@pytest.mark.parametrize("output_format", ["json", "sarif", "codeclimate"])
def test_lint_examples_and_bad_repo(examples: Path, bad_repo: Path, output_format: str) -> None:
    check(f"lint-examples-{output_format}", darse(examples, "lint", "--format", output_format))
    out = darse(bad_repo, "lint", "--format", output_format, "--fail-on", "info", code=1)
    check(f"lint-bad-repo-{output_format}", out, {str(bad_repo): "<ROOT>"})


def test_new_and_secrets(examples: Path, tmp_path: Path) -> None:
    root = tmp_path / "services"
    shutil.copytree(examples, root)
    out = darse(root, "new", "notes", "--image", "requarks/wiki:2.5", "--web", "3000", "--db", "postgres", "--json")
    check("new", out)
    check("secrets-init", darse(root, "secrets", "init", "notes", "--json"))
    check("secrets-check", darse(root, "secrets", "check", "--json", code=None))
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "notes")
    check("secrets-check-history", darse(root, "secrets", "check", "--history", "--json", code=None))
    check("secrets-diff", darse(root, "secrets", "diff", "notes", "--json", code=None))


def test_registry_users(tmp_path: Path) -> None:
    htpasswd = tmp_path / "htpasswd"
    add = ("registry", "user", "add", "alice", "--htpasswd", str(htpasswd), "--password-stdin", "--no-restart")
    out = darse(tmp_path, *add, "--cost", "4", "--json", stdin="a-long-password-for-alice\n")
    check("registry-user-add", out, {str(tmp_path): "<TMP>"})
    check("registry-user-list", darse(tmp_path, "registry", "user", "list", "--htpasswd", str(htpasswd), "--json"),
          {str(tmp_path): "<TMP>"})  # fmt: skip
    remove = ("registry", "user", "remove", "alice", "--htpasswd", str(htpasswd), "--no-restart", "--json")
    check("registry-user-remove", darse(tmp_path, *remove), {str(tmp_path): "<TMP>"})
    check("registry-init", darse(tmp_path, "registry", "init", "reg", "--host", "registry.example.org", "--json"),
          {str(tmp_path): "<TMP>"})  # fmt: skip


def test_inspect_archive(tmp_path: Path) -> None:
    base = layer_tar(member("bin/"), member("bin/busybox", b"\x7fELF" + b"x" * 2000, mode=0o755),
                     member("etc/os-release", b'ID=debian\nVERSION_ID="12"\n'))  # fmt: skip
    top = layer_tar(member("app/"), member("app/big.bin", b"y" * 5000), member("etc/.wh.os-release"))
    archive = tmp_path / "image.tar"
    archive.write_bytes(docker_save([base, top], User="root", Env=["PATH=/bin", "DB_PASSWORD=hunter2"]))
    replacements = {str(tmp_path): "<TMP>"}
    check("inspect", darse(tmp_path, "inspect", str(archive), "--json"), replacements)
    check("inspect-sarif", darse(tmp_path, "inspect", str(archive), "--format", "sarif"), replacements)
    check("inspect-ls", darse(tmp_path, "inspect", str(archive), "--ls", "--layer", "0", "--json"), replacements)
    out = darse(tmp_path, "inspect", str(archive), "--extract", "/etc/os-release", "--layer", "0",
                "-o", str(tmp_path / "os-release"), "--json")  # fmt: skip
    check("inspect-extract", out, replacements)
    ci = darse(tmp_path, "inspect", str(archive), "--ci", "--forbid-root", "--json", code=1)
    check("inspect-ci", ci, replacements)
