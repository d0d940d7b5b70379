"""`darse secrets check --history`: a secret file committed then deleted, literals added to Compose
files and Dockerfiles then removed, each named by commit and path; never a value."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from darse.model.repository import open_repository
from darse.secrets import scan_leaks

from helpers.cli import run_darse
from helpers.repo import git_init, write_tree

GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@darse.invalid"]
LEAK = "Xq9-leaked-value-7Hh2"
GOOD = """
services:
  app:
    image: a/b:1.0
    restart: unless-stopped
    init: true
    env_file: [./app.secrets]
    environment:
      DB_PASSWORD: ${DB_PASSWORD}
      POSTGRES_PASSWORD_FILE: /run/secrets/db
"""


def commit(root: Path, message: str, *add: str) -> str:
    subprocess.run(["git", "-C", str(root), "add", "-A", "-f", *add], check=True)
    subprocess.run([*GIT, "-C", str(root), "commit", "-qm", message], check=True)
    out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
    return out.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    write_tree(
        tmp_path,
        {
            ".gitignore": "*.secrets\n",
            "svc/compose.yaml": GOOD,
            "svc/app.secrets.example": "TOKEN=\n",
            "other/compose.yaml": GOOD,
            "other/app.secrets.example": "TOKEN=\n",
        },
    )
    git_init(tmp_path)
    return tmp_path


def test_clean_history(repo: Path) -> None:
    assert scan_leaks(open_repository(repo)) == []


def test_secret_file_committed_then_deleted_names_the_commit(repo: Path) -> None:
    (repo / "svc/app.secrets").write_text(f"TOKEN={LEAK}\n")
    leaked = commit(repo, "oops", "svc/app.secrets")
    subprocess.run(["git", "-C", str(repo), "rm", "-q", "--cached", "svc/app.secrets"], check=True)
    subprocess.run([*GIT, "-C", str(repo), "commit", "-qm", "remove it"], check=True)
    (repo / "svc/app.secrets").unlink()
    result = run_darse("secrets", "check", "--history", "--json", cwd=repo)
    assert result.exit_code == 1
    problems = [p for p in json.loads(result.stdout)["problems"] if p["kind"] == "history-file"]
    assert problems == [
        {
            "path": "svc/app.secrets",
            "kind": "history-file",
            "message": problems[0]["message"],
            "service": "svc",
            "key": None,
            "commit": leaked,
        }
    ]
    assert leaked[:12] in problems[0]["message"]
    text = run_darse("secrets", "check", "--history", cwd=repo)
    assert leaked[:12] in text.stdout and "svc/app.secrets" in text.stdout
    assert LEAK not in text.stdout + text.stderr + result.stdout


def test_literals_added_then_removed_are_found(repo: Path) -> None:
    (repo / "svc/compose.yaml").write_text(GOOD.replace("${DB_PASSWORD}", LEAK))
    (repo / "svc/Dockerfile").write_text(f"FROM alpine:3.22\nENV API_TOKEN={LEAK} MODE=prod\nARG SECRET_KEY {LEAK}\n")
    (repo / "other/docker-compose.override.yml").write_text(
        f"services:\n  app:\n    environment:\n      - API_KEY={LEAK}\n"
    )
    added = commit(repo, "literals")
    (repo / "svc/compose.yaml").write_text(GOOD)
    (repo / "svc/Dockerfile").unlink()
    (repo / "other/docker-compose.override.yml").unlink()
    commit(repo, "clean up")
    problems = scan_leaks(open_repository(repo))
    found = {(p.kind, p.path, p.key, p.commit, p.service) for p in problems}
    assert found == {
        ("history-literal", "svc/compose.yaml", "DB_PASSWORD", added, "svc"),
        ("history-literal", "svc/Dockerfile", "API_TOKEN", added, "svc"),
        ("history-literal", "svc/Dockerfile", "SECRET_KEY", added, "svc"),
        ("history-literal", "other/docker-compose.override.yml", "API_KEY", added, "other"),
    }
    assert all(LEAK not in p.message for p in problems)


def test_key_shaped_values_anywhere_in_a_compose_file(repo: Path) -> None:
    (repo / "svc/compose.yaml").write_text(GOOD + "    command: --token ghp_" + "a" * 36 + "\n")
    added = commit(repo, "token")
    (repo / "svc/run.Dockerfile").write_text("FROM alpine:3.22\nRUN echo -----BEGIN RSA PRIVATE KEY-----\n")
    dockerfile = commit(repo, "key")
    problems = scan_leaks(open_repository(repo))
    assert [(p.kind, p.path, p.key, p.commit) for p in problems] == [
        ("history-literal", "svc/run.Dockerfile", None, dockerfile),
        ("history-literal", "svc/compose.yaml", "command", added),
    ]


def test_history_of_named_services_only(repo: Path) -> None:
    (repo / "svc/app.secrets").write_text("TOKEN=x\n")
    (repo / "other/app.secrets").write_text("TOKEN=y\n")
    commit(repo, "both", "svc/app.secrets", "other/app.secrets")
    repository = open_repository(repo)
    only = scan_leaks(repository, [repository.service("other")])
    assert [(p.path, p.service) for p in only] == [("other/app.secrets", "other")]
    result = run_darse("secrets", "check", "other", "--history", "--json", cwd=repo)
    paths = {p["path"] for p in json.loads(result.stdout)["problems"]}
    assert "svc/app.secrets" not in paths and "other/app.secrets" in paths


def test_history_of_a_repository_below_the_git_top(tmp_path: Path) -> None:
    write_tree(tmp_path, {"infra/darse.toml": "", "infra/svc/compose.yaml": GOOD, "infra/svc/app.secrets": "T=1\n"})
    git_init(tmp_path)
    problems = scan_leaks(open_repository(tmp_path / "infra"))
    assert [(p.path, p.kind) for p in problems] == [("svc/app.secrets", "history-file")]


def test_empty_repository_and_no_repository(tmp_path: Path) -> None:
    write_tree(tmp_path, {"svc/compose.yaml": GOOD, "svc/app.secrets.example": "TOKEN=\n"})
    result = run_darse("secrets", "check", "--history", cwd=tmp_path)
    assert result.exit_code == 2 and "not in a Git repository" in result.stderr
    git_init(tmp_path, commit=False)
    assert scan_leaks(open_repository(tmp_path)) == []
