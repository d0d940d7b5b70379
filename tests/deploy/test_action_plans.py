"""What the actions refuse before they change anything, as the command line and the dashboard both ask
the library: a rollback to the revision deployed now, a down with nothing to bring down, a deploy whose
secret file is missing. A real Git repository and history, the in-memory engine (Compose reads files)."""

from __future__ import annotations

import pytest

from darse.deploy import commands
from darse.deploy.rollback import deployed_now, rollback_targets
from darse.errors import DarseError
from darse.history import FAILED

from helpers.deploy_repo import Repo, make_repo


@pytest.fixture
def repo(tmp_path, monkeypatch) -> Repo:
    return make_repo(tmp_path, monkeypatch)


def _history(repo: Repo):
    """wiki: r1 up, r2 up, r2 restart (the deployed one repeated), r3 failed; pad: r1 up."""
    ctx = repo.context()
    r1 = repo.head()
    r2 = repo.commit({"wiki/notes.txt": "two\n"})
    r3 = repo.commit({"wiki/notes.txt": "three\n"})
    repo.record(ctx, "wiki", r1, config_hash="A")
    repo.record(ctx, "wiki", r2, config_hash="B")
    repo.record(ctx, "wiki", r2, config_hash="B", action="restart")
    repo.record(ctx, "wiki", r3, config_hash="C", outcome=FAILED)
    repo.record(ctx, "pad", r1, config_hash="P")
    return ctx, (r1, r2, r3)


def test_a_rollback_to_the_revision_deployed_now_is_refused(repo: Repo) -> None:
    ctx, (r1, r2, _r3) = _history(repo)
    for to in (r2, r2[:12]):
        with pytest.raises(DarseError, match=rf"wiki: {r2[:12]} is the revision deployed now") as refused:
            commands.plan_rollback(ctx, "wiki", to=to)
        assert "darse history wiki" in refused.value.hint
        with pytest.raises(DarseError, match="is the revision deployed now"):
            commands.rollback(ctx, "wiki", to=to)  # the command line's `darse rollback --to`
    plan = commands.plan_rollback(ctx, "wiki", to=r1)
    assert (plan.current, plan.target) == (r2, r1)


def test_the_history_rows_one_can_roll_back_to(repo: Repo) -> None:
    ctx, (r1, _r2, _r3) = _history(repo)
    plan = commands.plan_rollback(ctx, "wiki")
    assert plan.targets == [r1]  # not r2 (deployed now, also its restart), not the failed r3
    assert [d.revision for d in plan.choices] == [r1]
    assert plan.to_dict()["targets"] == [r1]


def test_after_a_down_every_successful_deploy_is_a_target(repo: Repo) -> None:
    ctx, (r1, r2, _r3) = _history(repo)
    repo.record(ctx, "wiki", r2, config_hash="", action="down")
    assert deployed_now(ctx, "wiki") is None
    assert rollback_targets(ctx.history.successes("wiki"), None) == [r2, r1]
    assert commands.plan_rollback(ctx, "wiki", to=r2).target == r2  # brings it back: not refused


def test_a_dirty_deployment_of_a_revision_is_not_that_revision(repo: Repo) -> None:
    ctx, (_r1, r2, _r3) = _history(repo)
    dirty = repo.record(ctx, "wiki", r2, config_hash="D")
    ctx.history.db.execute("UPDATE deployments SET dirty = 1 WHERE id = ?", (dirty.id,))
    assert commands.plan_rollback(ctx, "wiki", to=r2).target == r2
    assert r2 in commands.plan_rollback(ctx, "wiki").targets


def test_a_down_with_nothing_to_bring_down_is_refused_and_not_recorded(repo: Repo) -> None:
    ctx = repo.context()
    with pytest.raises(DarseError, match="nothing to bring down: no container of wiki runs") as refused:
        commands.down(ctx, "wiki")
    assert "darse up wiki" in refused.value.hint
    assert ctx.history.list("wiki") == []
    assert commands.plan_down(ctx, "wiki").containers == []


def test_a_deploy_with_a_missing_secret_file_is_refused_by_the_preflight_not_by_compose(repo: Repo) -> None:
    compose = "services:\n  web:\n    image: example/wiki:2.5\n    env_file:\n      - ./secrets/wiki.secrets\n"
    repo.commit({"wiki/compose.yaml": compose, "wiki/secrets/wiki.secrets.example": "DB_PASSWORD=\n"})
    ctx = repo.context()
    plan = commands.plan_deploy(ctx, "wiki")
    assert not plan.resolved and plan.diff.diff == ""
    refusal = plan.refusals[0]  # (lint may refuse too)
    assert refusal.startswith("wiki: env_file wiki/secrets/wiki.secrets of service web does not exist")
    assert "darse secrets init wiki" in refusal
    assert "stat " not in refusal and "docker compose config" not in refusal
    # `darse diff` says the same instead of Compose's error
    with pytest.raises(DarseError, match=r"wiki/secrets/wiki\.secrets of service web does not exist") as refused:
        commands.diff(ctx, "wiki")
    assert refused.value.hint == "darse secrets init wiki"
    # and `darse up`
    with pytest.raises(DarseError, match=r"wiki/secrets/wiki\.secrets of service web does not exist"):
        commands.up(ctx, ["wiki"])
    assert ctx.history.list("wiki") == []
