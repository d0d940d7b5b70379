"""`darse backup plan` as a user runs it: JSON that is the plan's `to_dict()`, a readable view, one-line
errors with exit status 2, and never the repository's password or a database's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers.cli import run_darse
from helpers.repo import git_init, write_tree

SECRET = "db-root-Secret-99"
FILES = {
    "darse.toml": '[backup]\nrepository = "rest:https://u:repo-Secret-77@host/r"\nkeep = { daily = 7 }\n'
    '[backup.services.blog]\nexclude = ["cache"]\n',
    "blog/compose.yaml": """
        services:
          db:
            image: mariadb:11.4
            env_file: db.secrets
            volumes: [mysql:/var/lib/mysql]
          app:
            image: example/blog:1.0
            volumes: [uploads:/uploads, cache:/cache]
        volumes:
          mysql:
          uploads:
          cache:
        """,
    "blog/db.secrets": f"MARIADB_ROOT_PASSWORD={SECRET}\n",
}


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = write_tree(tmp_path_factory.mktemp("cli") / "fleet", FILES)
    git_init(root)
    return root


def test_json(repo: Path) -> None:
    result = run_darse("backup", "plan", "--json", cwd=repo)
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["schema"] == 1 and document["configured"] is True
    assert document["repository"] == "rest:https://u:****@host/r"
    [blog] = document["services"]
    assert {v["name"]: v["action"] for v in blog["volumes"]} == {
        "blog_mysql": "dump",
        "blog_uploads": "copy",
        "blog_cache": "excluded",
    }
    assert [(d["service"], d["kind"], d["user"], d["replaces"]) for d in blog["dumps"]] == [
        ("db", "mariadb", "root", ["blog_mysql"])
    ]
    assert SECRET not in result.stdout and "repo-Secret-77" not in result.stdout


def test_human_view(repo: Path) -> None:
    result = run_darse("backup", "plan", "blog", cwd=repo)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "repository rest:https://u:****@host/r"
    assert "  volume    blog_mysql: dump of db" in lines
    assert "  volume    blog_cache: excluded" in lines
    assert any(line.startswith("  dump      db: mariadb, mariadb-dump") and "as root" in line for line in lines)
    assert SECRET not in result.stdout and "repo-Secret-77" not in result.stdout


def test_an_unknown_folder_is_one_line_and_exit_2(repo: Path) -> None:
    result = run_darse("backup", "plan", "blgo", cwd=repo)
    assert result.exit_code == 2
    assert result.stderr.strip() == f"darse: no service named 'blgo' in {repo} (hint: did you mean blog?)"
