"""`darse pull` from the command line, on a real clone of a bare origin: the plan as people and scripts
read it, the confirmation, the fast-forward, and the refusals (exit 2 with a hint)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers.cli import run_darse
from helpers.clones import COMPOSE, Clones, git, make_clones
from helpers.golden import check


@pytest.fixture
def clones(tmp_path: Path) -> Clones:
    return make_clones(tmp_path)


def test_dry_run_shows_the_commits_and_services_and_moves_nothing(clones: Clones) -> None:
    target = clones.push({"wiki/compose.yaml": COMPOSE + "    restart: always\n"}, "wiki: restart always")
    before = clones.head()
    result = run_darse("pull", "--dry-run", cwd=clones.host / "wiki")  # from any folder of the checkout
    assert result.exit_code == 0, result.output
    assert f"main at {before[:12]}: 1 commit to pull from origin/main {target[:12]}" in result.stdout
    assert f"{target[:12]} wiki: restart always (Ada Admin," in result.stdout
    assert "services changed: wiki" in result.stdout
    assert clones.head() == before


def test_yes_pulls_and_says_which_services_to_deploy(clones: Clones) -> None:
    target = clones.push({"blog/a.txt": "a\n", "darse.toml": "# c\n"}, "blog: a")
    result = run_darse("pull", "--yes", cwd=clones.host)
    assert result.exit_code == 0, result.output
    assert clones.head() == target
    assert f"✔ main: fast-forwarded to origin/main {target[:12]} (1 commit" in result.stdout
    assert "services changed: blog; deploy them with darse up" in result.stdout
    assert "outside any service: darse.toml" in result.stdout
    assert "darse pull by " in git(clones.host, "reflog", "-1")


def test_json_is_one_document_with_the_plan_and_the_result(clones: Clones) -> None:
    target = clones.push({"forum/compose.yaml": COMPOSE}, "forum")
    preview = json.loads(run_darse("pull", "--dry-run", "--json", cwd=clones.host).stdout)
    assert preview["pulled"] is None
    assert (preview["plan"]["target"], preview["plan"]["new_services"], preview["plan"]["ready"]) == (
        target,
        ["forum"],
        True,
    )
    assert [c["subject"] for c in preview["plan"]["commits"]] == ["forum"]
    done = run_darse("pull", "--yes", "--json", cwd=clones.host)
    assert done.exit_code == 0, done.output
    document = json.loads(done.stdout)
    assert document["pulled"]["new"] == target and document["pulled"]["commits"] == 1
    assert clones.head() == target


def test_without_yes_and_without_a_terminal_nothing_moves(clones: Clones) -> None:
    clones.push({"wiki/a.txt": "a\n"}, "wiki: a")
    before = clones.head()
    result = run_darse("pull", cwd=clones.host)
    assert result.exit_code == 2
    assert "needs confirmation (hint: review them with darse pull --dry-run, then pass --yes)" in result.stderr
    assert clones.head() == before


def test_up_to_date(clones: Clones) -> None:
    result = run_darse("pull", "--yes", cwd=clones.host)
    assert result.exit_code == 0 and "main is up to date with origin/main (fetched just now)" in result.stdout


def test_a_diverged_branch_exits_1_in_a_dry_run_and_2_when_asked_to_pull(clones: Clones) -> None:
    clones.push({"wiki/a.txt": "a\n"}, "upstream")
    (clones.host / "l.txt").write_text("l\n")
    git(clones.host, "add", "l.txt")
    git(clones.host, "commit", "-qm", "local")
    preview = run_darse("pull", "--dry-run", cwd=clones.host)
    assert preview.exit_code == 1 and "refused: the branch main and origin/main have diverged" in preview.stdout
    refused = run_darse("pull", "--yes", cwd=clones.host)
    assert refused.exit_code == 2 and "have diverged" in refused.stderr and "hint: " in refused.stderr


def test_a_fetch_failure_keeps_the_remote_s_credentials_out(clones: Clones) -> None:
    git(clones.host, "remote", "set-url", "origin", "https://bot:hunter2-token@127.0.0.1:9/x.git")
    result = run_darse("pull", "--dry-run", cwd=clones.host)
    assert result.exit_code == 2 and "could not fetch from origin" in result.stderr
    assert "hunter2" not in result.output and "bot:" not in result.output


def test_the_json_documents_hold_to_their_golden_files(clones: Clones, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUDO_USER", "golden-admin")  # who pulled, as the history would name them
    clones.push({"wiki/compose.yaml": COMPOSE + "    restart: always\n", "darse.toml": "# c\n"}, "wiki: restart")
    clones.push({"forum/compose.yaml": COMPOSE}, "forum: new")
    replacements = {str(clones.host.parent): "<TMP>"}
    check("pull-dry-run", run_darse("pull", "--dry-run", "--json", cwd=clones.host).stdout, replacements)
    check("pull", run_darse("pull", "--yes", "--json", cwd=clones.host).stdout, replacements)
