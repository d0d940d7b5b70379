"""Which deployment `darse rollback` goes back to, from the history and a real Git repository (no engine)."""

from __future__ import annotations

import pytest

from darse.deploy.rollback import choose
from darse.errors import DarseError
from darse.history import FAILED

from helpers.deploy_repo import Repo, make_repo


@pytest.fixture
def repo(tmp_path, monkeypatch) -> Repo:
    return make_repo(tmp_path, monkeypatch)


def _three_deployments(repo):
    """r1 (config A), r2 (config A again), r3 (config B), and a failed r4 on top."""
    ctx = repo.context()
    revisions = [repo.head()]
    for number in (2, 3, 4):
        revisions.append(repo.commit({"wiki/notes.txt": f"change {number}\n"}))
    repo.record(ctx, "wiki", revisions[0], config_hash="A")
    repo.record(ctx, "wiki", revisions[1], config_hash="A")
    repo.record(ctx, "wiki", revisions[2], config_hash="B")
    repo.record(ctx, "wiki", revisions[3], config_hash="C", outcome=FAILED)
    repo.record(ctx, "pad", revisions[0], config_hash="P")  # another project: never chosen for wiki
    return ctx, revisions


def test_one_step_back_is_the_previous_good_configuration(repo):
    ctx, revisions = _three_deployments(repo)
    commit, recorded = choose(ctx, ctx.service("wiki"), None, None)
    # the failed deployment is skipped; r1 and r2 ran the same configuration: the newest of them
    assert commit == revisions[1]
    assert recorded is not None and (recorded.revision, recorded.config_hash) == (revisions[1], "A")


def test_more_steps_than_recorded_is_refused(repo):
    ctx, _ = _three_deployments(repo)
    with pytest.raises(DarseError, match=r"wiki: only 1 earlier deployment\(s\) recorded"):
        choose(ctx, ctx.service("wiki"), None, 2)
    with pytest.raises(DarseError, match="--steps must be 1 or more"):
        choose(ctx, ctx.service("wiki"), None, 0)


def test_to_a_revision_finds_its_recorded_deployment(repo):
    ctx, revisions = _three_deployments(repo)
    commit, recorded = choose(ctx, ctx.service("wiki"), revisions[0][:10], None)
    assert commit == revisions[0] and recorded is not None and recorded.config_hash == "A"
    commit, recorded = choose(ctx, ctx.service("wiki"), revisions[3], None)  # only a failed deployment of it
    assert (commit, recorded) == (revisions[3], None)


def test_a_recorded_commit_git_no_longer_has_is_refused(repo):
    ctx = repo.context()
    repo.record(ctx, "wiki", "f" * 40, config_hash="old")
    repo.record(ctx, "wiki", repo.head(), config_hash="new")
    with pytest.raises(DarseError, match="is not in this repository"):
        choose(ctx, ctx.service("wiki"), None, 1)
