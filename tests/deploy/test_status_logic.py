"""`darse status` rows from containers of the in-memory engine, a real Git repository and the history:
in sync, drifting (files or configuration), degraded, not deployed, unknown; ownership warnings."""

from __future__ import annotations

import pytest

from darse.deploy.status import DEGRADED, DRIFT, IN_SYNC, NOT_DEPLOYED, UNKNOWN, status
from darse.engine.docker import COMMIT_LABEL, SERVICE_HASH_LABEL, SERVICE_LABEL

from helpers.deploy_repo import Repo, make_repo


@pytest.fixture
def repo(tmp_path, monkeypatch) -> Repo:
    return make_repo(tmp_path, monkeypatch)


def _deploy_wiki(repo, ctx, *, web_hash="hw", db_hash="hd", health="healthy", revision=None):
    """What a successful `darse up wiki` leaves: a history row and two labelled containers."""
    revision = revision or repo.head()
    repo.record(ctx, "wiki", revision, images={"web": {"config": "hw"}, "db": {"config": "hd"}})
    for service, service_hash in (("web", web_hash), ("db", db_hash)):
        repo.fake.add_container(
            f"wiki-{service}-1",
            project="wiki",
            service=service,
            labels={COMMIT_LABEL: revision, SERVICE_LABEL: "wiki", SERVICE_HASH_LABEL: service_hash},
            health=health if service == "web" else "",
        )


def _rows(ctx):
    return {row.service: row for row in status(ctx)}


def test_in_sync_and_not_deployed(repo):
    ctx = repo.context()
    _deploy_wiki(repo, ctx)
    rows = _rows(ctx)
    wiki, pad = rows["wiki"], rows["pad"]
    assert (wiki.state, wiki.deployed_revision, wiki.head) == (IN_SYNC, repo.head(), repo.head())
    assert (wiki.total, wiki.running, wiki.healthy) == (2, 2, 2)
    assert (wiki.last_action, wiki.last_outcome, wiki.warnings) == ("up", "success", [])
    assert (pad.state, pad.deployed_revision, pad.total, pad.last_action) == (NOT_DEPLOYED, "", 0, "")


def test_an_unhealthy_or_stopped_container_is_degraded(repo):
    ctx = repo.context()
    _deploy_wiki(repo, ctx, health="unhealthy")
    wiki = _rows(ctx)["wiki"]
    assert (wiki.state, wiki.running, wiki.healthy) == (DEGRADED, 2, 1)
    for container in repo.fake.containers_by_id.values():
        container.state, container.health = "exited", ""
    wiki = _rows(ctx)["wiki"]
    assert (wiki.state, wiki.running, wiki.healthy) == (DEGRADED, 0, 0)


def test_no_container_of_a_deployed_service_is_degraded(repo):
    ctx = repo.context()
    repo.record(ctx, "wiki", repo.head())
    assert _rows(ctx)["wiki"].state == DEGRADED


def test_files_changed_since_the_deployment_are_drift(repo):
    ctx = repo.context()
    deployed = repo.head()
    _deploy_wiki(repo, ctx)
    repo.commit({"wiki/compose.yaml": "# a comment\n" + (repo.root / "wiki/compose.yaml").read_text()})
    repo.commit({"pad/README.md": "# pad\n"})  # another service's folder: not wiki's drift
    wiki = _rows(ctx)["wiki"]
    assert (wiki.state, wiki.deployed_revision, wiki.changed_files) == (DRIFT, deployed, ["wiki/compose.yaml"])
    assert not wiki.config_drift
    (repo.root / "wiki" / "notes.txt").write_text("not committed yet\n")
    assert _rows(ctx)["wiki"].changed_files == ["wiki/compose.yaml", "wiki/notes.txt"]


def test_a_container_changed_by_hand_is_config_drift(repo):
    ctx = repo.context()
    _deploy_wiki(repo, ctx, db_hash="edited-by-hand")
    wiki = _rows(ctx)["wiki"]
    assert (wiki.state, wiki.config_drift, wiki.changed_files) == (DRIFT, True, [])


def test_a_service_missing_from_the_recorded_ones_is_config_drift(repo):
    ctx = repo.context()
    _deploy_wiki(repo, ctx)
    db = next(c for c in repo.fake.containers_by_id.values() if c.name == "wiki-db-1")
    del repo.fake.containers_by_id[db.id]
    assert (_rows(ctx)["wiki"].state, _rows(ctx)["wiki"].config_drift) == (DRIFT, True)


def test_a_deployed_commit_unknown_to_git_is_unknown(repo):
    ctx = repo.context()
    _deploy_wiki(repo, ctx, revision="0123456789abcdef" * 2 + "01234567")
    assert _rows(ctx)["wiki"].state == UNKNOWN


def test_without_history_the_containers_labels_name_the_commit(repo):
    """Containers deployed by another host sharing the engine (or before the history was kept)."""
    ctx = repo.context()
    repo.fake.add_container(
        "pad-web-1", project="pad", service="web", labels={COMMIT_LABEL: repo.head(), SERVICE_LABEL: "pad"}
    )
    pad = _rows(ctx)["pad"]
    assert (pad.state, pad.deployed_revision, pad.last_action) == (IN_SYNC, repo.head(), "")


def test_containers_of_the_project_deployed_from_another_folder_are_named(repo):
    ctx = repo.context()
    repo.fake.add_container(
        "pad-web-1", project="pad", service="web", labels={COMMIT_LABEL: repo.head(), SERVICE_LABEL: "old/pad"}
    )
    assert _rows(ctx)["pad"].warnings == ["containers of project pad were deployed from old/pad"]


def test_one_engine_query_for_every_service(repo):
    """Status asks each engine once for every container of every project (the 50-services budget)."""
    calls = []
    original = repo.fake.containers

    def counted(**kwargs):
        calls.append(kwargs)
        return original(**kwargs)

    repo.fake.containers = counted  # type: ignore[method-assign]
    ctx = repo.context()
    _deploy_wiki(repo, ctx)
    status(ctx)
    assert len(calls) == 1
