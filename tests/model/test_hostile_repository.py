"""A repository is untrusted input: a cloned darse.toml, Compose file or Dockerfile may be a link to
`/dev/zero`, a FIFO, or nested a hundred thousand levels deep. Every case ends quickly in one line."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from helpers.cli import run_darse
from helpers.lint import GOOD_SERVICE
from helpers.repo import write_tree


def _deep_toml(path: Path) -> None:
    path.write_text("a = " + "[" * 100_000 + "]" * 100_000 + "\n")


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (_deep_toml, "nested too deeply"),
        (lambda p: p.symlink_to("/dev/zero"), "is a link to /dev/zero, outside the tree"),
        (lambda p: os.mkfifo(p), "is not a regular file"),
        (lambda p: p.write_bytes(b"x" * (2 * 1024 * 1024)), "larger than"),
    ],
    ids=["deep", "link-to-dev-zero", "fifo", "huge"],
)
def test_a_hostile_darse_toml_is_one_line(tmp_path: Path, make, needle: str) -> None:
    write_tree(tmp_path, {"svc/compose.yaml": GOOD_SERVICE})
    make(tmp_path / "darse.toml")
    result = run_darse("lint", cwd=tmp_path)
    assert result.exit_code == 2
    assert needle in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_darse_toml_linked_inside_the_repository_is_read(tmp_path: Path) -> None:  # the near miss
    write_tree(tmp_path, {"svc/compose.yaml": GOOD_SERVICE, "conf/darse.toml": "[lint]\ndisable = ['XX999']\n"})
    (tmp_path / "darse.toml").symlink_to("conf/darse.toml")
    result = run_darse("lint", cwd=tmp_path)
    assert result.exit_code == 2 and "unknown rule 'XX999'" in result.stderr  # it was read


@pytest.mark.parametrize(
    ("name", "make", "rule", "needle"),
    [
        ("compose.yaml", lambda p: p.symlink_to("/dev/zero"), "DC000", "is a link to /dev/zero, outside the tree"),
        ("compose.yaml", lambda p: os.mkfifo(p), "DC000", "is not a regular file"),
        ("compose.yaml", lambda p: p.write_bytes(b"#" * (5 * 1024 * 1024)), "DC000", "larger than"),
        ("Dockerfile", lambda p: os.mkfifo(p), "DF000", "is not a regular file"),
        ("Dockerfile", lambda p: p.symlink_to("/etc/passwd"), "DF000", "outside the tree"),
        ("CHANGELOG.md", lambda p: p.symlink_to("/dev/zero"), "RP009", "outside the tree"),
    ],
    ids=["compose-link", "compose-fifo", "compose-huge", "dockerfile-fifo", "dockerfile-link", "changelog-link"],
)
def test_lint_reports_files_it_refuses_to_read(tmp_path: Path, name: str, make, rule: str, needle: str) -> None:
    write_tree(tmp_path, {"svc/compose.yaml": GOOD_SERVICE, "svc/README.md": "# svc\n", "darse.toml": ""})
    target = tmp_path / "svc" / name
    target.unlink(missing_ok=True)
    make(target)
    result = run_darse("lint", "--format", "json", cwd=tmp_path)
    assert "Traceback" not in result.stdout + result.stderr
    findings = json.loads(result.stdout)["findings"]
    assert [(f["rule"], f["path"]) for f in findings if f["rule"] == rule] == [(rule, f"svc/{name}")]
    assert any(needle in f["message"] for f in findings if f["rule"] == rule)
    assert str(tmp_path) not in result.stdout  # paths are shown from the repository root


def test_a_changelog_not_read_is_not_also_said_to_name_no_version(tmp_path: Path) -> None:
    write_tree(tmp_path, {"svc/compose.yaml": GOOD_SERVICE, "svc/README.md": "# svc\n", "svc/Dockerfile": "FROM x\n"})
    (tmp_path / "svc" / "CHANGELOG.md").symlink_to("/etc/passwd")
    findings = json.loads(run_darse("lint", "--format", "json", cwd=tmp_path).stdout)["findings"]
    assert [f["rule"] for f in findings if f["path"] == "svc/CHANGELOG.md"] == ["RP009"]
