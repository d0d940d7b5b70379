"""`darse secrets init`: 0600 files from examples, linked values, never overwriting, .gitignore fixed,
all or nothing, and no generated value in any output unless --show."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from darse.model.dotenv import read_env_file
from darse.model.repository import open_repository
from darse.secrets import init_services

from helpers.cli import run_darse
from helpers.repo import git_init, read_only, snapshot, write_tree

EXAMPLES = Path(__file__).parent.parent.parent / "examples"
TOKEN = re.compile(r"^[A-Za-z0-9_-]{43,}$")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A copy of the bundled examples, committed (no real secret file yet)."""
    root = tmp_path / "repo"
    shutil.copytree(EXAMPLES, root)
    git_init(root)
    return root


def values(path: Path) -> dict[str, str]:
    return read_env_file(path)


def generated_values(root: Path) -> list[str]:
    """Every generated value now in a real secret file under root."""
    found = []
    for path in root.rglob("*.secrets"):
        found += [v for v in values(path).values() if TOKEN.match(v)]
    assert found, "no generated value to look for"
    return found


def test_init_creates_0600_files_with_linked_and_default_values(repo: Path) -> None:
    result = run_darse("secrets", "init", "wiki", cwd=repo)
    assert result.exit_code == 0, result.stderr
    app, db = repo / "wiki/secrets/wiki.secrets", repo / "wiki/secrets/wiki-db.secrets"
    assert app.stat().st_mode & 0o777 == 0o600 and db.stat().st_mode & 0o777 == 0o600
    app_values, db_values = values(app), values(db)
    assert app_values["DB_USER"] == "wiki" and db_values["POSTGRES_DB"] == "wiki"  # defaults kept
    assert TOKEN.match(app_values["DB_PASS"])
    assert app_values["DB_PASS"] == db_values["POSTGRES_PASSWORD"]  # linked by @generate:wiki-db-password
    assert not (repo / "pad/pad.secrets").exists()  # only the named service
    # comments of the example are kept, so the real file explains itself
    assert "# Must equal POSTGRES_PASSWORD" in app.read_text()


def test_unlinked_placeholders_get_distinct_values(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "svc/compose.yaml": "services:\n  app:\n    image: a/b:1.0\n    env_file: [./app.secrets]\n",
            "svc/app.secrets.example": "A=\nB=changeme\nC=<secret>\nD=@generate\nE=CHANGE_ME\nKEEP=plain\n",
        },
    )
    repository = open_repository(tmp_path)
    files = init_services(repository, repository.services)
    assert [f.action for f in files] == ["created"]
    real = values(tmp_path / "svc/app.secrets")
    generated = [real[k] for k in "ABCDE"]
    assert all(TOKEN.match(v) for v in generated) and len(set(generated)) == 5
    assert real["KEEP"] == "plain"
    assert all(v not in repr(files) for v in generated)  # the plan's repr leaves values out


def test_existing_files_are_never_overwritten_and_links_reuse_them(repo: Path) -> None:
    app = repo / "wiki/secrets/wiki.secrets"
    app.write_text("DB_USER=wiki\nDB_NAME=wiki\nDB_PASS=kept-value-from-before\n")
    before = app.read_bytes()
    result = run_darse("secrets", "init", "wiki", "--json", cwd=repo)
    assert result.exit_code == 0, result.stderr
    actions = {f["path"]: f["action"] for f in json.loads(result.stdout)["files"]}
    assert actions == {"wiki/secrets/wiki.secrets": "kept", "wiki/secrets/wiki-db.secrets": "created"}
    assert app.read_bytes() == before
    # the new database file gets the password the application already has
    assert values(repo / "wiki/secrets/wiki-db.secrets")["POSTGRES_PASSWORD"] == "kept-value-from-before"


def test_force_asks_and_regenerates_only_when_confirmed(repo: Path) -> None:
    assert run_darse("secrets", "init", "wiki", cwd=repo).exit_code == 0
    first = snapshot(repo)
    refused = run_darse("secrets", "init", "wiki", "--force", cwd=repo, input="n\n")
    assert refused.exit_code == 1
    assert "Regenerate" in refused.stderr and "nothing changed" in refused.stderr
    assert snapshot(repo) == first
    accepted = run_darse("secrets", "init", "wiki", "--force", cwd=repo, input="y\n")
    assert accepted.exit_code == 0, accepted.stderr
    app, db = values(repo / "wiki/secrets/wiki.secrets"), values(repo / "wiki/secrets/wiki-db.secrets")
    old = first["wiki/secrets/wiki.secrets"][0].decode()
    assert app["DB_PASS"] not in old
    assert app["DB_PASS"] == db["POSTGRES_PASSWORD"]
    assert (repo / "wiki/secrets/wiki.secrets").stat().st_mode & 0o777 == 0o600
    assert run_darse("secrets", "init", "wiki", "--force", "--yes", cwd=repo).exit_code == 0


def test_gitignore_is_created_or_fixed_and_git_agrees(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            ".gitignore": "node_modules/",  # no newline at the end
            "svc/compose.yaml": "services:\n  app:\n    image: a/b:1.0\n    env_file: [./app.secrets]\n",
            "svc/app.secrets.example": "TOKEN=\n",
        },
    )
    git_init(tmp_path)
    result = run_darse("secrets", "init", "svc", "--json", cwd=tmp_path)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["gitignore"] == {
        "path": ".gitignore",
        "changed": True,
        "fixed_for": ["svc/app.secrets"],
    }
    text = (tmp_path / ".gitignore").read_text()
    assert text.startswith("node_modules/\n") and "\n*.secrets\n" in text
    check = subprocess.run(["git", "-C", str(tmp_path), "check-ignore", "-q", "svc/app.secrets"], check=False)
    assert check.returncode == 0
    # a second run has nothing to fix
    again = run_darse("secrets", "init", "svc", "--json", cwd=tmp_path)
    assert json.loads(again.stdout)["gitignore"]["changed"] is False


def test_a_negated_secret_file_is_an_error_and_nothing_changes(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            ".gitignore": "*.secrets\n",
            "svc/.gitignore": "!app.secrets\n",
            "svc/compose.yaml": "services:\n  app:\n    image: a/b:1.0\n    env_file: [./app.secrets]\n",
            "svc/app.secrets.example": "TOKEN=\n",
        },
    )
    git_init(tmp_path)
    before = snapshot(tmp_path)
    result = run_darse("secrets", "init", "svc", cwd=tmp_path)
    assert result.exit_code == 2
    assert "svc/app.secrets is not ignored" in result.stderr
    assert snapshot(tmp_path) == before


def test_generated_values_never_appear_in_output_unless_show(repo: Path) -> None:
    outputs = []
    for args in (["--all"], ["--all", "--json"]):
        result = run_darse("secrets", "init", *args, cwd=repo)
        assert result.exit_code == 0
        outputs.append(result.stdout + result.stderr)
    for args in (["check"], ["check", "--json"], ["check", "--history"], ["diff", "wiki"], ["diff", "wiki", "--json"]):
        result = run_darse("secrets", *args, cwd=repo)
        outputs.append(result.stdout + result.stderr)
    secrets = generated_values(repo)
    for output in outputs:
        assert not [s for s in secrets if s in output]
    shown = run_darse("secrets", "init", "wiki", "--force", "--yes", "--show", cwd=repo)
    now = values(repo / "wiki/secrets/wiki.secrets")["DB_PASS"]
    assert f"DB_PASS={now}" in shown.stdout


def test_malformed_example_is_one_line_exit_2_and_changes_nothing(repo: Path) -> None:
    example = repo / "wiki/secrets/wiki-db.secrets.example"
    example.write_text(example.read_text() + "this-line-is-a-pasted-s3cret-value\n")
    before = snapshot(repo)
    result = run_darse("secrets", "init", "--all", cwd=repo)
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert "wiki/secrets/wiki-db.secrets.example:6: not a KEY=VALUE line" in result.stderr
    assert "s3cret" not in result.stderr + result.stdout
    assert snapshot(repo) == before  # pad's file was not created either


def test_non_writable_folder_is_one_line_exit_2_and_changes_nothing(repo: Path) -> None:
    before = snapshot(repo)
    with read_only(repo / "wiki/secrets"):
        result = run_darse("secrets", "init", "pad", "wiki", cwd=repo)
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "cannot write wiki/secrets/" in result.stderr
    assert snapshot(repo) == before  # pad.secrets, written first, was removed again
    assert not list((repo / "wiki/secrets").glob(".*.tmp"))


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["secrets", "init"], "name the services"),
        (["secrets", "init", "nosuch"], "'nosuch' is neither a file, a folder nor a service"),
        (["secrets", "init", "wiki", "--all"], "not both"),
        (["secrets", "diff", "nosuch"], "'nosuch' is neither"),
        (["secrets", "check", "nosuch"], "'nosuch' is neither"),
    ],
)
def test_user_errors_exit_2(repo: Path, args: list[str], needle: str) -> None:
    before = snapshot(repo)
    result = run_darse(*args, cwd=repo)
    assert result.exit_code == 2
    assert needle in result.stderr and result.stderr.count("\n") == 1
    assert snapshot(repo) == before


def test_real_cli_error_has_no_traceback(repo: Path) -> None:
    """The console script itself (not the in-process runner): one line, exit 2."""
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "darse", "secrets", "init", "nosuch"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
