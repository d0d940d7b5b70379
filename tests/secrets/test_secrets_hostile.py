"""Secret files darse did not write: lines Compose reads otherwise than `KEY=value`, links to devices,
FIFOs. Reported by file, line and key, never by value; never read without end."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from helpers.cli import run_darse
from helpers.repo import git_init

EXAMPLES = Path(__file__).parent.parent.parent / "examples"
PLANTED = "Planted-Value-9f3c1e"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(EXAMPLES, root)
    git_init(root)
    assert run_darse("secrets", "init", "--all", cwd=root).exit_code == 0
    return root


@pytest.mark.parametrize(
    ("line", "why"),
    [
        (f"ADMIN_PASSWORD: {PLANTED}", "is written `KEY: value`"),
        (f'ADMIN_PASSWORD="{PLANTED}', "opens a quote it does not close"),
    ],
)
def test_lines_compose_reads_otherwise_are_named_by_line_and_key(repo: Path, line: str, why: str) -> None:
    real = repo / "pad" / "pad.secrets"
    real.write_text(f"# kept\n{line}\n")
    result = run_darse("secrets", "check", "pad", "--json", cwd=repo)
    assert result.exit_code == 1
    problems = json.loads(result.stdout)["problems"]
    syntax = [p for p in problems if p["kind"] == "syntax"]
    assert [(p["path"], p["key"]) for p in syntax] == [("pad/pad.secrets", "ADMIN_PASSWORD")]
    assert "pad/pad.secrets:2 (ADMIN_PASSWORD)" in syntax[0]["message"] and why in syntax[0]["message"]
    text = run_darse("secrets", "check", "pad", cwd=repo)
    assert PLANTED not in result.stdout + result.stderr + text.stdout + text.stderr


def test_plain_lines_are_not_reported(repo: Path) -> None:  # the near miss
    (repo / "pad" / "pad.secrets").write_text(f'export ADMIN_PASSWORD="{PLANTED}"  # quoted, closed\n')
    problems = json.loads(run_darse("secrets", "check", "pad", "--json", cwd=repo).stdout)["problems"]
    assert [p for p in problems if p["kind"] == "syntax"] == []


@pytest.mark.parametrize("kind", ["fifo", "link-to-dev-zero"])
def test_a_real_secret_file_that_is_not_a_regular_file_is_reported_not_read(repo: Path, kind: str) -> None:
    real = repo / "pad" / "pad.secrets"
    real.unlink()
    if kind == "fifo":
        os.mkfifo(real)
    else:
        real.symlink_to("/dev/zero")
    result = run_darse("secrets", "check", "pad", "--json", cwd=repo)
    problems = json.loads(result.stdout)["problems"]
    assert [(p["kind"], p["path"]) for p in problems if p["kind"] == "unreadable"] == [
        ("unreadable", "pad/pad.secrets")
    ]
    assert "not a regular file" in problems[0]["message"]


@pytest.mark.parametrize("target", ["/dev/zero", "/etc/passwd"])
def test_a_committed_example_linked_out_of_the_repository_is_refused(repo: Path, target: str) -> None:
    example = repo / "pad" / "pad.secrets.example"
    example.unlink()
    example.symlink_to(target)
    (repo / "pad" / "pad.secrets").unlink()
    result = run_darse("secrets", "init", "pad", cwd=repo)
    assert result.exit_code == 2
    assert f"is a link to {target}, outside the tree" in result.stderr
    assert not (repo / "pad" / "pad.secrets").exists()
