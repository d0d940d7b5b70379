"""`darse pull`'s library and its Git questions, on real repositories: a bare origin, the host's clone,
and a developer's clone that pushes the commits the host then takes."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from darse.deploy.pull import plan_pull, pull, recent_pulls
from darse.errors import DarseError
from darse.git import CannotPull, FetchFailed, Git

from helpers.clones import COMPOSE, Clones, git, make_clones


@pytest.fixture
def clones(tmp_path: Path) -> Clones:
    return make_clones(tmp_path)


def test_the_plan_lists_the_commits_to_come_and_the_services_they_touch(clones: Clones) -> None:
    first = clones.push({"wiki/compose.yaml": COMPOSE + "    restart: always\n"}, "wiki: restart always")
    second = clones.push({"darse.toml": "# a comment\n", "forum/compose.yaml": COMPOSE}, "forum: a new service")
    third = clones.push({"blog/README.md": "# Blog\n", "wiki/notes/a.md": "a\n"}, "docs for blog and wiki")
    before = clones.head()

    plan = plan_pull(clones.host)

    assert (plan.branch, plan.remote, plan.upstream) == ("main", "origin", "origin/main")
    assert (plan.head, plan.target, plan.ahead, plan.behind) == (before, third, 0, 3)
    assert [c.hash for c in plan.commits] == [third, second, first]  # newest first
    subjects = ["docs for blog and wiki", "forum: a new service", "wiki: restart always"]
    assert [c.subject for c in plan.commits] == subjects
    assert {c.author for c in plan.commits} == {"Ada Admin"} and all(c.date for c in plan.commits)
    assert [c.services for c in plan.commits] == [("blog", "wiki"), ("forum",), ("wiki",)]
    assert plan.commits[0].files == ("blog/README.md", "wiki/notes/a.md")
    assert (plan.services, plan.new_services, plan.outside) == (["blog", "wiki"], ["forum"], ["darse.toml"])
    assert plan.ready and plan.refusals == [] and plan.fetched and plan.last_fetch is not None
    assert clones.head() == before  # planning moves nothing


def test_without_a_fetch_the_plan_is_as_of_the_last_one(clones: Clones) -> None:
    clones.push({"wiki/a.txt": "a\n"}, "wiki: a")
    stale = plan_pull(clones.host, fetch=False)
    assert stale.behind == 0 and not stale.ready and stale.commits == []
    assert plan_pull(clones.host, fetch=True).behind == 1
    assert plan_pull(clones.host, fetch=False).behind == 1  # the fetch updated origin/main


def test_pull_fast_forwards_to_the_planned_commit_and_the_reflog_says_who(clones: Clones) -> None:
    target = clones.push({"wiki/a.txt": "a\n"}, "wiki: a")
    plan = plan_pull(clones.host)
    later = clones.push({"blog/b.txt": "b\n"}, "blog: b")  # pushed after the plan was seen
    git(clones.host, "fetch", "-q")
    events = []

    result = pull(clones.host, plan, requested_by="alice (dashboard)", listener=events.append)

    assert clones.head() == target != later  # exactly what the plan showed, not what came since
    assert (clones.host / "wiki/a.txt").read_text() == "a\n" and not (clones.host / "blog/b.txt").exists()
    assert (result.old, result.new, result.commits, result.services) == (plan.head, target, 1, ["wiki"])
    assert result.summary_lines()[0].startswith(f"✔ main: fast-forwarded to origin/main {target[:12]}")
    assert events[-1].done and any("fast-forwarding main" in e.detail for e in events)
    pulls = recent_pulls(clones.host)
    assert [(p.commit, p.by) for p in pulls] == [(target, "alice (dashboard)")]
    assert "darse pull by alice (dashboard)" in git(clones.host, "reflog", "-1")


def test_a_diverged_branch_is_refused_with_a_hint(clones: Clones) -> None:
    clones.push({"wiki/a.txt": "a\n"}, "upstream")
    (clones.host / "local.txt").write_text("l\n")
    git(clones.host, "add", "local.txt")
    git(clones.host, "commit", "-qm", "a local commit")
    before = clones.head()

    plan = plan_pull(clones.host)

    assert (plan.ahead, plan.behind) == (1, 1) and plan.diverged and not plan.ready
    assert "diverged" in plan.refusals[0].message and "git rebase origin/main" in plan.refusals[0].hint
    with pytest.raises(CannotPull, match="diverged") as refused:
        pull(clones.host, plan)
    assert refused.value.hint and clones.head() == before


def test_no_upstream_and_a_detached_head_are_errors_with_hints(clones: Clones) -> None:
    git(clones.host, "branch", "--unset-upstream")
    with pytest.raises(CannotPull, match="branch main has no upstream") as no_upstream:
        plan_pull(clones.host)
    assert "--set-upstream-to=origin/main" in no_upstream.value.hint
    git(clones.host, "remote", "rename", "origin", "upstream")
    with pytest.raises(CannotPull, match="no upstream") as other_name:
        plan_pull(clones.host)
    assert "--set-upstream-to=upstream/main" in other_name.value.hint  # the remote that exists
    git(clones.host, "remote", "remove", "upstream")
    with pytest.raises(CannotPull, match="has no remote") as no_remote:
        plan_pull(clones.host)
    assert "git remote add origin URL" in no_remote.value.hint
    git(clones.host, "switch", "-q", "--detach", "HEAD")
    with pytest.raises(CannotPull, match="detached HEAD") as detached:
        plan_pull(clones.host)
    assert "git switch" in detached.value.hint


def test_uncommitted_changes_the_pull_would_overwrite_block_it(clones: Clones) -> None:
    clones.push({"wiki/compose.yaml": COMPOSE + "    restart: always\n", "blog/new.txt": "n\n"}, "wiki and blog")
    (clones.host / "wiki/compose.yaml").write_text(COMPOSE + "    # a local edit\n")
    (clones.host / "blog/new.txt").write_text("untracked here\n")  # untracked, and the pull brings one
    (clones.host / "elsewhere.txt").write_text("not in the way\n")
    before = clones.head()

    plan = plan_pull(clones.host)

    assert plan.blocking == ["blog/new.txt", "wiki/compose.yaml"] and not plan.ready
    with pytest.raises(CannotPull, match=r"uncommitted changes to files the pull changes: blog/new\.txt") as refused:
        pull(clones.host, plan)
    assert "git stash" in refused.value.hint
    assert clones.head() == before and "a local edit" in (clones.host / "wiki/compose.yaml").read_text()


def test_uncommitted_changes_elsewhere_do_not_block(clones: Clones) -> None:
    target = clones.push({"wiki/a.txt": "a\n"}, "wiki: a")
    (clones.host / "blog/compose.yaml").write_text(COMPOSE + "    # a local edit\n")
    plan = plan_pull(clones.host)
    assert plan.ready and plan.blocking == []
    pull(clones.host, plan)
    assert clones.head() == target and "a local edit" in (clones.host / "blog/compose.yaml").read_text()


def test_a_checkout_that_moved_since_the_plan_is_refused(clones: Clones) -> None:
    clones.push({"wiki/a.txt": "a\n"}, "one")
    plan = plan_pull(clones.host)
    clones.push({"wiki/b.txt": "b\n"}, "two")
    git(clones.host, "pull", "-q", "--ff-only")  # someone pulled by hand meanwhile
    with pytest.raises(CannotPull, match="moved since the plan"):
        pull(clones.host, plan)


def test_an_up_to_date_checkout_has_nothing_to_pull(clones: Clones) -> None:
    plan = plan_pull(clones.host)
    assert (plan.behind, plan.ready, plan.commits) == (0, False, [])
    with pytest.raises(CannotPull, match="up to date"):
        pull(clones.host, plan)


def test_a_failed_fetch_names_the_remote_never_its_credentials(clones: Clones) -> None:
    url = "http://deploy-bot:s3cr3t-t0ken@127.0.0.1:9/services.git"  # port 9: nothing listens
    git(clones.host, "remote", "set-url", "origin", url)
    with pytest.raises(FetchFailed) as failed:
        plan_pull(clones.host)
    text = failed.value.one_line()
    assert text.startswith("could not fetch from origin")
    assert "s3cr3t" not in text and "deploy-bot" not in text


def test_a_failed_fetch_is_not_the_last_fetch(clones: Clones) -> None:
    """git empties FETCH_HEAD when a fetch starts: its time then says when the fetch failed, not when the
    plan's upstream was last seen; the plan must not claim to be up to date as of then."""
    assert plan_pull(clones.host).last_fetch is not None
    git(clones.host, "remote", "set-url", "origin", "http://127.0.0.1:9/services.git")
    with pytest.raises(FetchFailed):
        plan_pull(clones.host)
    assert plan_pull(clones.host, fetch=False).last_fetch is None


def test_a_broken_darse_toml_does_not_keep_the_fix_out(clones: Clones) -> None:
    (clones.host / "darse.toml").write_text("this is = = not toml\n")
    git(clones.host, "commit", "-qam", "broken")  # committed here: HEAD has it
    git(clones.host, "push", "-q", "origin", "main")
    git(clones.dev, "pull", "-q")
    fix = clones.push({"darse.toml": "# fixed\n"}, "fix darse.toml")
    plan = plan_pull(clones.host)
    assert plan.ready and plan.outside == ["darse.toml"] and "not valid TOML" in plan.model_problem
    pull(clones.host, plan)
    assert clones.head() == fix


def test_not_a_checkout(tmp_path: Path) -> None:
    with pytest.raises(DarseError, match="not in a Git work tree"):
        plan_pull(tmp_path)


def test_a_remote_that_never_answers_is_given_up_within_the_fetch_bound(clones: Clones) -> None:
    """A server that accepts and stays silent: the fetch is killed at its bound, and says so by name."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        accepted: list[socket.socket] = []
        threading.Thread(target=lambda: accepted.append(server.accept()[0]), daemon=True).start()
        port = server.getsockname()[1]
        git(clones.host, "remote", "set-url", "origin", f"http://bot:s3cr3t@127.0.0.1:{port}/x.git")
        try:
            with pytest.raises(FetchFailed) as failed:
                Git(clones.host).fetch("origin", timeout=1.0)
        finally:
            for connection in accepted:
                connection.close()
    assert failed.value.message == "fetching from origin took longer than 1 s"
    assert "s3cr3t" not in failed.value.one_line()


def test_a_service_at_the_repository_root_is_named(tmp_path: Path) -> None:
    clones = make_clones(tmp_path, {"compose.yaml": COMPOSE})
    clones.push({"compose.yaml": COMPOSE + "    init: true\n", "notes/a.md": "a\n"}, "root service")
    plan = plan_pull(clones.host)
    name = clones.host.name  # a service at the root is named after its folder
    assert plan.services == [name] and plan.outside == [] and plan.commits[0].services == (name,)


def test_a_hostile_upstreams_huge_subject_is_cut_by_git(clones: Clones) -> None:
    """Every visitor of the checkout page reads the plan: a commit of the upstream with a subject of
    megabytes must not make each page (and each `git log` read) that large."""
    clones.push({"wiki/a.md": "a\n"}, "<b>deploy me</b> " + "x" * 100_000)
    plan = plan_pull(clones.host)
    (commit,) = plan.commits
    assert commit.subject.startswith("<b>deploy me</b> xxx") and commit.subject.endswith("..")
    assert len(commit.subject) <= 1000 and commit.author == "Ada Admin"
