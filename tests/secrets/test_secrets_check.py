"""`darse secrets check` and `diff`, and `check_service` as the deploy preflight calls it."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from darse.model.repository import open_repository
from darse.secrets import SecretProblem, check_service, diff_service

from helpers.cli import run_darse
from helpers.repo import git_init, write_tree

EXAMPLES = Path(__file__).parent.parent.parent / "examples"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """The bundled examples, committed, with every real secret file made by init."""
    root = tmp_path / "repo"
    shutil.copytree(EXAMPLES, root)
    git_init(root)
    assert run_darse("secrets", "init", "--all", cwd=root).exit_code == 0
    return root


def kinds(problems: list[SecretProblem]) -> list[tuple[str, str, str | None]]:
    return [(p.kind, p.path, p.key) for p in problems]


def preflight(root: Path, name: str) -> list[SecretProblem]:
    repository = open_repository(root)
    return check_service(repository, repository.service(name))


def test_clean_repository_checks_clean(repo: Path) -> None:
    result = run_darse("secrets", "check", "--json", cwd=repo)
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert document == {
        "schema": 1,
        "services": ["pad", "traefik", "wiki"],
        "history": False,
        "problems": [],
        "summary": {"problems": 0, "services": 3},
    }
    assert preflight(repo, "wiki") == []


def test_check_service_accepts_a_name(repo: Path) -> None:
    assert check_service(open_repository(repo), "wiki") == []


def test_missing_env_file(repo: Path) -> None:
    (repo / "wiki/secrets/wiki-db.secrets").unlink()
    problems = preflight(repo, "wiki")
    assert kinds(problems) == [("missing", "wiki/secrets/wiki-db.secrets", None)]
    assert "darse secrets init wiki" in problems[0].message
    result = run_darse("secrets", "check", "wiki", cwd=repo)
    assert result.exit_code == 1 and "missing" in result.stdout


def test_missing_env_file_without_example(tmp_path: Path) -> None:
    write_tree(tmp_path, {"svc/compose.yaml": "services:\n  app:\n    image: a/b:1.0\n    env_file: ./app.env\n"})
    assert kinds(preflight(tmp_path, "svc")) == [("missing", "svc/app.env", None)]


def test_missing_key_is_named_and_no_value_is_shown(repo: Path) -> None:
    real = repo / "wiki/secrets/wiki.secrets"
    text = real.read_text()
    secret = next(line.split("=", 1)[1] for line in text.splitlines() if line.startswith("DB_PASS="))
    real.write_text("\n".join(line for line in text.splitlines() if not line.startswith("DB_NAME=")) + "\n")
    problems = preflight(repo, "wiki")
    assert kinds(problems) == [("key-missing", "wiki/secrets/wiki.secrets", "DB_NAME")]
    result = run_darse("secrets", "check", "--json", cwd=repo)
    assert result.exit_code == 1 and secret not in result.stdout
    assert json.loads(result.stdout)["problems"][0]["key"] == "DB_NAME"


def test_example_copied_verbatim_leaves_placeholders(repo: Path) -> None:
    shutil.copy(repo / "pad/pad.secrets.example", repo / "pad/pad.secrets")  # keeps the example's 0644
    assert kinds(preflight(repo, "pad")) == [
        ("world-readable", "pad/pad.secrets", None),
        ("placeholder", "pad/pad.secrets", "ADMIN_PASSWORD"),
    ]


def test_linked_values_that_differ(repo: Path) -> None:
    real = repo / "wiki/secrets/wiki-db.secrets"
    lines = [line for line in real.read_text().splitlines() if not line.startswith("POSTGRES_PASSWORD=")]
    real.write_text("\n".join([*lines, "POSTGRES_PASSWORD=something-else"]) + "\n")
    problems = preflight(repo, "wiki")
    assert [p.kind for p in problems] == ["link-mismatch"]
    assert "DB_PASS in wiki/secrets/wiki.secrets" in problems[0].message
    assert "something-else" not in problems[0].message


def test_tracked_not_ignored_and_world_readable(repo: Path) -> None:
    subprocess.run(["git", "-C", str(repo), "add", "-f", "pad/pad.secrets"], check=True)
    (repo / ".gitignore").write_text("# nothing ignored any more\n")
    (repo / "wiki/secrets/wiki.secrets").chmod(0o640)  # group-readable: a shared checkout
    (repo / "wiki/secrets/wiki-db.secrets").chmod(0o604)
    result = run_darse("secrets", "check", "--json", cwd=repo)
    assert result.exit_code == 1
    found = {(p["kind"], p["path"]) for p in json.loads(result.stdout)["problems"]}
    assert found == {
        ("tracked", "pad/pad.secrets"),
        ("not-ignored", "wiki/secrets/wiki.secrets"),
        ("not-ignored", "wiki/secrets/wiki-db.secrets"),
        ("world-readable", "wiki/secrets/wiki-db.secrets"),
    }


def test_problem_shape_for_the_deploy_code(repo: Path) -> None:
    (repo / "pad/pad.secrets").unlink()
    (problem,) = preflight(repo, "pad")
    assert problem.to_dict() == {
        "path": "pad/pad.secrets",
        "kind": "missing",
        "message": "env_file pad/pad.secrets of service pad does not exist; run darse secrets init pad",
        "service": "pad",
        "key": None,
        "commit": None,
    }


def test_diff_lists_missing_and_extra_keys(repo: Path) -> None:
    real = repo / "wiki/secrets/wiki.secrets"
    lines = [line for line in real.read_text().splitlines() if not line.startswith("DB_USER=")]
    real.write_text("\n".join([*lines, "OLD_SETTING=x"]) + "\n")
    (repo / "wiki/secrets/wiki-db.secrets").unlink()
    result = run_darse("secrets", "diff", "wiki", "--json", cwd=repo)
    assert result.exit_code == 1
    assert json.loads(result.stdout) == {
        "schema": 1,
        "service": "wiki",
        "files": [
            {
                "path": "wiki/secrets/wiki-db.secrets",
                "example": "wiki/secrets/wiki-db.secrets.example",
                "exists": False,
                "missing": ["POSTGRES_USER", "POSTGRES_DB", "POSTGRES_PASSWORD"],
                "extra": [],
            },
            {
                "path": "wiki/secrets/wiki.secrets",
                "example": "wiki/secrets/wiki.secrets.example",
                "exists": True,
                "missing": ["DB_USER"],
                "extra": ["OLD_SETTING"],
            },
        ],
    }
    text = run_darse("secrets", "diff", "wiki", cwd=repo).stdout
    assert "- DB_USER" in text and "+ OLD_SETTING" in text


def test_diff_of_an_upgrade_adding_a_setting(repo: Path) -> None:
    example = repo / "pad/pad.secrets.example"
    example.write_text(example.read_text() + "# New in 2.1\nSMTP_PASSWORD=\n")
    diffs = diff_service(open_repository(repo), "pad")
    assert [(d.path, d.missing, d.extra) for d in diffs] == [("pad/pad.secrets", ["SMTP_PASSWORD"], [])]
    assert run_darse("secrets", "diff", "traefik", cwd=repo).exit_code == 0
