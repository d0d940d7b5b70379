"""`darse status` rows from containers of the in-memory engine, a real Git repository and the history:
in sync, drifting (files or configuration), degraded, not deployed, unknown; ownership warnings."""

from __future__ import annotations

import fcntl
import os
import threading

import pytest

from darse.deploy.context import DeployContext
from darse.deploy.status import (
    DEGRADED,
    DEPLOYING,
    DOWN,
    DRIFT,
    IN_SYNC,
    NOT_DEPLOYED,
    UNKNOWN,
    UNREACHABLE,
    report,
    status,
)
from darse.engine.docker import COMMIT_LABEL, SERVICE_HASH_LABEL, SERVICE_LABEL
from darse.errors import DarseError
from darse.history import Deployment
from darse.state import is_locked, project_lock

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


# -- one target that does not answer, a service brought down, a deployment in progress -------------------


def _ghost_context(repo, asked):
    """pad on the target `ghost`, whose engine refuses; wiki on the local (fake) one."""
    toml = '[targets.ghost]\nhost = "tcp://ghost.invalid:2375"\n[services."pad"]\ntarget = "ghost"\n'
    repo.commit({"darse.toml": toml})

    def connect(endpoint):
        asked.append(endpoint)
        if endpoint.docker_host == "tcp://ghost.invalid:2375":
            raise DarseError("cannot reach the Docker engine at tcp://ghost.invalid:2375 (TimeoutError)", "start it")
        return repo.fake.connect(endpoint)

    return DeployContext.open(repo.root, connect_engine=connect)


def test_an_unreachable_target_leaves_the_other_rows_exact(repo):
    asked = []
    ctx = _ghost_context(repo, asked)
    _deploy_wiki(repo, ctx)
    repo.record(ctx, "pad", repo.head())
    result = report(ctx)
    rows = {row.service: row for row in result.rows}
    assert (rows["wiki"].state, rows["wiki"].total, rows["wiki"].error) == (IN_SYNC, 2, "")
    pad = rows["pad"]
    assert (pad.state, pad.deployed_revision, pad.last_action, pad.target) == (UNREACHABLE, repo.head(), "up", "ghost")
    assert pad.error == "cannot reach the Docker engine at tcp://ghost.invalid:2375 (TimeoutError) (start it)"
    assert [(t.target, t.services, t.hint) for t in result.unreachable] == [("ghost", ["pad"], "start it")]
    as_json = {row["service"]: row for row in result.to_dict()["services"]}
    assert not result.complete and as_json["pad"]["containers"] is None and as_json["wiki"]["containers"]
    with pytest.raises(DarseError, match=r"ghost\.invalid"):  # asked once per context: no second timeout
        ctx.engine_for(ctx.service("pad"))
    assert [e.docker_host for e in asked].count("tcp://ghost.invalid:2375") == 1


def test_targets_are_asked_in_parallel(repo):
    """Two engines each wait for the other to be asked: only asked together do they both answer."""
    repo.commit({"darse.toml": '[targets.far]\nhost = "tcp://far.invalid:2375"\n[services."pad"]\ntarget = "far"\n'})
    both = threading.Barrier(2, timeout=10)

    def connect(endpoint):
        both.wait()  # raises BrokenBarrierError when the other engine is not asked meanwhile
        return repo.fake.connect(endpoint)

    ctx = DeployContext.open(repo.root, connect_engine=connect)
    assert {row.state for row in report(ctx).rows} == {NOT_DEPLOYED}


def test_a_service_brought_down_is_down(repo):
    ctx = repo.context()
    repo.record(ctx, "wiki", repo.head(), images={"web": {"config": "hw"}, "db": {"config": "hd"}})
    repo.record(ctx, "wiki", repo.head(), action="down", config_hash="")
    wiki = _rows(ctx)["wiki"]
    assert (wiki.state, wiki.total, wiki.last_action, wiki.changed_files) == (DOWN, 0, "down", [])
    repo.record(ctx, "pad", repo.head())
    repo.record(ctx, "pad", repo.head(), action="down", outcome="failed")  # a failed down is no down
    assert _rows(ctx)["pad"].state == DEGRADED


def test_a_container_running_after_a_down_is_not_down(repo):
    ctx = repo.context()
    _deploy_wiki(repo, ctx)
    repo.record(ctx, "wiki", repo.head(), action="down --volumes", config_hash="")
    assert _rows(ctx)["wiki"].state == IN_SYNC  # started again by hand, as deployed
    for container in repo.fake.containers_by_id.values():
        container.state, container.health = "exited", ""
    assert _rows(ctx)["wiki"].state == DOWN


def test_a_deployment_in_progress_is_deploying_without_a_drift_verdict(repo):
    ctx = repo.context()
    _deploy_wiki(repo, ctx, db_hash="the-new-one")  # mid-deploy: one container already replaced
    with project_lock(ctx.state, "wiki"):
        assert is_locked(ctx.state, "wiki") and not is_locked(ctx.state, "pad")
        wiki = _rows(ctx)["wiki"]
        assert (wiki.state, wiki.config_drift, wiki.total) == (DEPLOYING, False, 2)
    assert not is_locked(ctx.state, "wiki")
    assert _rows(ctx)["wiki"].state == DRIFT  # the same containers with the lock free: changed by hand


def test_a_record_left_in_progress_without_the_lock_is_a_warning(repo):
    """darse was killed mid-deploy: the record stays in progress but nobody holds the lock."""
    ctx = repo.context()
    _deploy_wiki(repo, ctx)
    ctx.history.start(Deployment("wiki", "wiki", str(repo.root), "up", repo.head(), False, "h2"))
    wiki = _rows(ctx)["wiki"]
    assert (wiki.state, wiki.last_outcome) == (IN_SYNC, "in-progress")
    assert len(wiki.warnings) == 1 and "never finished" in wiki.warnings[0]


def test_a_probe_of_the_lock_never_makes_a_deployment_fail(repo, monkeypatch):
    """A deployment that finds the lock taken by a probe waits for it rather than refusing."""
    ctx = repo.context()
    (ctx.state / "locks").mkdir(exist_ok=True)
    (ctx.state / "locks" / "wiki.lock").touch()
    probe = os.open(ctx.state / "locks" / "wiki.lock", os.O_RDONLY)
    fcntl.flock(probe, fcntl.LOCK_SH)  # what is_locked holds for an instant
    threading.Timer(0.1, os.close, (probe,)).start()
    with project_lock(ctx.state, "wiki"):
        assert is_locked(ctx.state, "wiki")
