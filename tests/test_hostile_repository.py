"""A repository is untrusted input: a cloned darse.toml, Compose file or Dockerfile may be a link to
`/dev/zero`, a FIFO, or nested a hundred thousand levels deep. Every case ends quickly in one line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import GOOD_SERVICE, run_darse, write_tree


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
