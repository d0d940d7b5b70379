"""`darse new`: every combination of options gives a folder that darse lint passes with zero findings
and that `docker compose config` accepts once `darse secrets init` has made the real secret files."""

from __future__ import annotations

import itertools
import json
import subprocess
from pathlib import Path

import pytest
import yaml

from darse.model.dotenv import read_env_file

from helpers.cli import run_darse
from helpers.lint import lint_tree
from helpers.repo import git_init, read_only, snapshot, write_tree

DATABASES = [None, "postgres", "mariadb", "mysql", "mongo", "redis"]
# --dockerfile: False (none), True (FROM the image), or a base image for `--app-version 2.0.3`
BASES = ["debian:trixie-slim", "ghcr.io/example/base:1.0-alpine"]
COMBINATIONS = list(itertools.product([None, 8080], DATABASES, [False, True, *BASES]))
CONFIG = 'proxy_network = "proxy"\ndomain = "example.org"\nregistry = "registry.example.org"\n'


def repository(root: Path, config: str = CONFIG) -> Path:
    write_tree(root, {"darse.toml": config, "README.md": "# services\n"})
    git_init(root)
    return root


def options(web: int | None, db: str | None, dockerfile: bool | str) -> list[str]:
    if isinstance(dockerfile, str):
        args = ["--image", dockerfile, "--app-version", "2.0.3"]
    else:
        args = ["--image", "ghcr.io/example/app:2.5.1"]
    if web is not None:
        args += ["--web", str(web)]
    if db is not None:
        args += ["--db", db]
    if dockerfile:
        args.append("--dockerfile")
    return args


def compose_config(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", "compose", "config", "--quiet"], cwd=folder, capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize(("web", "db", "dockerfile"), COMBINATIONS)
def test_every_combination_lints_clean_and_compose_accepts_it(
    tmp_path: Path, web: int | None, db: str | None, dockerfile: bool | str
) -> None:
    root = repository(tmp_path)
    result = run_darse("new", "app", *options(web, db, dockerfile), cwd=root)
    assert result.exit_code == 0, result.stderr
    assert "darse lint: no problems" in result.stdout
    lint = lint_tree(root)
    assert [(f.rule, f.path, f.line, f.message) for f in lint.findings] == []
    folder = root / "app"
    document = yaml.safe_load((folder / "compose.yaml").read_text())
    assert set(document["services"]) == ({"app", "app-db"} if db else {"app"})
    assert (folder / "Dockerfile").exists() == bool(dockerfile) == (folder / "CHANGELOG.md").exists()
    init = run_darse("secrets", "init", "app", cwd=root)
    assert init.exit_code == 0, init.stderr
    proc = compose_config(folder)
    assert proc.returncode == 0, proc.stderr
    # still clean once the real secret files exist (ignored by Git, 0600)
    assert lint_tree(root).findings == []
    assert run_darse("secrets", "check", cwd=root).exit_code == 0
    secrets = [v for p in folder.rglob("*.secrets") for v in read_env_file(p).values() if len(v) >= 43]
    assert bool(secrets) == (db is not None)  # without a database the example holds no key yet
    for output in (result.stdout, result.stderr, init.stdout, init.stderr, proc.stdout, proc.stderr):
        assert not [s for s in secrets if s in output]


@pytest.mark.parametrize("db", DATABASES[1:])
def test_app_and_database_share_the_generated_password(tmp_path: Path, db: str) -> None:
    root = repository(tmp_path)
    assert run_darse("new", "app", "--image", "example/app:1.0", "--db", db, cwd=root).exit_code == 0
    assert run_darse("secrets", "init", "app", cwd=root).exit_code == 0
    app = read_env_file(root / "app/secrets/app.secrets")
    database = read_env_file(root / "app/secrets/app-db.secrets")
    app_password = app["REDIS_PASSWORD" if db == "redis" else "DB_PASSWORD"]
    shared = [key for key, value in database.items() if value == app_password]
    assert len(app_password) >= 43 and len(shared) == 1
    # MariaDB's and MySQL's root password is generated apart (MongoDB's image only makes a root user)
    others = [v for k, v in database.items() if k.endswith("ROOT_PASSWORD") and k not in shared]
    assert len(others) == (1 if db in ("mariadb", "mysql") else 0) and app_password not in others


def test_web_service_is_routed_by_traefik_without_host_ports(tmp_path: Path) -> None:
    root = repository(tmp_path)
    assert run_darse("new", "wiki", "--image", "requarks/wiki:2.5", "--web", "3000", cwd=root).exit_code == 0
    document = yaml.safe_load((root / "wiki/compose.yaml").read_text())
    service = document["services"]["wiki"]
    assert "ports" not in service
    assert service["labels"]["traefik.http.routers.wiki.rule"] == "Host(`wiki.example.org`)"
    assert service["labels"]["traefik.http.services.wiki.loadbalancer.server.port"] == "3000"
    assert service["networks"] == ["proxy"] and document["networks"] == {"proxy": {"external": True}}
    assert service["restart"] == "unless-stopped" and service["init"] is True


def test_explicit_host_without_a_domain_and_no_registry(tmp_path: Path) -> None:
    root = repository(tmp_path, config="")
    result = run_darse(
        "new", "pad", "--image", "etherpad/etherpad:2.0.3", "--web", "9001", "--host", "pad.example.net",
        "--dockerfile", cwd=root,
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    compose = (root / "pad/compose.yaml").read_text()
    assert "Host(`pad.example.net`)" in compose and "image: pad:2.0.3" in compose
    assert "ARG PAD_VERSION=2.0.3" in (root / "pad/Dockerfile").read_text()
    assert "## 2.0.3" in (root / "pad/CHANGELOG.md").read_text()
    assert lint_tree(root).findings == []


def test_generated_files_read_as_written_by_hand(tmp_path: Path) -> None:
    root = repository(tmp_path)
    args = ["new", "wiki", "--image", "requarks/wiki:2.5", "--web", "3000", "--db", "postgres", "--dockerfile"]
    assert run_darse(*args, cwd=root).exit_code == 0
    compose = (root / "wiki/compose.yaml").read_text().splitlines()
    comments = [line for line in compose if line.strip().startswith("#")]
    assert len(comments) >= 15 and all(len(line) <= 120 for line in compose)
    readme = (root / "wiki/README.md").read_text()
    for section in ("## Settings", "## Volumes", "## Networks", "## Deploy", "## Upgrade"):
        assert section in readme
    assert "DB_PASSWORD" in readme and "wiki_db" in readme and "darse secrets init wiki" in readme


def test_json_report(tmp_path: Path) -> None:
    root = repository(tmp_path)
    result = run_darse("new", "app", "--image", "example/app:1.0", "--db", "redis", "--json", cwd=root)
    assert json.loads(result.stdout) == {
        "schema": 1,
        "service": "app",
        "files": [
            "app/README.md",
            "app/compose.yaml",
            "app/secrets/app-db.secrets.example",
            "app/secrets/app.secrets.example",
        ],
        "gitignore_fixed": True,
        "lint_findings": 0,
    }


def test_gitignore_is_fixed_for_the_future_secret_files(tmp_path: Path) -> None:
    root = repository(tmp_path)
    assert not (root / ".gitignore").exists()
    assert run_darse("new", "app", "--image", "example/app:1.0", cwd=root).exit_code == 0
    assert "*.secrets" in (root / ".gitignore").read_text().splitlines()


def test_existing_folder_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    root = repository(tmp_path)
    write_tree(root, {"app/notes.txt": "mine\n"})
    before = snapshot(root)
    result = run_darse("new", "app", "--image", "example/app:1.0", "--db", "postgres", cwd=root)
    assert result.exit_code == 2 and "app already exists" in result.stderr
    assert result.stderr.count("\n") == 1
    assert snapshot(root) == before


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["new", "App", "--image", "a/b:1.0"], "not a valid service name"),
        (["new", "../x", "--image", "a/b:1.0"], "not a valid service name"),
        (["new", "app", "--image", "a/b"], "no pinned tag"),
        (["new", "app", "--image", "a/b:latest"], "no pinned tag"),
        (["new", "app", "--image", "redis:alpine"], "a moving tag (alpine)"),
        (["new", "app", "--image", "postgres:16"], "a moving tag (16)"),
        (["new", "app", "--image", "a/b:1.0 # x"], "not an image reference"),
        (["new", "app", "--image", "a/b:1.0", "--host", "x.example.org"], "--host needs --web"),
        (["new", "app", "--image", "a/b:1.0", "--web", "0"], "not a port number"),
        (["new", "app", "--image", "a/b:1.0", "--web", "80", "--host", "bad host"], "not a host name"),
        (["new", "app", "--image", "postgres:16-alpine", "--dockerfile"], "a moving tag (16-alpine)"),
    ],
)
def test_bad_options_exit_2_and_write_nothing(tmp_path: Path, args: list[str], needle: str) -> None:
    root = repository(tmp_path)
    before = snapshot(root)
    result = run_darse(*args, cwd=root)
    assert result.exit_code == 2
    assert needle in result.stderr and result.stderr.count("\n") == 1
    assert snapshot(root) == before


def test_unknown_database_is_a_usage_error(tmp_path: Path) -> None:
    root = repository(tmp_path)
    result = run_darse("new", "app", "--image", "a/b:1.0", "--db", "oracle", cwd=root)
    assert result.exit_code == 2 and not (root / "app").exists()


def test_web_without_host_or_domain(tmp_path: Path) -> None:
    root = repository(tmp_path, config="")
    result = run_darse("new", "app", "--image", "a/b:1.0", "--web", "80", cwd=root)
    assert result.exit_code == 2 and "--web needs --host" in result.stderr


def test_non_writable_folder_exit_2_and_nothing_left(tmp_path: Path) -> None:
    root = repository(tmp_path)
    before = snapshot(root)
    with read_only(root):
        result = run_darse("new", "app", "--image", "example/app:1.0", "--db", "mysql", cwd=root)
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "cannot write in" in result.stderr
    assert snapshot(root) == before


def test_a_database_image_as_the_application_keeps_its_data_on_a_volume(tmp_path: Path) -> None:
    root = repository(tmp_path)
    result = run_darse("new", "cache", "--image", "valkey/valkey:8.0", "--dockerfile", cwd=root)
    assert result.exit_code == 0, result.stderr
    document = yaml.safe_load((root / "cache/compose.yaml").read_text())
    assert document["services"]["cache"]["volumes"] == ["cache-data:/data"]
    assert document["volumes"] == {"cache-data": {"name": "cache_data"}}
    assert lint_tree(root).findings == []
    refused = run_darse("new", "db", "--image", "postgres:16.4", "--web", "5432", cwd=root)
    assert refused.exit_code == 2 and "never published through Traefik" in refused.stderr


def test_new_inside_a_service_folder_is_refused(tmp_path: Path) -> None:
    root = repository(tmp_path)
    assert run_darse("new", "app", "--image", "example/app:1.0", cwd=root).exit_code == 0
    before = snapshot(root)
    result = run_darse("new", "other", "--image", "example/app:1.0", cwd=root / "app/secrets")
    assert result.exit_code == 2 and "inside the service app" in result.stderr
    assert snapshot(root) == before
    (root / "apps").mkdir()
    assert run_darse("new", "other", "--image", "example/app:1.0", cwd=root / "apps").exit_code == 0
    assert lint_tree(root).services == 2 and lint_tree(root).findings == []
