"""darse build / push / registry ls / rm end to end: real git repos, the real engine, the real registry."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from helpers.golden import check
from helpers.registry import RunningRegistry, darse, registry  # noqa: F401  (fixture)

GIT = ["git", "-c", "user.name=darse tests", "-c", "user.email=tests@darse.invalid", "-c", "init.defaultBranch=main"]
REMOTE = "https://git.example.org/ops/services.git"


def git(root: Path, *args: str, date: str | None = None) -> str:
    env = dict(os.environ)
    if date:
        env.update(GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
    return subprocess.run([*GIT, "-C", str(root), *args], check=True, capture_output=True, text=True, env=env).stdout


def write_service(root: Path, host: str, repository: str, version: str, extra: str = "") -> None:
    (root / "app").mkdir(parents=True, exist_ok=True)
    (root / "darse.toml").write_text(f'registry = "{host}"\n', encoding="utf-8")
    (root / "app" / "compose.yaml").write_text(
        f"services:\n  app:\n    image: {host}/{repository}:{version}\n    restart: unless-stopped\n    init: true\n",
        encoding="utf-8",
    )
    (root / "app" / "Dockerfile").write_text(
        f'FROM darse-test/busybox:base\nARG VERSION\nRUN echo "$VERSION" > /version{extra}\n', encoding="utf-8"
    )
    (root / "app" / "CHANGELOG.md").write_text(f"# Changelog\n\n## {version}\n\n- a version\n", encoding="utf-8")


def commit(root: Path, message: str, date: str) -> str:
    git(root, "add", "-A")
    git(root, "commit", "-qm", message, date=date)
    return git(root, "rev-parse", "HEAD").strip()


@pytest.fixture
def services(tmp_path: Path, registry: RunningRegistry, engine, busybox):  # noqa: F811
    """A services repository with one home-made image, committed, with an origin remote."""
    root = tmp_path / "services"
    root.mkdir()
    git(root, "init", "-q")
    git(root, "remote", "add", "origin", REMOTE)
    repository = f"darsetest{uuid.uuid4().hex[:8]}/app"
    write_service(root, registry.host, repository, "1.0.0")
    revision = commit(root, "app 1.0.0", "2024-03-01T10:00:00+01:00")
    yield root, repository, revision
    for image in engine.images.list(name=f"{registry.host}/{repository}"):
        engine.images.remove(image.id, force=True)


def run_json(result) -> list | dict:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def assert_no_password(reg: RunningRegistry, *texts: str) -> None:
    for password in reg.users.values():
        for text in texts:
            assert password not in text
        assert password not in reg.log_text()


def test_build_push_pull_list_delete(tmp_path, registry, services, engine) -> None:  # noqa: F811
    root, repository, revision = services
    built = darse("build", "app", "--json", cwd=root, env=registry.env())
    [result] = run_json(built)
    names = {str(root): "<ROOT>", repository: "<repository>", registry.host: "<registry>"}
    check("build", built.stdout, names)
    tag = f"{registry.host}/{repository}:1.0.0"
    assert result["tag"] == tag and result["version"] == "1.0.0" and result["size"] > 0
    labels = engine.images.get(tag).labels
    assert labels["org.opencontainers.image.version"] == "1.0.0"
    assert labels["org.opencontainers.image.revision"] == revision
    assert labels["org.opencontainers.image.created"] == "2024-03-01T09:00:00Z"
    assert labels["org.opencontainers.image.source"] == REMOTE
    assert engine.containers.run(tag, ["cat", "/version"], remove=True).strip() == b"1.0.0"

    pushed = darse("push", "app", "--json", cwd=root, env=registry.env())
    [push] = run_json(pushed)
    check("push", pushed.stdout, names)
    assert push["status"] == "pushed" and push["digest"].startswith("sha256:")
    pushed_again = darse("push", "app", "--json", cwd=root, env=registry.env())
    check("push-unchanged", pushed_again.stdout, names)
    again = run_json(pushed_again)
    assert again[0]["status"] == "unchanged" and again[0]["digest"] == push["digest"]

    # The Docker CLI pulls what darse pushed and gets the same digest.
    docker_config = tmp_path / "docker-config"
    docker_config.mkdir()
    cli_env = {**os.environ, "DOCKER_CONFIG": str(docker_config)}
    login = subprocess.run(
        ["docker", "login", registry.host, "-u", registry.user, "--password-stdin"],
        input=registry.password,
        capture_output=True,
        text=True,
        env=cli_env,
        check=False,
    )
    assert login.returncode == 0, login.stderr
    engine.images.remove(tag, force=True)
    pull = subprocess.run(["docker", "pull", tag], capture_output=True, text=True, env=cli_env, check=False)
    assert pull.returncode == 0, pull.stderr
    assert f"Digest: {push['digest']}" in pull.stdout

    listed = darse("registry", "ls", repository, "--json", cwd=root, env=registry.env())
    check("registry-ls", listed.stdout, names)
    listing = run_json(listed)
    assert [(r["tag"], r["digest"], r["created"]) for r in listing] == [
        ("1.0.0", push["digest"], "2024-03-01T09:00:00Z")
    ]
    assert listing[0]["size"] > 0
    catalog = run_json(darse("registry", "ls", "--json", cwd=root, env=registry.env()))
    assert any(r["repository"] == repository for r in catalog)

    refused = darse("registry", "rm", f"{repository}:1.0.0", cwd=root, env=registry.env(), stdin="")
    assert refused.returncode == 2 and f"{repository}:1.0.0" in refused.stderr and "--yes" in refused.stderr
    removal = darse("registry", "rm", f"{repository}:1.0.0", "--yes", "--json", cwd=root, env=registry.env())
    check("registry-rm", removal.stdout, names)
    removed = run_json(removal)
    assert removed == {"repository": repository, "digest": push["digest"], "tags": ["1.0.0"]}
    assert run_json(darse("registry", "ls", repository, "--json", cwd=root, env=registry.env())) == []
    outputs = [built.stdout, built.stderr, pushed.stdout, pushed.stderr, refused.stderr, login.stdout, pull.stdout]
    assert_no_password(registry, *outputs)


def test_another_image_under_a_pushed_version_is_refused(registry, services) -> None:  # noqa: F811
    root, _repository, _ = services
    run_json(darse("build", "app", "--json", cwd=root, env=registry.env()))
    first = run_json(darse("push", "app", "--json", "--latest", cwd=root, env=registry.env()))[0]
    assert first["latest"] is True
    dockerfile = root / "app" / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + "LABEL changed=yes\n")
    commit(root, "same version, other image", "2024-03-02T10:00:00+00:00")
    run_json(darse("build", "app", "--json", cwd=root, env=registry.env()))
    refused = darse("push", "app", cwd=root, env=registry.env())
    assert refused.returncode == 2
    assert "already exists in the registry as another image" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    forced = run_json(darse("push", "app", "--force", "--json", cwd=root, env=registry.env()))[0]
    assert forced["status"] == "overwritten" and forced["digest"] != first["digest"]


def test_wrong_password_is_one_line_exit_2(registry, services) -> None:  # noqa: F811
    root, _, _ = services
    run_json(darse("build", "app", "--json", cwd=root, env=registry.env()))
    wrong = "wrong-" + uuid.uuid4().hex
    result = darse("push", "app", cwd=root, env=registry.env(DARSE_REGISTRY_PASSWORD=wrong))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"darse: authentication failed for {registry.user} at {registry.host} (hint: check the user and password "
        "(DARSE_REGISTRY_USER / DARSE_REGISTRY_PASSWORD or docker login))"
    ]
    assert wrong not in result.stdout + result.stderr
    assert_no_password(registry, result.stdout, result.stderr)


def test_credentials_from_docker_config_and_helper(tmp_path, registry, services) -> None:  # noqa: F811
    root, repository, _ = services
    run_json(darse("build", "app", "--json", cwd=root, env=registry.env()))
    env = registry.env()
    del env["DARSE_REGISTRY_USER"], env["DARSE_REGISTRY_PASSWORD"]
    config = tmp_path / "dockercfg"
    config.mkdir()
    auth = base64.b64encode(f"{registry.user}:{registry.password}".encode()).decode()
    (config / "config.json").write_text(json.dumps({"auths": {registry.host: {"auth": auth}}}))
    env["DOCKER_CONFIG"] = str(config)
    pushed = run_json(darse("push", "app", "--json", cwd=root, env=env))
    assert pushed[0]["status"] == "pushed"
    # A credential helper (here a script on PATH) answers for the second user.
    helper_dir = tmp_path / "bin"
    helper_dir.mkdir()
    helper = helper_dir / "docker-credential-darsetest"
    second = list(registry.users)[1]
    answer = json.dumps({"ServerURL": registry.host, "Username": second, "Secret": registry.users[second]})
    helper.write_text(f"#!/bin/sh\nread host\n[ \"$host\" = '{registry.host}' ] || exit 1\necho '{answer}'\n")
    helper.chmod(0o700)
    (config / "config.json").write_text(json.dumps({"credHelpers": {registry.host: "darsetest"}}))
    env["PATH"] = f"{helper_dir}:{env['PATH']}"
    listed = run_json(darse("registry", "ls", repository, "--json", cwd=root, env=env))
    assert [r["tag"] for r in listed] == ["1.0.0"]
    no_login = darse("registry", "ls", repository, cwd=root, env={**env, "DOCKER_CONFIG": str(tmp_path)})
    assert no_login.returncode == 2 and "requires authentication" in no_login.stderr


def test_same_commit_twice_same_labels_and_old_commit_elsewhere(tmp_path, registry, services, engine) -> None:  # noqa: F811
    root, repository, first_revision = services
    first = run_json(darse("build", "app", "--json", cwd=root, env=registry.env()))[0]
    second = run_json(darse("build", "app", "--no-cache", "--json", cwd=root, env=registry.env()))[0]
    assert first["labels"] == second["labels"]
    write_service(root, registry.host, repository, "1.1.0")
    newer = commit(root, "app 1.1.0", "2025-06-01T12:00:00+00:00")
    assert newer != first_revision
    old = tmp_path / "old-checkout"
    git(root, "worktree", "add", "-q", "--detach", str(old), first_revision)
    try:
        rebuilt = run_json(darse("build", "app", "--json", cwd=old, env=registry.env()))[0]
    finally:
        git(root, "worktree", "remove", "--force", str(old))
    assert rebuilt["version"] == "1.0.0"
    assert rebuilt["labels"] == first["labels"]
    assert rebuilt["labels"]["org.opencontainers.image.revision"] == first_revision
    created = datetime.fromisoformat(rebuilt["labels"]["org.opencontainers.image.created"])
    assert created == datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
    current = run_json(darse("build", "app", "--json", cwd=root, env=registry.env()))[0]
    assert current["labels"]["org.opencontainers.image.revision"] == newer
    assert current["tag"].endswith(":1.1.0")


def test_dirty_tree_and_tag_mismatch_are_refused(registry, services, engine) -> None:  # noqa: F811
    root, repository, _ = services
    (root / "app" / "notes.txt").write_text("uncommitted\n")
    dirty = darse("build", "app", cwd=root, env=registry.env())
    assert dirty.returncode == 2 and "uncommitted changes" in dirty.stderr and "--allow-dirty" in dirty.stderr
    allowed = run_json(darse("build", "app", "--allow-dirty", "--json", cwd=root, env=registry.env()))
    assert allowed[0]["version"] == "1.0.0"
    (root / "app" / "notes.txt").unlink()
    changelog = root / "app" / "CHANGELOG.md"
    changelog.write_text("# Changelog\n\n## 1.0.1\n\n- bump without the compose tag\n")
    commit(root, "bump only the changelog", "2024-03-03T10:00:00+00:00")
    mismatch = darse("build", "app", cwd=root, env=registry.env())
    assert mismatch.returncode == 2
    assert "deploys tag 1.0.0 but CHANGELOG.md's latest version is 1.0.1" in mismatch.stderr
    assert not engine.images.list(name=f"{registry.host}/{repository}:1.0.1")


def test_build_and_push_services_as_library_calls(registry, services, monkeypatch) -> None:  # noqa: F811
    """The orchestration behind `darse build/push`, called directly: one progress task per image, then done."""
    from darse.images.build import build_services
    from darse.images.push import push_services
    from darse.progress import Event

    root, repository, revision = services
    for name, value in registry.env().items():
        monkeypatch.setenv(name, value)
    tag = f"{registry.host}/{repository}:1.0.0"
    events: list[Event] = []
    [built] = build_services(root / "app", ["app"], listener=events.append)
    assert built.to_dict()["tag"] == tag and built.to_dict()["labels"]["org.opencontainers.image.revision"] == revision
    assert {e.task for e in events} == {f"building {tag}"}
    assert any(e.detail for e in events) and events[-1].done
    events.clear()
    [pushed] = push_services(root, ["app"], latest=True, listener=events.append)
    assert pushed.to_dict()["status"] == "pushed" and pushed.latest
    assert {e.task for e in events} == {f"pushing {tag}"} and events[-1].done
    [again] = push_services(root, ["app"])
    assert again.status == "unchanged" and again.digest == pushed.digest


def test_build_services_checks_everything_before_connecting(registry, services, monkeypatch) -> None:  # noqa: F811
    """A dirty service is refused before the engine is even asked: nothing is half-built."""
    import darse.images.build as building
    from darse.errors import DarseError

    root, _, _ = services

    def no_engine(**_kwargs):
        raise AssertionError("connected before every check passed")

    monkeypatch.setattr(building, "connect", no_engine)
    (root / "app" / "notes.txt").write_text("uncommitted\n")
    with pytest.raises(DarseError, match="uncommitted changes"):
        building.build_services(root, ["app"])
    with pytest.raises(DarseError):
        building.build_services(root, ["absent"])
