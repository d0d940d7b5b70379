"""Every rule fires on its deliberately bad service, and nothing else fires there.

tests/fixtures/bad-repo holds one service folder per rule, named after the rules expected to fire
(`df014+dc005-...`). Real secret files cannot live in darse's own Git tree, so they are stored as
`*.secrets.in` and renamed in the temporary copy, which is then made a Git repository where one secret
is tracked by mistake and one is not ignored.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from darse.lint.rule import RULES

from helpers.lint import git_init, lint_tree

BAD_REPO = Path(__file__).parent.parent / "fixtures" / "bad-repo"
# top-level folders holding a service (`rp010/` only holds one deeper, colliding with rp010-project-collision)
FOLDERS = sorted(p.name for p in BAD_REPO.iterdir() if p.is_dir() and any(f.is_file() for f in p.iterdir()))


def expected_rules(folder: str) -> set[str]:
    return {part.upper() for part in folder.split("-", 1)[0].split("+")}


@pytest.fixture(scope="module")
def bad_result(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("bad") / "repo"
    shutil.copytree(BAD_REPO, root)
    for stored in root.rglob("*.secrets.in"):
        stored.rename(stored.with_suffix(""))
    outside = root.parent / "outside.env"  # a committed link leaving the repository (RP009)
    outside.write_text("HOST_SETTING=1\n")
    (root / "rp009-unsafe-file" / ".env").symlink_to(outside)
    (root / ".gitignore").write_text("*.secrets\n!/rp007-secret-not-ignored/*.secrets\n")
    git_init(root, commit=False)
    subprocess.run(["git", "-C", str(root), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(root), "add", "-f", "rp006-secret-tracked/app.secrets"], check=True)
    return root, lint_tree(root)


@pytest.mark.parametrize("folder", FOLDERS)
def test_each_bad_service_fires_exactly_its_rules(bad_result, folder: str) -> None:
    _root, result = bad_result
    fired = {f.rule for f in result.findings if f.service == folder}
    assert fired == expected_rules(folder)


def test_every_rule_has_a_bad_service() -> None:
    covered = set().union(*(expected_rules(folder) for folder in FOLDERS))
    assert covered == set(RULES)


def test_findings_point_at_existing_lines(bad_result) -> None:
    root, result = bad_result
    for finding in result.findings:
        lines = (root / finding.path).read_text().splitlines()
        assert 1 <= finding.line <= max(len(lines), 1), finding
        assert finding.column >= 1
