"""The parts of `darse up` around `docker compose up`, on the in-memory engine: the post-up check
(a restart loop, an exited or unhealthy container, a service without container), the skip when
everything already runs, the labels kept or renewed, the images recorded, external networks."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from darse.deploy.up import Source, _all_current, _check_stable, _images, _labels, failed_containers
from darse.engine.compose import ComposeResult, Endpoint
from darse.engine.docker import COMMIT_LABEL, SERVICE_HASH_LABEL, SERVICE_LABEL, TIME_LABEL
from darse.errors import DarseError

from helpers.deploy_repo import Repo, make_repo

LONG_AGO = "2026-01-01T00:00:00.000000000Z"
WEB_ID, DB_ID = "sha256:" + "1" * 64, "sha256:" + "2" * 64


@pytest.fixture
def repo(tmp_path, monkeypatch) -> Repo:
    return make_repo(tmp_path, monkeypatch)


def _fresh(repo, deployed_at="2026-11-22T10:00:00Z", **web_state):
    """Containers just created by a deployment stamped `deployed_at`, and the labels it asked for."""
    labels = {name: {TIME_LABEL: deployed_at, SERVICE_LABEL: "wiki"} for name in ("web", "db")}
    web = repo.fake.add_container(
        "wiki-web-1", project="wiki", service="web", labels=labels["web"], started_at=LONG_AGO, **web_state
    )
    db = repo.fake.add_container("wiki-db-1", project="wiki", service="db", labels=labels["db"], started_at=LONG_AGO)
    return labels, web, db


def test_stable_containers_pass_the_post_up_check(repo):
    engine = repo.context().engine_at(_endpoint())
    labels, _, _ = _fresh(repo, health="healthy")
    result, unstable = _check_stable(engine, engine.containers(project="wiki"), labels, ComposeResult(0, "ok"))
    assert result.ok and unstable == set()


def test_a_restart_loop_is_caught(repo):
    """`compose up --wait` accepts a container without healthcheck as soon as it runs, even one that
    exits at once under a restart policy: its restart count gives it away."""
    engine = repo.context().engine_at(_endpoint())
    labels, web, _ = _fresh(repo, restart_count=3)
    result, unstable = _check_stable(engine, engine.containers(project="wiki"), labels, ComposeResult(0, "up"))
    assert not result.ok and unstable == {web.id}
    assert result.output.splitlines() == ["up", "container wiki-web-1 exited or restarted"]


def test_an_exited_container_and_a_missing_service_are_caught(repo):
    engine = repo.context().engine_at(_endpoint())
    labels, web, _db = _fresh(repo, state="exited")
    labels["cache"] = {TIME_LABEL: "2026-11-22T10:00:00Z"}
    result, unstable = _check_stable(engine, engine.containers(project="wiki"), labels, ComposeResult(0, ""))
    assert not result.ok and unstable == {web.id}
    assert "service cache has no container" in result.output


def test_containers_of_an_earlier_deployment_are_not_inspected(repo):
    """A container kept as it was (same configuration) carries its own deployment's time: its restarts
    over weeks are not this deployment's failure."""
    engine = repo.context().engine_at(_endpoint())
    labels, web, _ = _fresh(repo)
    web.labels[TIME_LABEL], web.restart_count = "2026-10-01T00:00:00Z", 7
    result, unstable = _check_stable(engine, engine.containers(project="wiki"), labels, ComposeResult(0, ""))
    assert result.ok and unstable == set()


def test_a_container_that_just_started_is_looked_at_again(repo):
    engine = repo.context().engine_at(_endpoint())
    _labels_asked, web, db = _fresh(repo)
    web.started_at = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f000Z")
    started = time.perf_counter()
    assert engine.restarted([web.id, db.id], settle=0.3) == []
    assert time.perf_counter() - started >= 0.1  # waited for it to have run a while
    web.health, web.healthcheck = "healthy", True  # with a healthcheck, compose's wait is the signal
    started = time.perf_counter()
    assert engine.restarted([web.id], settle=5) == []
    assert time.perf_counter() - started < 1


def test_failures_name_unhealthy_and_unstable_containers_with_masked_logs(repo):
    engine = repo.context().engine_at(_endpoint())
    _, _web, db = _fresh(repo, health="unhealthy", logs=b"line 1\npassword=hunter2\n")
    db.logs = b"db up\n"
    failures = failed_containers(
        engine, engine.containers(project="wiki"), {db.id}, lambda text: text.replace("hunter2", "****")
    )
    assert [(f.name, f.state, f.health, f.logs) for f in failures] == [
        ("wiki-web-1", "running", "unhealthy", "line 1\npassword=****\n"),
        ("wiki-db-1", "running", "", "db up\n"),
    ]


def test_unchanged_and_healthy_skips_compose(repo):
    engine = repo.context().engine_at(_endpoint())
    repo.fake.add_image("example/wiki:2.5", WEB_ID)
    repo.fake.add_image("example/postgres:16", DB_ID)
    declared = {"web": "example/wiki:2.5", "db": "example/postgres:16"}
    web = repo.fake.add_container("wiki-web-1", project="wiki", service="web", image_id=WEB_ID, health="healthy")
    repo.fake.add_container("wiki-db-1", project="wiki", service="db", image_id=DB_ID)
    assert _all_current(engine, engine.containers(project="wiki"), declared)
    repo.fake.add_image("example/wiki:2.5", "sha256:" + "3" * 64)  # the tag was rebuilt or pulled again
    assert not _all_current(engine, engine.containers(project="wiki"), declared)
    repo.fake.add_image("example/wiki:2.5", WEB_ID)
    web.health = "starting"
    assert not _all_current(engine, engine.containers(project="wiki"), declared)
    web.health = "healthy"
    repo.fake.add_container("wiki-web-2", project="wiki", service="web", image_id=WEB_ID)  # scaled by hand
    assert not _all_current(engine, engine.containers(project="wiki"), declared)


def test_labels_kept_for_an_unchanged_service_renewed_for_a_changed_one(repo):
    ctx = repo.context()
    service = ctx.service("wiki")
    source = Source(service, "wiki", service.compose_path, repo.head(), dirty=False)
    old = {COMMIT_LABEL: "old", SERVICE_LABEL: "wiki", TIME_LABEL: "2026-10-01T00:00:00Z"}
    repo.fake.add_container("wiki-web-1", project="wiki", service="web", labels={**old, SERVICE_HASH_LABEL: "hw"})
    repo.fake.add_container("wiki-db-1", project="wiki", service="db", labels={**old, SERVICE_HASH_LABEL: "hd"})
    existing = ctx.engine_for(service).containers(project="wiki")
    labels, unchanged = _labels(source, "digest", {"web": "hw", "db": "hd"}, existing)
    assert unchanged and labels["web"][COMMIT_LABEL] == "old" and labels["db"][TIME_LABEL] == old[TIME_LABEL]
    labels, unchanged = _labels(source, "digest", {"web": "hw", "db": "hd-new"}, existing)
    assert not unchanged
    assert labels["web"][COMMIT_LABEL] == "old" and labels["db"][COMMIT_LABEL] == repo.head()
    assert labels["db"][SERVICE_HASH_LABEL] == "hd-new"


def test_images_recorded_with_their_digests(repo):
    engine = repo.context().engine_at(_endpoint())
    repo.fake.add_image("example/wiki:2.5", WEB_ID, digests=["example/wiki@sha256:" + "9" * 64])
    repo.fake.add_container("wiki-web-1", project="wiki", service="web", image="example/wiki:2.5", image_id=WEB_ID)
    recorded = _images(engine, engine.containers(project="wiki"), {"web": "example/wiki:2.5"}, {"web": "hw"})
    assert recorded == {
        "web": {
            "image": "example/wiki:2.5",
            "id": WEB_ID,
            "digests": ["example/wiki@sha256:" + "9" * 64],
            "config": "hw",
        }
    }


def test_external_networks_created_once(repo):
    engine = repo.context().engine_at(_endpoint())
    repo.fake.network_names["proxy"] = "bridge"
    assert engine.ensure_networks(["proxy", "backend"]) == ["backend"]
    assert engine.ensure_networks(["proxy", "backend"]) == []
    assert repo.fake.created_networks == ["backend"]


def test_one_engine_per_endpoint_and_the_unreachable_error(repo):
    ctx = repo.context()
    assert ctx.engine_for(ctx.service("wiki")) is ctx.engine_for(ctx.service("pad"))
    repo.fake.reachable = False
    with pytest.raises(DarseError, match="cannot reach the Docker engine"):
        repo.context().engine_for(ctx.service("wiki"))


def _endpoint() -> Endpoint:
    return Endpoint()
